#!/usr/bin/env python3
"""Generates N realistic OSV records into one zip (the shape of osv.dev's all.zip) for
the vulnerability-DB import benchmark.

Record shapes follow the real data in shared/fixtures/osv: GHSA-like records for npm,
PyPI, Maven, Go and crates.io (SEMVER/ECOSYSTEM ranges, CVSS vectors, references, a
database_specific block, sometimes a versions list), and distro records (Debian:N,
Ubuntu:N, AlmaLinux:N) with introduced "0" + fixed. Sizes are drawn so the average
record is about 2.5 KB of JSON, like osv.dev's exports.

Usage: bench/gen-osv.py OUT.zip [N] [SEED]
"""

import json
import random
import sys
import zipfile

WORDS = (
    "remote attacker crafted request buffer overflow denial service allows arbitrary code "
    "execution via parser memory corruption authentication bypass improper validation input "
    "path traversal injection leads to information disclosure heap use after free integer "
    "signedness race condition certificate verification template sandbox escape"
).split()

ECOSYSTEMS = [
    ("npm", "SEMVER", 0.22),
    ("PyPI", "ECOSYSTEM", 0.16),
    ("Maven", "ECOSYSTEM", 0.14),
    ("Go", "SEMVER", 0.08),
    ("crates.io", "SEMVER", 0.04),
    ("Debian", "ECOSYSTEM", 0.16),
    ("Ubuntu", "ECOSYSTEM", 0.12),
    ("AlmaLinux", "ECOSYSTEM", 0.08),
]
RELEASES = {"Debian": ["10", "11", "12", "13"], "Ubuntu": ["20.04:LTS", "22.04:LTS", "24.04:LTS"], "AlmaLinux": ["8", "9"]}


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def version(rng):
    return f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"


def package_name(rng, eco, npkg):
    i = rng.randint(0, npkg)
    if eco == "Maven":
        return f"org.example{i % 500}:artifact-{i}"
    if eco == "Go":
        return f"github.com/example{i % 700}/module{i}"
    return f"pkg-{eco.lower()}-{i}"


def record(rng, i):
    r = rng.random()
    acc = 0.0
    for eco, rtype, w in ECOSYSTEMS:
        acc += w
        if r <= acc:
            break
    distro = eco in RELEASES
    prefix = {"Debian": "DEBIAN-CVE", "Ubuntu": "UBUNTU-CVE", "AlmaLinux": "ALSA"}.get(eco, "GHSA")
    cve = f"CVE-{rng.randint(2005, 2026)}-{rng.randint(1000, 99999)}"
    rid = f"{prefix}-{i:07d}" if not distro else f"{prefix}-{cve[4:]}-{i}"
    affected = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        name = package_name(rng, eco, 40_000)
        ecosystem = f"{eco}:{rng.choice(RELEASES[eco])}" if distro else eco
        fixed = version(rng)
        events = [{"introduced": "0"}, {"fixed": fixed}]
        if not distro and rng.random() < 0.3:
            events = [{"introduced": version(rng)}, {"fixed": fixed}]
        a = {"package": {"ecosystem": ecosystem, "name": name, "purl": f"pkg:generic/{name}"},
             "ranges": [{"type": rtype, "events": events}]}
        if rtype == "ECOSYSTEM" and rng.random() < 0.35:
            a["versions"] = [version(rng) for _ in range(rng.randint(1, 60))]
        if not distro:
            a["database_specific"] = {"source": f"https://example.invalid/advisories/{rid}.json"}
        affected.append(a)
    rec = {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": f"20{rng.randint(18, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        "published": f"20{rng.randint(10, 18)}-01-01T00:00:00Z",
        "aliases": [cve] if not distro else [],
        "upstream": [cve] if distro else [],
        "summary": text(rng, rng.randint(5, 14)),
        "details": text(rng, rng.randint(30, 260)),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": affected,
        "references": [{"type": "WEB", "url": f"https://example.invalid/{rid}/{k}"} for k in range(rng.randint(1, 8))],
        "database_specific": {"severity": rng.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"]), "cwe_ids": ["CWE-79"]},
    }
    if rng.random() < 0.01:
        rec["withdrawn"] = "2024-01-01T00:00:00Z"
    return rec


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    total = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for i in range(n):
            rec = record(rng, i)
            data = json.dumps(rec, indent=2).encode()
            total += len(data)
            z.writestr(f"{rec['id']}.json", data)
    print(f"{n} records, {total / n:.0f} bytes of JSON each on average, written to {out}")


if __name__ == "__main__":
    main()
