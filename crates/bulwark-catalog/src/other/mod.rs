//! Smaller ecosystems: Conan, Swift, CocoaPods, Dart, Elixir, Julia and Conda, plus the
//! plumbing ([`support`]) the Ruby, PHP and .NET catalogers share.

pub mod cocoapods;
pub mod conan;
pub mod conda;
pub mod dart;
pub mod elixir;
pub mod julia;
pub mod support;
pub mod swift;

#[cfg(test)]
pub(crate) mod expected;

use crate::util::{file_name, parent};
use crate::Cataloger;
use support::FnCataloger;

/// The catalogers of the smaller ecosystems: `conan-lock`, `swift-resolved`,
/// `cocoapods-lock`, `pubspec-lock`, `mix-lock`, `julia-manifest`, `conda-meta`,
/// `conda-environment`.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        FnCataloger::boxed("conan-lock", |p| file_name(p) == "conan.lock", conan::parse),
        FnCataloger::boxed(
            "swift-resolved",
            |p| file_name(p) == "Package.resolved",
            swift::parse,
        ),
        FnCataloger::boxed(
            "cocoapods-lock",
            |p| file_name(p) == "Podfile.lock",
            cocoapods::parse,
        ),
        FnCataloger::boxed(
            "pubspec-lock",
            |p| file_name(p) == "pubspec.lock",
            dart::parse,
        ),
        FnCataloger::boxed("mix-lock", |p| file_name(p) == "mix.lock", elixir::parse),
        FnCataloger::boxed("julia-manifest", wants_julia, julia::parse),
        FnCataloger::boxed("conda-meta", wants_conda_meta, conda::parse_meta),
        FnCataloger::boxed(
            "conda-environment",
            wants_conda_env,
            conda::parse_environment,
        ),
    ]
}

/// `Manifest.toml`, `JuliaManifest.toml` and the versioned `Manifest-v1.11.toml`.
fn wants_julia(path: &str) -> bool {
    let n = file_name(path);
    matches!(n, "Manifest.toml" | "JuliaManifest.toml")
        || (n.starts_with("Manifest-v") || n.starts_with("JuliaManifest-v")) && n.ends_with(".toml")
}

fn wants_conda_meta(path: &str) -> bool {
    file_name(path).ends_with(".json") && file_name(parent(path)) == "conda-meta"
}

fn wants_conda_env(path: &str) -> bool {
    matches!(file_name(path), "environment.yml" | "environment.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CatalogInput, ScanMode};

    #[test]
    fn other_wants_and_ids() {
        let c = catalogers();
        let m = ScanMode::Source;
        let ids: Vec<_> = c.iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            [
                "conan-lock",
                "swift-resolved",
                "cocoapods-lock",
                "pubspec-lock",
                "mix-lock",
                "julia-manifest",
                "conda-meta",
                "conda-environment"
            ]
        );
        assert!(c[5].wants("proj/Manifest-v1.11.toml", 1, 0o100644, m));
        assert!(!c[5].wants("proj/Project.toml", 1, 0o100644, m));
        assert!(c[6].wants("opt/conda/conda-meta/zlib-1.2.13-h1.json", 1, 0o100644, m));
        assert!(!c[6].wants("opt/conda/conda-meta/history", 1, 0o100644, m));
        assert!(c[7].wants("environment.yml", 1, 0o100644, m));
    }

    #[test]
    fn oversized_input_is_refused() {
        let c = catalogers();
        let mut cur = std::io::Cursor::new(Vec::<u8>::new());
        let err = c[0]
            .catalog(CatalogInput {
                path: "conan.lock",
                size: support::DEFAULT_LIMIT + 1,
                mode: 0o100644,
                reader: &mut cur,
                spool_dir: None,
            })
            .unwrap_err();
        assert!(matches!(err, crate::CatalogError::TooLarge { .. }));
    }

    fn fixture_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                fixture_files(&p, out);
            } else if !p.to_string_lossy().ends_with(".expected.json") {
                out.push(p);
            }
        }
    }

    /// Every cataloger of this brief over every truncation of every fixture in its
    /// folders: the result may be an error, but nothing may panic.
    #[test]
    fn truncated_fixtures_never_panic() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let mut files = Vec::new();
        for d in [
            "ruby",
            "php",
            "dotnet",
            "conan",
            "swift",
            "cocoapods",
            "dart",
            "elixir",
            "julia",
            "conda",
        ] {
            fixture_files(std::path::Path::new(&expected::fixture_path(d)), &mut files);
        }
        assert!(files.len() > 40, "found {} fixtures", files.len());
        let cats: Vec<_> = crate::ruby::catalogers()
            .into_iter()
            .chain(crate::php::catalogers())
            .chain(crate::dotnet::catalogers())
            .chain(catalogers())
            .collect();
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let step = (data.len() / 40).max(1);
            for cut in (0..=data.len()).step_by(step) {
                let part = data.get(..cut).unwrap_or_default().to_vec();
                for c in &cats {
                    let mut cur = std::io::Cursor::new(part.clone());
                    let _ = c.catalog(CatalogInput {
                        path: "x",
                        size: part.len() as u64,
                        mode: 0o100644,
                        reader: &mut cur,
                        spool_dir: None,
                    });
                }
            }
        }
    }
}
