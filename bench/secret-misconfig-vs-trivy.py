#!/usr/bin/env python3
"""Whole-program benchmark: bulwark vs Trivy scanning the same images for secrets and
misconfigurations, in one run.

bulwark: `bulwark scan IMAGE --scanners secret,misconfig` (vulnerability matching off).
Trivy:   `trivy image --input IMAGE --scanners secret --image-config-scanners
          misconfig,secret`, offline, fresh --cache-dir per run.
Each tool runs RUNS times per image, alternating, so both see the same page-cache state;
medians of wall time and the max peak RSS (/usr/bin/time -v) are printed with the
bulwark/Trivy ratios (target: wall-time ratio <= 0.33).

Note: bulwark also catalogs packages in the same run (a scan always builds the SBOM);
Trivy with --scanners secret does not, so the comparison is conservative for bulwark.

Usage: bench/secret-misconfig-vs-trivy.py [--runs N] [--bulwark CMD] [--trivy PATH] IMAGE...
`--bulwark` is the command prefix that takes `TARGET SCANNERS CACHE_DIR` when
`--bulwark-kind example` (the `scan_files` example of bulwark-engine: the same library
call as `bulwark scan`), or the `bulwark` binary with the default `--bulwark-kind cli`.
"""
import argparse
import shutil
import tempfile

from benchlib import compare_runs, print_ratios, trivy_image



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bulwark", default="target/release/bulwark")
    ap.add_argument("--bulwark-kind", choices=["cli", "example"], default="cli")
    ap.add_argument("--trivy", default=shutil.which("trivy") or "/opt/bench-venv/bin/trivy")
    ap.add_argument("images", nargs="*", default=[
        "target/test-images/app.docker.tar",
        "target/test-images/app.oci-dir"])
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bulwark-bench-")

    def bulwark_cmd(img, out, cache):
        if a.bulwark_kind == "cli":
            return [a.bulwark, "scan", img, "--scanners", "secret,misconfig",
                    "--format", "json", "-o", out, "--cache-dir", cache]
        return [a.bulwark, img, "secret,misconfig", cache]

    rows = compare_runs(
        a.images, a.runs, tmp, bulwark_cmd,
        lambda img, out, cache: trivy_image(a.trivy, img, cache, out, "--scanners", "secret",
                                            "--image-config-scanners", "misconfig,secret",
                                            "--format", "json"))
    print_ratios(rows)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
