//! Fuzz target `k8s`: arbitrary bytes as a Kubernetes manifest stream: the YAML loader, then the workload checks.
//! Errors are expected; any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use bulwark_misconfig::{scan_k8s, yaml, K8sOptions};
    let _ = yaml::parse_stream("pod.yaml", data);
    let _ = scan_k8s("pod.yaml", data, &K8sOptions::default());
});
