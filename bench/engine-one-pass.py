#!/usr/bin/env python3
"""Whole-program benchmark of the engine's one pass (issue 12), not run in CI.

For each image, alternating RUNS times with fresh caches (medians of wall time, largest
peak RSS, from /usr/bin/time -v):

  sbom      `bulwark sbom IMAGE`                                   (the floor)
  vuln      `bulwark scan IMAGE --scanners vuln`                   target <= 1.1x sbom
  misconfig `bulwark scan IMAGE --scanners misconfig`              target <= 1.1x sbom
  full      `bulwark scan IMAGE --scanners vuln,secret,misconfig`  target <= 1.5x sbom
  trivy     `trivy image --input IMAGE --scanners secret,misconfig` (offline, fresh
            cache): full target <= 0.25x its time, at no more memory

The vulnerability DB is imported once (examples/osv by default, or --db) before timing;
its import is not timed.

Usage: bench/engine-one-pass.py [--runs N] [--bulwark PATH] [--trivy PATH] [--osv DIR] IMAGE...
"""
import argparse
import os
import shutil
import subprocess
import tempfile

from benchlib import summarize, timed, trivy_image

KINDS = ["sbom", "vuln", "misconfig", "full", "trivy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bulwark", default="target/release/bulwark")
    ap.add_argument("--trivy", default=shutil.which("trivy") or "/opt/bench-venv/bin/trivy")
    ap.add_argument("--osv", default="examples/osv")
    ap.add_argument("--db", help="an existing DB directory (else one is imported from --osv)")
    ap.add_argument("images", nargs="*", default=[
        "target/test-images/app.docker.tar", "target/test-images/app.oci-dir"])
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bulwark-onepass-")
    try:
        db = a.db or os.path.join(tmp, "db")
        if not a.db:
            subprocess.run([a.bulwark, "-q", "db", "--db", db, "import", a.osv], check=True)

        def cmd(kind, img, out, cache):
            scan = [a.bulwark, "-q", "scan", img, "--db", db, "--format", "json", "-o", out,
                    "--cache-dir", cache]
            return {
                "sbom": [a.bulwark, "-q", "sbom", img, "--format", "json", "-o", out,
                         "--cache-dir", cache],
                "vuln": scan + ["--scanners", "vuln"],
                "misconfig": scan + ["--scanners", "misconfig"],
                "full": scan + ["--scanners", "vuln,secret,misconfig"],
                "trivy": trivy_image(a.trivy, img, cache, out, "--scanners", "secret,misconfig",
                                     "--format", "json"),
            }[kind]

        print(f"{'image':28} " + " ".join(f"{k + ' s':>12} {k + ' MiB':>12}" for k in KINDS))
        for img in a.images:
            res = {k: [] for k in KINDS}
            for i in range(a.runs):
                for k in KINDS:
                    cache = os.path.join(tmp, f"cache-{k}-{i}")
                    res[k].append(timed(cmd(k, img, os.path.join(tmp, "out.json"), cache)))
                    shutil.rmtree(cache, ignore_errors=True)
            med = summarize(res)
            name = os.path.basename(img.rstrip("/"))
            print(f"{name:28} " + " ".join(f"{med[k][0]:12.3f} {med[k][1]:12.1f}" for k in KINDS))
            s, t = med["sbom"][0], med["trivy"]
            print(f"{'':28} vuln/sbom {med['vuln'][0] / s:.2f} (<= 1.1)  "
                  f"misconfig/sbom {med['misconfig'][0] / s:.2f} (<= 1.1)  "
                  f"full/sbom {med['full'][0] / s:.2f} (<= 1.5)  "
                  f"full/trivy {med['full'][0] / t[0]:.2f} (<= 0.25)  "
                  f"full/trivy MiB {med['full'][1] / t[1]:.2f} (<= 1)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
