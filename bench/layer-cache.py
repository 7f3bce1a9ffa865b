#!/usr/bin/env python3
"""Whole-program benchmark of the layer-result cache (issue 12), not run in CI.

Target: a second image sharing the base layer, with a warm layer cache, scans in at most
half its cold time.

The second image is made from IMAGE (an OCI layout directory, the app test image by
default) in a temporary directory: a copy of the layout holding one more manifest, with
the app's layers minus its top one plus a new small top layer. Each run times, with
`bulwark scan --scanners vuln,secret,misconfig` (and `bulwark sbom`):

  cold        the second image, empty cache
  warm        the second image, with a cache that a scan of the first image filled
              (shared blobs in the same layout: their verified stamps match, nothing of
              them is read)
  warm-copy   the second image as a separate layout whose blobs are copies (no stamp:
              each shared blob is hashed, not parsed), same warm cache

Medians of RUNS alternating runs; wall time and peak RSS from /usr/bin/time -v.

Usage: bench/layer-cache.py [--runs N] [--bulwark PATH] [--osv DIR] [IMAGE]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

from benchlib import summarize, timed

SECOND_REF = "localhost/bulwark-test/second:1"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def make_second(src, layout):
    """Copies the OCI layout src to layout and adds the second image; returns the
    first image's ref (or None) and the second's."""
    shutil.copytree(src, layout)
    blob = lambda d: os.path.join(layout, "blobs", "sha256", d.split(":", 1)[1])
    index = json.load(open(os.path.join(layout, "index.json")))
    first = index["manifests"][0]
    manifest = json.load(open(blob(first["digest"])))
    config = json.load(open(blob(manifest["config"]["digest"])))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, body in [("srv/second/requirements.txt", b"requests==2.19.0\n"),
                           ("srv/second/Dockerfile", b"FROM scratch\nUSER root\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    tar = raw.getvalue()
    gz = gzip.compress(tar, mtime=0)
    open(blob(sha(gz)), "wb").write(gz)
    manifest["layers"] = manifest["layers"][:-1] + [{
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": sha(gz), "size": len(gz)}]
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:-1] + [sha(tar)]
    cb = json.dumps(config).encode()
    open(blob(sha(cb)), "wb").write(cb)
    manifest["config"] = dict(manifest["config"], digest=sha(cb), size=len(cb))
    mb = json.dumps(manifest).encode()
    open(blob(sha(mb)), "wb").write(mb)
    index["manifests"].append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(mb),
        "size": len(mb), "annotations": {"org.opencontainers.image.ref.name": SECOND_REF}})
    json.dump(index, open(os.path.join(layout, "index.json"), "w"))
    return first.get("annotations", {}).get("org.opencontainers.image.ref.name")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bulwark", default="target/release/bulwark")
    ap.add_argument("--osv", default="examples/osv")
    ap.add_argument("image", nargs="?", default="target/test-images/app.oci-dir")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bulwark-layercache-")
    try:
        db = os.path.join(tmp, "db")
        subprocess.run([a.bulwark, "-q", "db", "--db", db, "import", a.osv], check=True)
        layout = os.path.join(tmp, "layout")
        first_ref = make_second(a.image, layout)
        # The second image alone in its own layout: same blobs, different files.
        other = os.path.join(tmp, "other")
        shutil.copytree(layout, other)
        idx = json.load(open(os.path.join(other, "index.json")))
        idx["manifests"] = idx["manifests"][1:]
        json.dump(idx, open(os.path.join(other, "index.json"), "w"))
        first = f"oci:{layout}:{first_ref}" if first_ref else f"oci:{layout}:@0"
        second = f"oci:{layout}:{SECOND_REF}"
        second_copy = f"oci:{other}:{SECOND_REF}"
        out = os.path.join(tmp, "out.json")

        def cmd(kind, target, cache):
            if kind == "sbom":
                return [a.bulwark, "-q", "sbom", target, "--format", "json", "-o", out,
                        "--cache-dir", cache]
            return [a.bulwark, "-q", "scan", target, "--db", db, "--format", "json", "-o",
                    out, "--cache-dir", cache, "--scanners", "vuln,secret,misconfig"]

        for kind in ["full", "sbom"]:
            warm_base = os.path.join(tmp, f"warm-{kind}")
            subprocess.run(cmd(kind, first, warm_base), check=True)
            res = {k: [] for k in ["cold", "warm", "warm-copy"]}
            for i in range(a.runs):
                for k in res:
                    cache = os.path.join(tmp, f"cache-{k}-{i}")
                    if k != "cold":
                        shutil.copytree(warm_base, cache)
                    target = second_copy if k == "warm-copy" else second
                    res[k].append(timed(cmd(kind, target, cache)))
                    shutil.rmtree(cache, ignore_errors=True)
            med = summarize(res)
            print(f"{kind:5} " + "  ".join(f"{k} {med[k][0]:.3f} s {med[k][1]:.1f} MiB"
                                           for k in res))
            c = med["cold"][0]
            print(f"{'':5} warm/cold {med['warm'][0] / c:.2f} (<= 0.5)  "
                  f"warm-copy/cold {med['warm-copy'][0] / c:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
