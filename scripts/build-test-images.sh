#!/usr/bin/env bash
# Builds the real images the end-to-end tests and benchmarks use, into $OUT
# (default target/test-images). Idempotent: finished steps leave a stamp file.
#
# Images (as the SBOM issue asks): a debootstrap Debian 12 base, plus layers with
# pip-installed packages, an npm project with node_modules and lock file, a Go binary
# with build info, jars from Debian's java packages, a cargo-auditable Rust binary, and
# a Python package deleted again in a later layer. Saved as docker-archive, OCI archive
# and OCI layout. Also an RPM-based image with a real rpmdb.sqlite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${BULWARK_TEST_IMAGES:-$ROOT/target/test-images}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { echo "[build-test-images] $*" >&2; }

# podman on this kind of machine needs runc and cgroupfs (see ENVIRONMENT.md).
if [ ! -f /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

WORK="$OUT/work"
mkdir -p "$WORK"

# 1. Debian base root filesystem.
if [ ! -f "$OUT/.stamp-rootfs" ]; then
  log "debootstrap bookworm minbase"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb
  touch "$OUT/.stamp-rootfs"
fi
# Stamps record finished work in $OUT, but podman's image store lives elsewhere:
# a copied or cached target directory must not make us skip re-importing images.
has_image() { podman image exists "$1" 2>/dev/null; }
if [ ! -f "$OUT/.stamp-base" ] || ! has_image localhost/bulwark-test/debian-base:1; then
  log "podman import base"
  tar -C "$WORK/rootfs" -c . | podman import - localhost/bulwark-test/debian-base:1 >/dev/null
  rm -f "$OUT/.stamp-app"   # the app image builds on this one
  touch "$OUT/.stamp-base"
fi

CTX="$WORK/ctx"
mkdir -p "$CTX"

# 2. Python packages (real wheels from PyPI).
if [ ! -f "$OUT/.stamp-py" ]; then
  log "pip install --target"
  rm -rf "$CTX/py" "$CTX/py-del"
  python3 -m pip install -q --no-deps --target "$CTX/py" \
    requests==2.31.0 urllib3==1.26.18 idna==3.6 certifi==2023.7.22 charset-normalizer==3.3.2
  python3 -m pip install -q --no-deps --target "$CTX/py-del" six==1.16.0
  touch "$OUT/.stamp-py"
fi

# 3. An npm project with node_modules and its lock file.
if [ ! -f "$OUT/.stamp-npm" ]; then
  log "npm install"
  rm -rf "$CTX/app" && mkdir -p "$CTX/app"
  cat > "$CTX/app/package.json" <<'JSON'
{ "name": "bulwark-test-app", "version": "1.0.0", "private": true,
  "dependencies": { "lodash": "4.17.20", "minimist": "1.2.5", "debug": "2.6.8" } }
JSON
  (cd "$CTX/app" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$OUT/.stamp-npm"
fi

# 4. A Go binary with build info and a vendored dependency (no module proxy here).
if [ ! -f "$OUT/.stamp-go" ]; then
  log "go build"
  G="$WORK/gosrc"; rm -rf "$G"; mkdir -p "$G/vendor/example.com/greet"
  cat > "$G/go.mod" <<'GOMOD'
module example.com/hello

go 1.19

require example.com/greet v1.2.3
GOMOD
  cat > "$G/vendor/modules.txt" <<'MT'
# example.com/greet v1.2.3
## explicit
example.com/greet
MT
  cat > "$G/vendor/example.com/greet/greet.go" <<'GO'
package greet

func Hello() string { return "hello" }
GO
  cat > "$G/main.go" <<'GO'
package main

import (
	"fmt"

	"example.com/greet"
)

func main() { fmt.Println(greet.Hello()) }
GO
  (cd "$G" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$WORK/gocache" go build -o "$CTX/hello-go" .)
  touch "$OUT/.stamp-go"
fi

# 5. Jars from Debian's java packages.
if [ ! -f "$OUT/.stamp-jars" ]; then
  log "jars"
  rm -rf "$CTX/jars" && mkdir -p "$CTX/jars"
  for j in /usr/share/java/log4j-core-2*.jar /usr/share/java/log4j-api-2*.jar /usr/share/java/commons-lang3-3*.jar; do
    [ -f "$j" ] && cp "$j" "$CTX/jars/"
  done
  ls "$CTX/jars"/*.jar >/dev/null
  touch "$OUT/.stamp-jars"
fi

# 6. A cargo-auditable Rust binary.
if [ ! -f "$OUT/.stamp-rust" ]; then
  log "cargo auditable build"
  command -v cargo-auditable >/dev/null || cargo install -q cargo-auditable --locked
  R="$WORK/rustsrc"; rm -rf "$R"; mkdir -p "$R/src"
  cat > "$R/Cargo.toml" <<'TOML'
[package]
name = "hello-rust"
version = "0.3.1"
edition = "2021"

[dependencies]
itoa = "=1.0.9"

[workspace]
TOML
  echo 'fn main() { let mut b = itoa::Buffer::new(); println!("{}", b.format(42)); }' > "$R/src/main.rs"
  (cd "$R" && CARGO_TARGET_DIR="$WORK/rust-target" cargo auditable build -q --release)
  cp "$WORK/rust-target/release/hello-rust" "$CTX/hello-rust"
  touch "$OUT/.stamp-rust"
fi

# 7. The application image: one layer per ecosystem, and a package deleted later.
if [ ! -f "$OUT/.stamp-app" ] || ! has_image localhost/bulwark-test/app:1; then
  log "podman build app image"
  cat > "$CTX/Containerfile" <<'CF'
FROM localhost/bulwark-test/debian-base:1
COPY py/ /usr/local/lib/python3.11/site-packages/
COPY py-del/ /usr/local/lib/python3.11/site-packages/
COPY app/ /srv/app/
COPY hello-go /usr/local/bin/hello-go
COPY jars/ /opt/java/
COPY hello-rust /usr/local/bin/hello-rust
RUN rm -rf /usr/local/lib/python3.11/site-packages/six.py /usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info
CF
  podman build -q --isolation chroot -t localhost/bulwark-test/app:1 -f "$CTX/Containerfile" "$CTX" >/dev/null
  rm -f "$OUT/.stamp-save"  # saved archives must match the image in podman
  touch "$OUT/.stamp-app"
fi

# 8. The three on-disk formats.
if [ ! -f "$OUT/.stamp-save" ]; then
  log "podman save"
  rm -rf "$OUT/app.docker.tar" "$OUT/app.oci.tar" "$OUT/app.oci-dir"
  podman save -q --format docker-archive -o "$OUT/app.docker.tar" localhost/bulwark-test/app:1
  podman save -q --format oci-archive -o "$OUT/app.oci.tar" localhost/bulwark-test/app:1
  podman save -q --format oci-dir -o "$OUT/app.oci-dir" localhost/bulwark-test/app:1
  podman save -q --format docker-archive -o "$OUT/base.docker.tar" localhost/bulwark-test/debian-base:1
  touch "$OUT/.stamp-save"
fi

# 9. An RPM-based image with a real rpmdb.sqlite (Debian's rpm writes sqlite).
if [ ! -f "$OUT/.stamp-rpm" ] || ! has_image localhost/bulwark-test/rpm:1; then
  log "rpm image"
  RP="$WORK/rpm"; rm -rf "$RP"; mkdir -p "$RP/SPECS" "$RP/root/etc"
  for spec in "hello 2.1 3.el9 0 hello-src" "libfoo 1.0.2 7.el9 2 foo"; do
    set -- $spec
    cat > "$RP/SPECS/$1.spec" <<SPEC
Name: $1
Version: $2
Release: $3
$( [ "$4" != 0 ] && echo "Epoch: $4" )
Summary: bulwark test package $1
License: MIT
BuildArch: x86_64
%description
Test package.
%files
SPEC
  done
  for s in "$RP"/SPECS/*.spec; do
    rpmbuild --quiet --define "_topdir $RP/build" -bb "$s" >/dev/null 2>&1
  done
  cat > "$RP/root/etc/os-release" <<'OSR'
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
OSR
  rpm --root "$RP/root" --dbpath /var/lib/rpm -i --nodeps --justdb "$RP"/build/RPMS/*/*.rpm
  python3 - "$RP/root/var/lib/rpm/rpmdb.sqlite" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()
PY
  rm -f "$RP/root/var/lib/rpm/rpmdb.sqlite-wal" "$RP/root/var/lib/rpm/rpmdb.sqlite-shm"
  tar -C "$RP/root" -c . | podman import - localhost/bulwark-test/rpm:1 >/dev/null
  podman save -q --format docker-archive -o "$OUT/rpm.docker.tar" localhost/bulwark-test/rpm:1
  touch "$OUT/.stamp-rpm"
fi

log "images ready in $OUT"
ls -la "$OUT" >&2
