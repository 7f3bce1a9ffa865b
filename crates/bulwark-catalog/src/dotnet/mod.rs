//! .NET NuGet packages: `*.deps.json`, `packages.lock.json`, `packages.config`,
//! central package management `*Packages.props`, and `.nuspec` files of the NuGet
//! global packages folder.

pub mod deps_json;
pub mod nuspec;
pub mod packages_config;
pub mod packages_lock;
pub mod props;
pub mod xml;

use crate::other::support::FnCataloger;
use crate::util::{file_name, parent};
use crate::Cataloger;

/// The .NET catalogers: `dotnet-deps`, `nuget-lock`, `nuget-config`, `nuget-props`,
/// `nuspec`.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        FnCataloger::boxed("dotnet-deps", wants_deps_json, deps_json::parse),
        FnCataloger::boxed(
            "nuget-lock",
            |p| file_name(p) == "packages.lock.json",
            packages_lock::parse,
        ),
        FnCataloger::boxed(
            "nuget-config",
            |p| file_name(p) == "packages.config",
            packages_config::parse,
        ),
        FnCataloger::boxed("nuget-props", wants_props, props::parse),
        FnCataloger::boxed("nuspec", wants_nuspec, nuspec::parse),
    ]
}

fn wants_deps_json(path: &str) -> bool {
    let n = file_name(path);
    n.len() > ".deps.json".len() && n.ends_with(".deps.json")
}

fn wants_props(path: &str) -> bool {
    file_name(path)
        .to_ascii_lowercase()
        .ends_with("packages.props")
}

/// The global packages folder lays packages out as `<id>/<version>/<id>.nuspec` with a
/// lower-cased id; requiring that shape (rather than a `.nuget` component, which
/// `NUGET_PACKAGES` can relocate) avoids picking up project sources' `.nuspec` templates.
fn wants_nuspec(path: &str) -> bool {
    let Some(stem) = file_name(path).strip_suffix(".nuspec") else {
        return false;
    };
    let version_dir = parent(path);
    let id_dir = file_name(parent(version_dir));
    !stem.is_empty() && !version_dir.is_empty() && id_dir == stem
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScanMode;

    #[test]
    fn dotnet_wants() {
        let c = catalogers();
        let m = ScanMode::Image;
        assert!(c[0].wants("app/MyApp.deps.json", 1, 0o100644, m));
        assert!(!c[0].wants("app/.deps.json", 1, 0o100644, m));
        assert!(c[1].wants("src/packages.lock.json", 1, 0o100644, m));
        assert!(c[2].wants("src/packages.config", 1, 0o100644, m));
        assert!(c[3].wants("Directory.Packages.props", 1, 0o100644, m));
        assert!(c[3].wants("src/packages.props", 1, 0o100644, m));
        assert!(c[4].wants(
            "root/.nuget/packages/newtonsoft.json/13.0.1/newtonsoft.json.nuspec",
            1,
            0o100644,
            m
        ));
        assert!(!c[4].wants("src/MyLib/MyLib.nuspec", 1, 0o100644, m));
    }
}
