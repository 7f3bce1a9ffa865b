//! Helpers shared by the store tests: fixture paths and the list of OSV inputs.

#![allow(dead_code)]

use std::path::PathBuf;

/// The OSV fixture tree.
pub fn osv_fixtures() -> PathBuf {
    bulwark_fixtures::fixtures_location().join("osv")
}

/// Every input under the fixture tree except the `*-raw` folders (not OSV) and the
/// `_schema` / `_enrichment` folders: the ecosystem folders' subfolders and files.
pub fn osv_inputs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut tops: Vec<PathBuf> = std::fs::read_dir(osv_fixtures())
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    tops.sort();
    for top in tops {
        let mut kids: Vec<PathBuf> = std::fs::read_dir(&top)
            .expect("ecosystem dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().ends_with("-raw"))
            .collect();
        kids.sort();
        out.extend(kids);
    }
    out
}

/// Builds a zip holding `files` (name, content).
pub fn make_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            z.start_file(name.as_str(), opts).expect("zip entry");
            z.write_all(data).expect("zip write");
        }
        z.finish().expect("zip finish");
    }
    buf.into_inner()
}

/// A small valid OSV record as JSON.
pub fn record_json(id: &str, modified: &str, eco: &str, name: &str, fixed: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{id}","modified":"{modified}","aliases":["CVE-{id}"],"affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
    )
    .into_bytes()
}
