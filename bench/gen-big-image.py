#!/usr/bin/env python3
"""Generates the memory/scale benchmark image as an OCI layout directory:
FILES small files spread over LAYERS layers, plus one layer holding a single BIG-byte
file (default 1,000,000 files in 4 layers and a 4 GiB file), and a dpkg status file so
there is something to catalog. Layers are uncompressed tars written in one streaming
pass with their digests computed on the fly.

Usage: bench/gen-big-image.py OUT_DIR [--files N] [--layers N] [--big-bytes N]
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import tarfile

ZERO = bytes(1 << 20)


class HashingWriter(io.RawIOBase):
    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)


class Zeros(io.RawIOBase):
    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.left, len(ZERO))
        b[:k] = ZERO[:k]
        self.left -= k
        return k


def write_layer(out, build):
    tmp = os.path.join(out, "blobs", "sha256", "tmp")
    with open(tmp, "wb") as f:
        hw = HashingWriter(f)
        with tarfile.open(fileobj=hw, mode="w|", format=tarfile.GNU_FORMAT) as t:
            build(t)
    digest = hw.h.hexdigest()
    os.rename(tmp, os.path.join(out, "blobs", "sha256", digest))
    return "sha256:" + digest, hw.n


def small_files(t, layer, count):
    d = tarfile.TarInfo(f"data{layer}")
    d.type, d.mode = tarfile.DIRTYPE, 0o755
    t.addfile(d)
    for i in range(count):
        if i % 1000 == 0:
            d = tarfile.TarInfo(f"data{layer}/d{i // 1000}")
            d.type, d.mode = tarfile.DIRTYPE, 0o755
            t.addfile(d)
        data = b"file %d in layer %d\n" % (i, layer)
        ti = tarfile.TarInfo(f"data{layer}/d{i // 1000}/f{i}.txt")
        ti.size, ti.mode = len(data), 0o644
        t.addfile(ti, io.BytesIO(data))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--big-bytes", type=int, default=4 << 30)
    a = ap.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(os.path.join(a.out, "blobs", "sha256"))
    layers = []
    status = (b"Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\n"
              b"Architecture: amd64\n\nPackage: bash\nStatus: install ok installed\n"
              b"Version: 5.2.15-2+b2\nArchitecture: amd64\n\n")
    osr = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'

    def base(t):
        for path, data in (("etc/os-release", osr), ("var/lib/dpkg/status", status)):
            ti = tarfile.TarInfo(path)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    layers.append(write_layer(a.out, base))
    per = a.files // a.layers
    for l in range(a.layers):
        layers.append(write_layer(a.out, lambda t, l=l: small_files(t, l, per)))

    def big(t):
        ti = tarfile.TarInfo("opt/big.bin")
        ti.size, ti.mode = a.big_bytes, 0o644
        t.addfile(ti, Zeros(a.big_bytes))
    layers.append(write_layer(a.out, big))

    def blob(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(a.out, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return "sha256:" + d, len(data)

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [d for d, _ in layers]},
                         "config": {}}).encode()
    cd, cs = blob(config)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cd, "size": cs},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": d, "size": n} for d, n in layers]}).encode()
    md, ms = blob(manifest)
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
             "annotations": {"org.opencontainers.image.ref.name": "big"}}]}, f)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
