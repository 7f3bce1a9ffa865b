#!/usr/bin/env python3
"""Whole-program benchmark: `bulwark scan` (vulnerabilities) against a DB of generated
OSV records vs Trivy's SBOM-only run on the same images, in one run.

Trivy cannot match offline without its own DB, so its SBOM run (cataloging only) is the
floor bulwark's full scan (catalog + DB lookups + matching) is compared with. The DB is
built once with bench/gen-osv.py and `bulwark db import`; its build time is reported
separately and not part of the scan figures. Each tool runs RUNS times per image,
alternating, under /usr/bin/time -v; medians of wall time and the largest peak RSS are
printed with the bulwark/Trivy ratios.

Usage: bench/scan-vs-trivy.py [--runs N] [--records N | --osv-zip ZIP] [--bulwark PATH] [--trivy PATH] IMAGE...
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import compare_runs, print_ratios, timed, trivy_image



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--osv-zip", help="reuse a zip made by gen-osv.py instead of generating one")
    ap.add_argument("--bulwark", default="target/release/bulwark")
    ap.add_argument("--trivy", default=shutil.which("trivy") or "/opt/bench-venv/bin/trivy")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bulwark-scanbench-")
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        zpath = a.osv_zip or os.path.join(tmp, "osv.zip")
        if not a.osv_zip:
            subprocess.run([sys.executable, os.path.join(here, "gen-osv.py"), zpath,
                            str(a.records), "1"], check=True)
        db = os.path.join(tmp, "db")
        wall, peak = timed([a.bulwark, "-q", "db", "--db", db, "import", zpath])
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(db) for f in fs)
        info = subprocess.run([a.bulwark, "db", "--db", db, "info", "--format", "json"],
                              capture_output=True, text=True)
        try:
            n = int(json.loads(info.stdout)["records"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            n = a.records
        print(f"import: {n} records from {os.path.basename(zpath)} ({os.path.getsize(zpath) / 2**20:.0f} MiB) "
              f"in {wall:.1f} s = {n / wall:,.0f} records/s, peak {peak:.0f} MiB, DB {size / 2**20:.0f} MiB")
        rows = compare_runs(
            a.images, a.runs, tmp,
            lambda img, out, cache: [a.bulwark, "-q", "scan", img, "--db", db, "--format", "json",
                                     "-o", out, "--cache-dir", cache],
            lambda img, out, cache: trivy_image(a.trivy, img, cache, out, "--format", "cyclonedx",
                                                "--skip-files", "**/*.jar"))
        print_ratios(rows, "bulwark scan s", "trivy sbom s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
