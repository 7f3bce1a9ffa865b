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
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import timed



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
        rows = []
        for img in a.images:
            res = {"bulwark": [], "trivy": []}
            kind = "oci-dir" if os.path.isdir(img) else "docker-archive"
            for i in range(a.runs):
                cache = os.path.join(tmp, f"cache-{len(rows)}-{i}")
                out = os.path.join(tmp, "out.json")
                res["bulwark"].append(timed([a.bulwark, "-q", "scan", img, "--db", db,
                                             "--format", "json", "-o", out,
                                             "--cache-dir", cache + "-b"]))
                res["trivy"].append(timed([a.trivy, "image", "--input", img, "--cache-dir", cache,
                                           "--format", "cyclonedx", "-o", out, "--quiet",
                                           "--skip-db-update", "--offline-scan",
                                           "--skip-version-check", "--disable-telemetry",
                                           "--skip-files", "**/*.jar"]))
            med = {t: (statistics.median(w for w, _ in v), max(m for _, m in v))
                   for t, v in res.items()}
            rows.append((img, kind, med))
        print(f"{'image':40} {'kind':15} {'bulwark scan s':>14} {'trivy sbom s':>12} {'ratio':>7} "
              f"{'bulwark MiB':>12} {'trivy MiB':>10} {'ratio':>7}")
        for img, kind, med in rows:
            (bw, bm), (tw, tm) = med["bulwark"], med["trivy"]
            print(f"{os.path.basename(img.rstrip('/')):40} {kind:15} {bw:14.3f} {tw:12.3f} "
                  f"{bw / tw:7.2f} {bm:12.1f} {tm:10.1f} {bm / tm:7.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
