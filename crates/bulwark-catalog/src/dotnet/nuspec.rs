//! `.nuspec` manifests in the NuGet global packages folder
//! (`~/.nuget/packages/<id>/<version>/<id>.nuspec`): one package each.

use super::xml::{attr, walk, Node};
use crate::CatalogError;
use bulwark_core::{Ecosystem, Package};

const FORMAT: &str = "nuspec";

/// Parses a `.nuspec`. Only `<license type="expression">` gives a licence: a `file`
/// licence names a file inside the package, and `licenseUrl` is a link, not an identifier.
pub fn parse(data: &[u8]) -> Result<Vec<Package>, CatalogError> {
    let mut id = None;
    let mut version = None;
    let mut license = None;
    let mut license_is_expression = false;
    walk(data, FORMAT, |node| {
        match node {
            Node::Element { stack, attrs, .. } => {
                if let [_, m, l] = stack {
                    if m == "metadata" && l == "license" {
                        license_is_expression =
                            attr(attrs, "type").is_some_and(|t| t == "expression");
                    }
                }
            }
            Node::Text { stack, text } => {
                if let [root, m, field] = stack {
                    if root != "package" || m != "metadata" {
                        return Ok(());
                    }
                    match field.as_str() {
                        "id" => id = Some(text.to_string()),
                        // SemVer 2 build metadata (`5.7.0+b804bf4`) is not part of a
                        // NuGet package's identity; advisories and the folder name use
                        // the version without it.
                        "version" => {
                            let v = text.split_once('+').map_or(text, |(v, _)| v);
                            version = Some(v.trim().to_string());
                        }
                        "license" if license_is_expression => license = Some(text.to_string()),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    })?;
    let (Some(id), Some(version)) = (id, version) else {
        return Err(CatalogError::parse(
            FORMAT,
            "metadata lacks <id> or <version>",
        ));
    };
    if id.is_empty() || version.is_empty() {
        return Err(CatalogError::parse(FORMAT, "empty <id> or <version>"));
    }
    let mut p = Package::new(Ecosystem::Nuget, id, version, "nuspec");
    p.licenses = license.into_iter().filter(|l| !l.is_empty()).collect();
    Ok(vec![p])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::other::expected::fixture;

    // No expected.json exists for these (they come from Trivy's analyzer test tree);
    // the values below are read from the fixtures' own <id>/<version>/<license>.
    #[test]
    fn nuspec_global_packages() {
        let _fixtures = bulwark_fixtures::fixtures_or_skip!();
        let base = "dotnet/nuget-global-packages/.nuget/packages";
        let p = parse(&fixture(&format!(
            "{base}/newtonsoft.json/12.0.3/newtonsoft.json.nuspec"
        )))
        .unwrap();
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("Newtonsoft.Json", "12.0.3")
        );
        assert_eq!(p[0].licenses, ["MIT"]);
        let p = parse(&fixture(&format!(
            "{base}/newtonsoft.json/6.0.4/newtonsoft.json.nuspec"
        )))
        .unwrap();
        assert_eq!(p[0].version, "6.0.4");
        assert!(p[0].licenses.is_empty(), "licenseUrl only");
        let p = parse(&fixture(&format!(
            "{base}/nuget.frameworks/5.7.0/nuget.frameworks.nuspec"
        )))
        .unwrap();
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("NuGet.Frameworks", "5.7.0")
        );
        assert!(
            p[0].licenses.is_empty(),
            "license type=file is not an identifier"
        );
    }

    #[test]
    fn nuspec_missing_version_is_error() {
        let err = parse(b"<package><metadata><id>x</id></metadata></package>").unwrap_err();
        assert!(matches!(err, CatalogError::Parse { .. }));
    }
}
