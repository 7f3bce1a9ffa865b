#!/usr/bin/env python3
"""Builds examples/demo-image, the small OCI image layout bundled for the quickstart.

The image is written by this script (no content fetched from anywhere): an Alpine-like
base layer with an apk database, an application layer with Python and npm packages, and
a layer that deletes one of them again. Layers are gzip- and zstd-free plain tars and a
gzip tar, so the quickstart exercises decompression too. Deterministic: fixed mtimes.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "demo-image")

APK = [
    ("musl", "1.2.4-r2", "musl", "MIT"),
    ("busybox", "1.36.1-r15", "busybox", "GPL-2.0-only"),
    ("zlib", "1.3-r2", "zlib", "Zlib"),
    ("libcrypto3", "3.1.4-r1", "openssl", "Apache-2.0"),
    ("libssl3", "3.1.4-r1", "openssl", "Apache-2.0"),
    ("ca-certificates-bundle", "20230506-r0", "ca-certificates", "MPL-2.0 AND MIT"),
    ("python3", "3.11.6-r1", "python3", "PSF-2.0"),
]

PY = [("requests", "2.25.0", "Apache 2.0"), ("urllib3", "1.26.4", "MIT"),
      ("Jinja2", "2.11.2", "BSD-3-Clause"), ("PyYAML", "5.3.1", "MIT")]

NPM = {"lodash": "4.17.20", "minimist": "1.2.5", "node-fetch": "2.6.0"}


def apk_db():
    out = []
    for name, ver, origin, lic in APK:
        out.append(f"C:Q1{hashlib.sha1(name.encode()).hexdigest()[:27]}=\nP:{name}\nV:{ver}\nA:x86_64\n"
                   f"S:100000\nI:200000\nT:{name} package\nU:https://alpinelinux.org\nL:{lic}\n"
                   f"o:{origin}\nm:Demo Maintainer <demo@example.org>\nt:1700000000\n")
    return ("\n".join(out) + "\n").encode()


def metadata(name, ver, lic):
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\nSummary: demo\n"
            f"License: {lic}\n\n").encode()


def package_lock():
    pkgs = {"": {"name": "demo-app", "version": "1.0.0", "dependencies": dict(NPM)}}
    for n, v in NPM.items():
        pkgs[f"node_modules/{n}"] = {"version": v,
                                     "resolved": f"https://registry.npmjs.org/{n}/-/{n}-{v}.tgz",
                                     "license": "MIT"}
    return json.dumps({"name": "demo-app", "version": "1.0.0", "lockfileVersion": 3,
                       "requires": True, "packages": pkgs}, indent=2).encode()


def layer(files, whiteouts=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                    t.addfile(ti)
            data = files[path]
            ti = tarfile.TarInfo(path)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
        for w in whiteouts:
            ti = tarfile.TarInfo(w)
            ti.size, ti.mtime = 0, 1700000000
            t.addfile(ti, io.BytesIO(b""))
    return buf.getvalue()


def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(OUT, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "blobs", "sha256"))
    sp = "usr/lib/python3.11/site-packages"
    base = {
        "etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.0\n'
                          b'PRETTY_NAME="Alpine Linux v3.19"\nHOME_URL="https://alpinelinux.org/"\n',
        "etc/alpine-release": b"3.19.0\n",
        "lib/apk/db/installed": apk_db(),
    }
    app = {f"{sp}/{n}-{v}.dist-info/METADATA": metadata(n, v, l) for n, v, l in PY}
    app["srv/app/package-lock.json"] = package_lock()
    app["srv/app/package.json"] = json.dumps(
        {"name": "demo-app", "version": "1.0.0", "dependencies": NPM}, indent=2).encode()
    for n, v in NPM.items():
        app[f"srv/app/node_modules/{n}/package.json"] = json.dumps(
            {"name": n, "version": v, "license": "MIT"}).encode()
    app["srv/app/requirements.txt"] = b"".join(f"{n}=={v}\n".encode() for n, v, _ in PY)
    cleanup = layer({}, whiteouts=[f"{sp}/.wh.PyYAML-5.3.1.dist-info"])
    raw_layers = [layer(base), layer(app), cleanup]
    stored = [raw_layers[0], gzip.compress(raw_layers[1], mtime=0), raw_layers[2]]
    media = ["application/vnd.oci.image.layer.v1.tar",
             "application/vnd.oci.image.layer.v1.tar+gzip",
             "application/vnd.oci.image.layer.v1.tar"]
    diff_ids = ["sha256:" + hashlib.sha256(r).hexdigest() for r in raw_layers]
    history = [{"created": "2023-11-14T22:13:20Z", "created_by": "ADD alpine-minirootfs /"},
               {"created": "2023-11-14T22:13:21Z", "created_by": "COPY app/ /"},
               {"created": "2023-11-14T22:13:22Z",
                "created_by": "RUN rm -rf /usr/lib/python3.11/site-packages/PyYAML-5.3.1.dist-info"}]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:22Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["python3", "-m", "http.server"], "WorkingDir": "/srv/app"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    }, sort_keys=True).encode()
    layers = [{"mediaType": m, "digest": blob(s), "size": len(s)} for m, s in zip(media, stored)]
    cfg = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config),
           "size": len(config)}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": cfg, "layers": layers}, sort_keys=True).encode()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": blob(manifest), "size": len(manifest),
                            "annotations": {"org.opencontainers.image.ref.name": "1.0"},
                            "platform": {"architecture": "amd64", "os": "linux"}}]}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
    with open(os.path.join(OUT, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
