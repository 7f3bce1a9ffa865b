//! Smoke test over the shared corpus of real-world manifests (fixtures/k8s-corpus): every
//! file is either analysed (its objects loaded) or reported (unreadable with file and
//! line, or skipped as holding no Kubernetes object), the RBAC and NetworkPolicy analyses
//! and the image list run over the whole set, and nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use bulwark_k8s::load::images;
use bulwark_k8s::load_paths;
use bulwark_k8s::netpol::{Model, Sensitive};
use bulwark_k8s::rbac::Graph;

#[test]
fn every_corpus_file_is_analysed_or_reported() {
    let Some(fx) = bulwark_fixtures::fixtures() else {
        bulwark_fixtures::absent("shared fixtures", &bulwark_fixtures::fixtures_message());
        return;
    };
    let dir = fx.join("k8s-corpus");
    let mut files = BTreeSet::new();
    for sub in ["k8s", "compose"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if matches!(ext, "yaml" | "yml" | "json") {
                files.insert(p.display().to_string());
            }
        }
    }
    assert!(files.len() > 100, "{}", files.len());
    let mut loaded = load_paths(&[&dir]);
    let graph = Graph::build(&mut loaded);
    let rbac = graph.analyse();
    let model = Model::build(&mut loaded);
    let mut sens = Sensitive::default();
    sens.add("namespace:kube-system").unwrap();
    let net = model.report(&sens);
    let imgs = images(&loaded);

    let analysed: BTreeSet<String> = loaded.objects.iter().map(|o| o.file.clone()).collect();
    let reported: BTreeSet<String> = loaded
        .unreadable
        .iter()
        .chain(loaded.skipped.iter())
        .map(|u| u.file.clone())
        .collect();
    for f in &files {
        assert!(
            analysed.contains(f) || reported.contains(f),
            "{f} neither analysed nor reported"
        );
    }
    assert_eq!(
        loaded.files,
        files.len(),
        "every manifest file was read once"
    );
    for u in &loaded.unreadable {
        assert!(!u.message.is_empty());
        eprintln!("reported: {u}");
    }
    // The corpus is real: it has RBAC, workloads, policies and images.
    assert!(rbac.bindings > 50, "{}", rbac.bindings);
    assert!(!rbac.paths.is_empty());
    assert!(net.pods > 100, "{}", net.pods);
    assert!(net.policies >= 6, "{}", net.policies);
    assert!(imgs.len() > 100, "{}", imgs.len());
    eprintln!(
        "corpus: {} files, {} objects, {} unreadable, {} skipped; rbac {} paths ({} admin-equivalent subjects); netpol {} pods, {} policies, {} reachable from outside; {} images",
        loaded.files,
        loaded.objects.len(),
        loaded.unreadable.len(),
        loaded.skipped.len(),
        rbac.paths.len(),
        rbac.cluster_admin_subjects.len(),
        net.pods,
        net.policies,
        net.reachable_from_outside.len(),
        imgs.len()
    );
}

/// Every corpus file cut short at eight places (mid-line, mid-object) is read, analysed
/// or reported, and nothing panics: truncated dumps are what an interrupted
/// `kubectl get -o yaml > file` leaves behind.
#[test]
fn truncated_corpus_files_never_panic() {
    let Some(fx) = bulwark_fixtures::fixtures() else {
        bulwark_fixtures::absent("shared fixtures", &bulwark_fixtures::fixtures_message());
        return;
    };
    let dir = fx.join("k8s-corpus/k8s");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut runs = 0;
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for k in 1..=8 {
            let cut = bytes.len() * k / 9;
            let mut l = bulwark_k8s::Loaded::default();
            bulwark_k8s::load::load_bytes("cut.yaml", &bytes[..cut], &mut l);
            let g = Graph::build(&mut l);
            let _ = g.analyse();
            let m = Model::build(&mut l);
            let _ = m.report(&Sensitive::default());
            let _ = images(&l);
            for u in &l.unreadable {
                assert_eq!(u.file, "cut.yaml");
            }
            runs += 1;
        }
    }
    assert!(runs > 900, "{runs}");
}
