//! Operating-system catalogers: OS detection from release files and the installed-package
//! databases of dpkg, apk and rpm.
//!
//! Every parser here has a pure `parse_*(&[u8])` entry point so it can be fuzzed without
//! a filesystem; the [`Cataloger`] wrappers only read bounded input and pick paths.

pub mod apk;
pub mod dpkg;
pub mod release;
pub mod rpm;

use crate::Cataloger;

/// All OS catalogers: OS detection, dpkg, apk and the rpm database readers.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(release::OsReleaseCataloger),
        Box::new(dpkg::DpkgCataloger),
        Box::new(apk::ApkCataloger),
        Box::new(rpm::RpmDbCataloger),
        Box::new(rpm::manifest::RpmManifestCataloger),
    ]
}

/// How authoritative an OS-detection file is; lower wins. `None` for paths that are not
/// OS-detection files.
///
/// `os-release` is the standard, machine-readable source and names derivatives correctly
/// (a Rocky image also ships `redhat-release`), so it comes first; distro-specific release
/// files next, with the derivative's own file ahead of the `redhat-release`/`system-release`
/// it also ships; `lsb-release` after that; `debian_version` last because Ubuntu ships it
/// too, with Debian's codename in it.
pub fn os_release_priority(path: &str) -> Option<u8> {
    release::priority(path)
}
