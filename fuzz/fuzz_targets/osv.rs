//! Fuzz target `osv`: arbitrary bytes as one OSV JSON record, then matched (with
//! merging) against packages at the versions the record itself names, so that the
//! version orders and the matcher's sorts see hostile versions too (83 Maven versions in
//! one record once crashed the sort, as Maven's own order is not transitive).
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use bulwark_core::{Ecosystem, Package};
use bulwark_vulndb::matching::{match_package, merge_findings};
use bulwark_vulndb::osv::Event;
use libfuzzer_sys::fuzz_target;

fn ecosystem(osv: &str) -> Option<Ecosystem> {
    Some(match osv.split(':').next()? {
        "PyPI" => Ecosystem::Pypi,
        "npm" => Ecosystem::Npm,
        "crates.io" => Ecosystem::Cargo,
        "Go" => Ecosystem::Golang,
        "Maven" => Ecosystem::Maven,
        "RubyGems" => Ecosystem::Gem,
        "NuGet" => Ecosystem::Nuget,
        "Packagist" => Ecosystem::Composer,
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(record) = bulwark_vulndb::osv::parse_record(data) else {
        return;
    };
    let records = std::slice::from_ref(&record);
    let mut findings = Vec::new();
    for entry in record.affected.iter().take(4) {
        let Some(p) = &entry.package else { continue };
        let Some(eco) = ecosystem(&p.ecosystem) else {
            continue;
        };
        let from_events = entry.ranges.iter().flat_map(|r| &r.events).map(|e| match e {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        });
        for v in from_events.chain(&entry.versions).take(8) {
            let pkg = Package::new(eco, p.name.as_str(), v.as_str(), "fuzz");
            findings.extend(match_package(&pkg, None, records).findings);
        }
    }
    let _ = merge_findings(findings);
});
