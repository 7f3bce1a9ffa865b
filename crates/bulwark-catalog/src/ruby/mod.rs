//! Ruby gems: Bundler lock files and installed gem specifications.

pub mod gemfile_lock;
pub mod gemspec;

use crate::other::support::FnCataloger;
use crate::util::{file_name, parent};
use crate::Cataloger;

/// The Ruby catalogers: `gemfile-lock` and `gemspec`.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        FnCataloger::boxed("gemfile-lock", wants_gemfile_lock, gemfile_lock::parse),
        FnCataloger::boxed("gemspec", wants_gemspec, gemspec::parse),
    ]
}

fn wants_gemfile_lock(path: &str) -> bool {
    matches!(file_name(path), "Gemfile.lock" | "gems.locked")
}

/// Only installed specs: RubyGems writes them to `<gem home>/specifications/` (default
/// gems bundled with Ruby to `specifications/default/`), while a `*.gemspec` elsewhere is
/// usually a project's own, non-literal source.
fn wants_gemspec(path: &str) -> bool {
    let dir = parent(path);
    let in_specs = match file_name(dir) {
        "specifications" => true,
        "default" => file_name(parent(dir)) == "specifications",
        _ => false,
    };
    file_name(path).ends_with(".gemspec") && in_specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CatalogInput, ScanMode};

    #[test]
    fn ruby_wants_and_catalog_through_trait() {
        let cats = catalogers();
        let lock = &cats[0];
        assert!(lock.wants("app/Gemfile.lock", 10, 0o100644, ScanMode::Source));
        assert!(!lock.wants("app/Gemfile", 10, 0o100644, ScanMode::Source));
        let spec = &cats[1];
        assert!(spec.wants(
            "usr/local/bundle/specifications/rake-13.0.3.gemspec",
            10,
            0o100644,
            ScanMode::Image
        ));
        assert!(spec.wants(
            "usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec",
            10,
            0o100644,
            ScanMode::Image
        ));
        assert!(!spec.wants("src/rake/rake.gemspec", 10, 0o100644, ScanMode::Image));
        assert!(!spec.wants("src/default/rake.gemspec", 10, 0o100644, ScanMode::Image));

        let data = b"GEM\n  specs:\n    rack (2.2.3)\n".to_vec();
        let mut cur = std::io::Cursor::new(data.clone());
        let out = lock
            .catalog(CatalogInput {
                path: "Gemfile.lock",
                size: data.len() as u64,
                mode: 0o100644,
                reader: &mut cur,
                spool_dir: None,
            })
            .unwrap();
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].found_by, "gemfile-lock");
    }
}
