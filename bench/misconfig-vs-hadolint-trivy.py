#!/usr/bin/env python3
"""Compare bulwark's Dockerfile rules with Hadolint and Trivy on a corpus of real
Dockerfiles found on this machine (and the repo's examples/), per rule and per file.

Usage: bench/misconfig-vs-hadolint-trivy.py [--limit N] [extra dirs...]
Needs /opt/bench-venv/bin/{hadolint,trivy}; bulwark is run via
`cargo run --release -p bulwark-misconfig --example dockerfile-scan`.
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

HADOLINT = "/opt/bench-venv/bin/hadolint"
TRIVY = "/opt/bench-venv/bin/trivy"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
SKIP = ("/proc", "/sys", "/dev", "/run", "/tmp/bash_jobs")


def corpus(extra, limit):
    roots = ["/usr", "/opt", "/root", "/work/shared", os.path.join(ROOT, "examples")] + extra
    found = []
    for r in roots:
        for d, dirs, files in os.walk(r):
            if d.startswith(SKIP) or "/target/" in d + "/":
                dirs[:] = []
                continue
            for f in files:
                low = f.lower()
                named = low == "dockerfile" or low.startswith(("dockerfile.", "dockerfile-")) \
                    or low.endswith((".dockerfile", ".containerfile")) or low == "containerfile"
                if named and not low.endswith((".json", ".golden", ".vim", ".md")):
                    p = os.path.join(d, f)
                    if os.path.isfile(p) and os.path.getsize(p) < 1 << 20:
                        found.append(p)
    found = sorted(set(found))
    return found[:limit] if limit else found


def norm(i):
    """DS-0001 / DS001 / AVD-DS-0001 -> DS-0001."""
    i = i.upper().replace("AVD-", "")
    if i.startswith("DS") and "-" not in i:
        i = "DS-" + i[2:].zfill(4)
    return i


def run_bulwark(files):
    cmd = ["cargo", "run", "-q", "--release", "-p", "bulwark-misconfig", "--example", "dockerfile-scan", "--"] + files
    if os.environ.get("BENCH_DEBUG"):
        cmd.remove("--release")
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout
    res, errors = {}, {}
    for line in out.splitlines():
        d = json.loads(line)
        if "error" in d:
            errors[d["path"]] = d["error"]
            continue
        res[d["path"]] = [(f["check_id"], [norm(a) for a in f.get("aliases", [])]) for f in d["findings"]]
    return res, errors


def run_hadolint(files):
    res = {}
    with tempfile.TemporaryDirectory() as cwd:
        for f in files:
            p = subprocess.run([HADOLINT, "--no-fail", "-f", "json", f], cwd=cwd, capture_output=True, text=True)
            try:
                res[f] = {x["code"] for x in json.loads(p.stdout or "[]")}
            except json.JSONDecodeError:
                res[f] = {"DL1000"}
    return res


def run_trivy(files):
    res = {f: set() for f in files}
    with tempfile.TemporaryDirectory() as cache:
        for f in files:
            with tempfile.TemporaryDirectory() as d:
                # Trivy does not follow symlinks when walking a directory: copy.
                shutil.copyfile(f, os.path.join(d, "Dockerfile"))
                p = subprocess.run([TRIVY, "config", "--format", "json", "--skip-check-update", "--cache-dir", cache,
                                    "--disable-telemetry", "--skip-version-check", "-q", d],
                                   capture_output=True, text=True)
                try:
                    doc = json.loads(p.stdout or "{}")
                except json.JSONDecodeError:
                    continue
                for r in doc.get("Results") or []:
                    for m in r.get("Misconfigurations") or []:
                        if m.get("Status", "FAIL") == "FAIL":
                            res[f].add(norm(m.get("ID") or m.get("AVDID", "")))
    return res


def main():
    args = sys.argv[1:]
    limit = 0
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    files = corpus(args, limit)
    print(f"corpus: {len(files)} Dockerfiles")
    bw, errors = run_bulwark(files)
    hd = run_hadolint(files) if os.path.exists(HADOLINT) else {}
    tv = run_trivy(files) if os.path.exists(TRIVY) else {}
    # For each bulwark rule with an alias of the other tool: per file, both / only bulwark / only other.
    table = collections.defaultdict(lambda: collections.Counter())
    for f in files:
        if f in errors:
            continue
        mine = bw.get(f, [])
        for tool, theirs, prefix in (("hadolint", hd.get(f), "DL"), ("trivy", tv.get(f), "DS-")):
            if theirs is None:
                continue
            ids = {}
            for check, aliases in mine:
                for a in aliases:
                    if a.startswith(prefix):
                        ids.setdefault(a, set()).add(check)
            rule_ids = {a for c, al in mine for a in al if a.startswith(prefix)} | {t for t in theirs if t.startswith(prefix)}
            for r in rule_ids:
                m, t = r in ids, r in theirs
                key = (tool, r)
                table[key]["both" if m and t else "bulwark-only" if m else "other-only"] += 1
    print(f"bulwark parse errors: {len(errors)}")
    for p, e in sorted(errors.items()):
        print(f"  {e}")
    print(f"\n{'tool':9} {'rule':8} {'both':>5} {'bw-only':>8} {'other-only':>10}")
    for (tool, r), c in sorted(table.items()):
        print(f"{tool:9} {r:8} {c['both']:5} {c['bulwark-only']:8} {c['other-only']:10}")
    if os.environ.get("BENCH_DETAIL"):
        for f in files:
            print(f, sorted(c for c, _ in bw.get(f, [])), sorted(hd.get(f, [])), sorted(tv.get(f, [])))


if __name__ == "__main__":
    main()
