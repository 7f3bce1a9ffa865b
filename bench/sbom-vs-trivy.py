#!/usr/bin/env python3
"""Whole-program benchmark: bulwark vs Trivy cataloging the same images, in one run.

For each image and each tool it runs the tool RUNS times (alternating tools, so both see
the same page-cache state), records wall time and peak RSS (/usr/bin/time -v), and prints
medians and the bulwark/Trivy ratios. Trivy gets a fresh --cache-dir per run, offline
flags, and skips jars (it cannot read them offline without its Java DB).

Usage: bench/sbom-vs-trivy.py [--runs N] [--bulwark PATH] [--trivy PATH] IMAGE...
An IMAGE is a docker-archive tar or an OCI layout dir.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import timed



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bulwark", default="target/release/bulwark")
    ap.add_argument("--trivy", default=shutil.which("trivy") or "/opt/bench-venv/bin/trivy")
    ap.add_argument("--format", default="cyclonedx")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bulwark-bench-")
    rows = []
    for img in a.images:
        res = {"bulwark": [], "trivy": []}
        kind = "oci-dir" if os.path.isdir(img) else "docker-archive"
        for i in range(a.runs):
            cache = os.path.join(tmp, f"cache-{len(rows)}-{i}")
            out = os.path.join(tmp, "out.json")
            res["bulwark"].append(timed([a.bulwark, "sbom", img, "--format", a.format,
                                         "-o", out, "--cache-dir", cache + "-b"]))
            trivy_input = img if kind == "docker-archive" else img
            res["trivy"].append(timed([a.trivy, "image", "--input", trivy_input, "--cache-dir", cache,
                                       "--format", "cyclonedx", "-o", out, "--quiet",
                                       "--skip-db-update", "--offline-scan", "--skip-version-check",
                                       "--disable-telemetry", "--skip-files", "**/*.jar"]))
        med = {t: (statistics.median(w for w, _ in v), max(m for _, m in v)) for t, v in res.items()}
        rows.append((img, kind, med))
    print(f"{'image':40} {'kind':15} {'bulwark s':>10} {'trivy s':>10} {'ratio':>7} "
          f"{'bulwark MiB':>12} {'trivy MiB':>10} {'ratio':>7}")
    for img, kind, med in rows:
        (bw, bm), (tw, tm) = med["bulwark"], med["trivy"]
        print(f"{os.path.basename(img.rstrip('/')):40} {kind:15} {bw:10.3f} {tw:10.3f} {bw / tw:7.2f} "
              f"{bm:12.1f} {tm:10.1f} {bm / tm:7.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
