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
import shutil
import tempfile

from benchlib import compare_runs, print_ratios, trivy_image



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bulwark", default="target/release/bulwark")
    ap.add_argument("--trivy", default=shutil.which("trivy") or "/opt/bench-venv/bin/trivy")
    ap.add_argument("--format", default="cyclonedx")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bulwark-bench-")
    rows = compare_runs(
        a.images, a.runs, tmp,
        lambda img, out, cache: [a.bulwark, "sbom", img, "--format", a.format, "-o", out,
                                 "--cache-dir", cache],
        lambda img, out, cache: trivy_image(a.trivy, img, cache, out, "--format", "cyclonedx",
                                            "--skip-files", "**/*.jar"))
    print_ratios(rows)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
