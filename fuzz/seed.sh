#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the shared fixtures at run time, so no fixture bytes are
# committed. Only files up to MAX_SEED_BYTES (default 2 MiB) are copied: libFuzzer
# mutates small inputs far more efficiently. Targets that multiplex several parsers take
# a selector as their first byte; their seeds are written with the matching prefix.
# Usage: fuzz/seed.sh [fixtures-dir]   (default: ../shared/fixtures from the repo root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fx="${1:-$here/../../shared/fixtures}"
[ -d "$fx" ] || { echo "fixtures not found: $fx" >&2; exit 1; }
max="${MAX_SEED_BYTES:-2097152}"
corpus="$here/corpus"

# seed TARGET SELECTOR PATH... — SELECTOR is a byte value 0-255, or "-" for none.
seed() {
  local target="$1" sel="$2"; shift 2
  local dir="$corpus/$target"
  mkdir -p "$dir"
  local p f n=0
  for p in "$@"; do
    [ -e "$fx/$p" ] || continue
    while IFS= read -r -d '' f; do
      local size; size=$(stat -c %s "$f")
      [ "$size" -le "$max" ] || continue
      local name; name="seed-$(printf '%s' "$f" | sha1sum | cut -c1-16)"
      if [ "$sel" = "-" ]; then
        cp "$f" "$dir/$name"
      else
        { printf "\\x$(printf %02x "$sel")"; cat "$f"; } > "$dir/$name"
      fi
      n=$((n + 1))
    done < <(find "$fx/$p" -type f ! -name '*.expected.json' ! -name '*.golden' -print0)
  done
  echo "$target: $n seed files" >&2
}

# inline TARGET NAME TEXT — a small hand-written seed where no fixture exists.
inline() {
  mkdir -p "$corpus/$1"
  printf '%s' "$3" > "$corpus/$1/inline-$2"
}

seed dpkg_status - dpkg/trivy-valid dpkg/trivy-corrupsed dpkg/trivy-third-party dpkg/trivy-digest \
  dpkg/status.d dpkg/distroless-status.d dpkg/opkg
seed apk_installed - apk
seed rpm_manifest - rpm/rpmmanifest
seed rpmdb 0 rpm/cbl-mariner-2.0-sqlite
seed rpmdb 1 rpm/sle15-bci-ndb
seed rpmdb 2 rpm/libuuid-bdb rpm/syft-bdb
seed os_release - os-release
seed npm - npm/package-lock_v1.json npm/package-lock_v2.json npm/package-lock_v3.json \
  npm/package-lock_v3_with_workspace.json npm/package-json
seed yarn_lock - yarn
seed pnpm_lock - pnpm
seed bun_lock - bun
seed python_lock 0 python/pip
seed python_lock 1 python/poetry
seed python_lock 2 python/pipenv
seed python_lock 3 python/uv
seed python_lock 4 python/pylock
seed python_metadata - python/packaging python/egg
seed cargo_lock - cargo/cargo_normal.lock cargo/cargo_v3.lock cargo/cargo_mixed.lock cargo/cargo_invalid.lock
seed rust_binary - cargo/auditable-binary
seed go_binary - go/binary
seed go_mod - go/mod go/sum
seed jar - java/jar
seed java_text - java/pom java/pom-properties java/manifest java/gradle java/sbt
seed ruby - ruby
seed composer - php
seed dotnet 0 dotnet/deps-json
seed dotnet 1 dotnet/packages-config
seed dotnet 2 dotnet/packages-lock
seed dotnet 3 dotnet/packages-props
seed dotnet 4 dotnet/nuget-global-packages
seed other_lang 0 elixir
seed other_lang 1 swift
seed other_lang 2 conda/conda-meta
seed other_lang 3 conda/environment
seed other_lang 4 julia
seed other_lang 5 conan
seed other_lang 6 cocoapods
seed other_lang 7 dart
seed dockerfile - redhat-buildinfo/root/buildinfo
seed k8s - pss/baseline/v1.30 pss/restricted/v1.30
seed admission - pss/baseline/v1.30 pss/restricted/v1.30 k8s-corpus/k8s
seed k8s_analysis - k8s-corpus/k8s
inline admission review '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"namespace":"shop","operation":"CREATE","userInfo":{"username":"system:serviceaccount:ci:deployer","groups":["system:serviceaccounts"]},"object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"team":"a"}},"spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27","securityContext":{"privileged":true}}],"ephemeralContainers":[{"name":"dbg","image":"busybox"}]}}}}}}'
seed osv - osv/Debian osv/PyPI osv/npm osv/Go osv/crates.io osv/Maven
seed sbom - sbom

# The SQLite rpmdb fixture is too big to mutate well; when python3 is around, cut it down to
# a few packages (also giving `rpm_header` real header blobs to start from).
sqlite_src="$fx/rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite"
if command -v python3 >/dev/null && [ -f "$sqlite_src" ]; then
  mkdir -p "$corpus/rpmdb" "$corpus/rpm_header"
  python3 - "$sqlite_src" "$corpus" <<'PY'
import os, sqlite3, sys, tempfile
src, corpus = sys.argv[1], sys.argv[2]
rows = sqlite3.connect(src).execute("SELECT hnum, blob FROM Packages ORDER BY length(blob) LIMIT 3").fetchall()
for hnum, blob in rows:
    open(os.path.join(corpus, "rpm_header", f"sqlite-hdr-{hnum}"), "wb").write(blob)
with tempfile.TemporaryDirectory() as d:
    db = os.path.join(d, "small.sqlite")
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)")
    c.executemany("INSERT INTO Packages VALUES (?, ?)", rows)
    c.commit()
    c.close()
    open(os.path.join(corpus, "rpmdb", "sqlite-small"), "wb").write(b"\x00" + open(db, "rb").read())
PY
  echo "rpmdb/rpm_header: small SQLite db and 3 header blobs" >&2
fi

# `layer`: real layer blobs — plain, gzip and zstd tars of small fixture files laid out as
# in an image (without seeds libFuzzer caps inputs at 4 KiB and never reaches the tar
# parser past the first header). A whiteout and a symlink are included.
if command -v tar >/dev/null && command -v gzip >/dev/null; then
  mkdir -p "$corpus/layer"
  work="$(mktemp -d)"
  root="$work/root"
  mkdir -p "$root/var/lib/dpkg" "$root/lib/apk/db" "$root/etc" "$root/usr/lib/python3/dist-packages/x-1.0.dist-info" "$root/app"
  cp "$fx/dpkg/trivy-valid/var/lib/dpkg/status" "$root/var/lib/dpkg/status" 2>/dev/null || true
  first_apk="$(find "$fx/apk" -type f -name installed -print -quit 2>/dev/null)"
  [ -n "$first_apk" ] && head -c 20000 "$first_apk" > "$root/lib/apk/db/installed"
  first_release="$(find "$fx/os-release" -type f -print -quit 2>/dev/null)"
  [ -n "$first_release" ] && cp "$first_release" "$root/etc/os-release"
  [ -f "$fx/npm/package-lock_v3.json" ] && cp "$fx/npm/package-lock_v3.json" "$root/app/package-lock.json"
  first_meta="$(find "$fx/python/packaging" -type f -name METADATA -print -quit 2>/dev/null)"
  [ -n "$first_meta" ] && cp "$first_meta" "$root/usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA"
  ln -s ../var/lib/dpkg/status "$root/app/status-link"
  : > "$root/app/.wh.removed"
  tar -C "$root" --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" .
  cp "$work/layer.tar" "$corpus/layer/seed-plain.tar"
  gzip -9 -c "$work/layer.tar" > "$corpus/layer/seed-gzip.tar.gz"
  if command -v zstd >/dev/null; then
    zstd -q -19 -c "$work/layer.tar" > "$corpus/layer/seed-zstd.tar.zst"
  else
    echo "warning: zstd not installed; no zstd layer seed" >&2
  fi
  # A tiny layer too: mutations of small inputs are cheap.
  tar -C "$root" --owner=0 --group=0 --numeric-owner -cf "$work/small.tar" ./etc ./app/status-link ./app/.wh.removed
  cp "$work/small.tar" "$corpus/layer/seed-small.tar"
  gzip -c "$work/small.tar" > "$corpus/layer/seed-small.tar.gz"
  rm -rf "$work"
  echo "layer: $(find "$corpus/layer" -type f | wc -l) seed files" >&2
else
  echo "warning: tar/gzip missing; no layer seeds" >&2
fi

# `vex`: no VEX documents among the fixtures, so well-formed OpenVEX and CycloneDX VEX
# documents are generated from the real findings (ids and purls) in Trivy's golden outputs.
if command -v python3 >/dev/null; then
  mkdir -p "$corpus/vex"
  python3 - "$fx/trivy-output" "$corpus/vex" <<'PY'
import glob, json, os, sys
src, out = sys.argv[1], sys.argv[2]
pairs = []
for f in sorted(glob.glob(os.path.join(src, "*.json.golden"))):
    try:
        doc = json.load(open(f))
    except Exception:
        continue
    for res in doc.get("Results") or []:
        for v in res.get("Vulnerabilities") or []:
            purl = (v.get("PkgIdentifier") or {}).get("PURL")
            if v.get("VulnerabilityID") and purl:
                pairs.append((v["VulnerabilityID"], purl))
statuses = [("not_affected", "vulnerable_code_not_in_execute_path"), ("affected", None),
            ("fixed", None), ("under_investigation", None), ("not_affected", "component_not_present")]
cdx_states = ["not_affected", "exploitable", "resolved", "in_triage", "false_positive"]
for n, chunk in enumerate(range(0, min(len(pairs), 60), 12)):
    part = pairs[chunk:chunk + 12]
    stmts = []
    for i, (vid, purl) in enumerate(part):
        st, just = statuses[i % len(statuses)]
        s = {"vulnerability": {"name": vid}, "products": [{"@id": "pkg:oci/app@sha256:" + "ab" * 32,
             "subcomponents": [{"@id": purl}]}], "status": st,
             "timestamp": "2024-0%d-01T00:00:00Z" % (1 + i % 9)}
        if just:
            s["justification"] = just
        if st == "affected":
            s["action_statement"] = "upgrade"
        stmts.append(s)
    json.dump({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex/%d" % n,
               "author": "seed", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": stmts},
              open(os.path.join(out, "gen-openvex-%d.json" % n), "w"))
    comps = [{"bom-ref": "c%d" % i, "type": "library", "name": p.split("/")[-1].split("@")[0], "purl": p}
             for i, (_, p) in enumerate(part)]
    vulns = [{"id": vid, "affects": [{"ref": "c%d" % i}],
              "analysis": {"state": cdx_states[i % len(cdx_states)], "justification": "code_not_reachable"}}
             for i, (vid, _) in enumerate(part)]
    json.dump({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": comps,
               "vulnerabilities": vulns}, open(os.path.join(out, "gen-cdx-%d.json" % n), "w"))
print("vex: %d generated documents from %d findings" % (len(os.listdir(out)), len(pairs)), file=sys.stderr)
PY
else
  echo "warning: python3 missing; vex has only the inline seeds" >&2
fi

inline dockerfile multi 'FROM alpine:3.19 AS build
ARG V=1
RUN apk add --no-cache curl \
    && curl -fsSL https://example.invalid/x | sh
COPY --from=build --chown=1:1 /a /b
FROM scratch
USER root
HEALTHCHECK CMD ["true"]
ENTRYPOINT ["/b"]
'
inline compose basic 'services:
  web:
    image: nginx:latest
    privileged: true
    cap_add: [SYS_ADMIN]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
    network_mode: host
    security_opt:
      - seccomp:unconfined
  # bulwark:ignore=BWC-001
  db: {image: "postgres@sha256:abc", user: "0"}
'
inline ignore basic 'vulnerabilities:
  - id: CVE-2024-1234
    paths: ["usr/lib/**"]
    expires: 2030-01-01
    statement: not reachable
misconfigurations:
  - id: DS002
secrets:
  - id: aws-access-key-id
    paths: ["**/test/*"]
'
inline vex openvex '{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","timestamp":"2024-01-01T00:00:00Z","version":1,
"statements":[{"vulnerability":{"name":"CVE-2024-1"},"products":[{"@id":"pkg:npm/a@1.0.0","subcomponents":[{"@id":"pkg:npm/b@2"}]}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}'
inline vex cdx '{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"bom-ref":"r1","purl":"pkg:pypi/a@1"}],"vulnerabilities":[{"id":"CVE-2024-2","affects":[{"ref":"r1"}],"analysis":{"state":"not_affected","justification":"code_not_reachable"}}]}'
inline sbom cdx '{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"type":"container","name":"x"}},"components":[{"type":"library","name":"a","version":"1","purl":"pkg:npm/a@1","licenses":[{"license":{"id":"MIT"}}]}],"dependencies":[{"ref":"a","dependsOn":["b"]}]}'
inline sbom spdx '{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"x","packages":[{"SPDXID":"SPDXRef-a","name":"a","versionInfo":"1","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:deb/debian/a@1"}]}],"relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-a"}]}'
# `sensor_rules`: the shipped default rules, whole and split per item, plus a hand-written
# file with lists, macros, exceptions, an append and every condition operator.
mkdir -p "$corpus/sensor_rules"
cp "$here/../crates/bulwark-sensor/rules/default.yaml" "$corpus/sensor_rules/default.yaml"
python3 - "$here/../crates/bulwark-sensor/rules/default.yaml" "$corpus/sensor_rules" <<'PY'
import os, sys
text = open(sys.argv[1]).read()
parts = [p for p in text.split("\n- ") if p.strip()]
for n, p in enumerate(parts):
    body = p if p.startswith("- ") else "- " + p
    open(os.path.join(sys.argv[2], "item-%03d.yaml" % n), "w").write(body + "\n")
PY
inline sensor_rules ops '- list: shells
  items: [sh, bash]
- macro: in_ctr
  condition: container.id != host
- rule: r1
  desc: d
  condition: evt.type in (execve, openat) and in_ctr and proc.name in (shells) and not fd.name startswith /tmp and fd.name glob "/etc/*" and proc.cmdline contains "x" and fd.name pmatch (/etc, /usr) and proc.pname exists
  output: "%proc.name %fd.name"
  priority: WARNING
  tags: [T1059, mitre_execution]
  exceptions:
    - name: e
      fields: [proc.name]
      values: [[bash]]
- rule: r1
  append: true
  condition: or proc.name = zsh
'
