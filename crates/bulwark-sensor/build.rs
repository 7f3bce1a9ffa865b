//! Builds the sensor's BPF programs (src/bpf/sensor.bpf.c) with clang through
//! libbpf-cargo and generates the Rust skeleton that loads them.
//!
//! `vmlinux.h` (the kernel's types, for CO-RE) is generated here with
//! `bpftool btf dump file /sys/kernel/btf/vmlinux format c` rather than committed: the
//! header is 2.8 MB, and every machine that builds bulwark in this project (dev and CI)
//! runs a BTF kernel with bpftool installed (scripts/setup-test-env.sh). CO-RE
//! relocations make the object load on other BTF kernels too. Set
//! `BULWARK_VMLINUX_H=PATH` to use a header generated elsewhere (a build host without
//! BTF).

use std::env;
use std::path::PathBuf;
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/sensor.bpf.c";

fn main() {
    if let Err(e) = run() {
        println!("cargo:warning=bulwark-sensor: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR not set")?);
    let inc = out.join("include");
    std::fs::create_dir_all(&inc).map_err(|e| format!("creating {}: {e}", inc.display()))?;
    let vmlinux = inc.join("vmlinux.h");
    println!("cargo:rerun-if-env-changed=BULWARK_VMLINUX_H");
    match env::var_os("BULWARK_VMLINUX_H") {
        Some(p) => {
            std::fs::copy(&p, &vmlinux).map_err(|e| {
                format!(
                    "copying BULWARK_VMLINUX_H={}: {e}",
                    PathBuf::from(&p).display()
                )
            })?;
        }
        None => {
            let btf = "/sys/kernel/btf/vmlinux";
            if !std::path::Path::new(btf).exists() {
                return Err(format!(
                    "{btf} not found: this kernel has no BTF, so vmlinux.h cannot be generated; \
                     set BULWARK_VMLINUX_H to a header made with `bpftool btf dump file {btf} format c` on a BTF kernel"
                ));
            }
            let o = Command::new("bpftool")
                .args(["btf", "dump", "file", btf, "format", "c"])
                .output()
                .map_err(|e| format!("running bpftool (apt-get install bpftool): {e}"))?;
            if !o.status.success() {
                return Err(format!(
                    "bpftool btf dump failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            std::fs::write(&vmlinux, &o.stdout)
                .map_err(|e| format!("writing {}: {e}", vmlinux.display()))?;
        }
    }
    let skel = out.join("sensor.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args([
            std::ffi::OsString::from("-I"),
            inc.into_os_string(),
            std::ffi::OsString::from("-Wall"),
        ])
        .build_and_generate(&skel)
        .map_err(|e| format!("building {SRC} (needs clang and libbpf-dev): {e:#}"))?;
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed=src/bpf/sensor.h");
    Ok(())
}
