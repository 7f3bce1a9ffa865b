//! Fuzz target `k8s_analysis`: arbitrary bytes as a cluster dump for `bulwark k8s`:
//! the loader, the RBAC graph (aggregation, service-account pivots, escalation paths,
//! who-can) and the NetworkPolicy model (selectors, ipBlocks, ports, connectivity,
//! exposure, lateral movement) with its report.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use bulwark_k8s::load::{load_bytes, Loaded};
use bulwark_k8s::netpol::{Model, Sensitive};
use bulwark_k8s::rbac::Graph;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut loaded = Loaded::default();
    load_bytes("cluster.yaml", data, &mut loaded);
    let graph = Graph::build(&mut loaded);
    let _ = graph.analyse();
    let model = Model::build(&mut loaded);
    let sensitive = Sensitive {
        namespaces: vec!["kube-system".into()],
        labels: vec![("tier".into(), "db".into())],
    };
    let _ = model.report(&sensitive);
});
