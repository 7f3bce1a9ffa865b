#!/usr/bin/env python3
"""Side-by-side harness: bulwark's misconfiguration rules against Hadolint, Trivy and
(when installed) Checkov, per rule and per file, on two corpora of real-world files.

* Dockerfiles found on this machine (/usr, /opt, /root, /work/shared) and in the repo's
  examples/: bulwark (the `dockerfile-scan` example of bulwark-misconfig, which makes the
  same library call as `bulwark config`) vs Hadolint (DL rules) and Trivy (DS rules).
* Kubernetes manifests: YAML/JSON files with `apiVersion` and a workload `kind` found
  under /usr, /opt, the repo's examples/ and crates/*/tests/, plus the pass and fail Pods
  of the newest version of the upstream Pod Security Standards fixtures
  (/work/shared/fixtures/pss/LEVEL/vNEWEST): `bulwark config FILE... --format json`
  (the default `--checks all` run, plus a `--checks pss-baseline` run, see
  run_bulwark_k8s) vs Trivy (KSV rules) and Checkov (CKV_K8S rules).

Rules are matched through bulwark's aliases (each bulwark check names the other tools'
ids for the same rule). For every rule the table counts files where both tools report
it, where only bulwark does and where only the other tool does. docs/side-by-side.md
explains every disagreement.

* The public corpus /work/shared/fixtures/k8s-corpus (`--corpus k8s-corpus`): real
  manifests and Compose files from 47 projects, unchanged upstream (multi-document files,
  rendered charts, CRDs, RBAC), every `.yaml`/`.yml` file of its k8s/ and compose/
  folders; bulwark as for `k8s` vs Trivy and Checkov. Files bulwark could not read are
  listed with the reason (never counted as clean), then per-rule tables and the totals.

Usage: bench/misconfig-vs-hadolint-trivy.py [--corpus dockerfile,k8s,k8s-corpus] [--limit N]
           [--bulwark PATH] [extra dirs...]
Environment: BENCH_DETAIL=1 lists the disagreeing files of every rule; BENCH_DEBUG=1
runs the dockerfile-scan example in a debug build.
Needs /opt/bench-venv/bin/{hadolint,trivy} (or on PATH); build bulwark first with
`cargo build --release -p bulwark-cli`. Trivy runs offline with its embedded checks.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from benchlib import (agreement, norm_id, print_agreement, run_checkov, run_trivy,
                      walk_files)

HADOLINT = shutil.which("hadolint") or "/opt/bench-venv/bin/hadolint"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PSS = "/work/shared/fixtures/pss"
PUBLIC_CORPUS = os.environ.get("BENCH_K8S_CORPUS", "/work/shared/fixtures/k8s-corpus")
WORKLOAD_KINDS = ("Pod", "Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob",
                  "ReplicaSet", "ReplicationController", "PodTemplate")
# A workload kind as a YAML key (also inside a `List`'s items) or a JSON member.
KIND_RE = re.compile(r'^\s*(?:-\s+)?"?kind"?\s*:\s*["\']?(?:%s)["\']?\s*,?\s*$'
                     % "|".join(WORKLOAD_KINDS), re.M)
API_RE = re.compile(r'^\s*(?:-\s+)?"?apiVersion"?\s*:', re.M)


def dockerfile_corpus(extra):
    def want(_p, name):
        low = name.lower()
        named = low in ("dockerfile", "containerfile") \
            or low.startswith(("dockerfile.", "dockerfile-")) \
            or low.endswith((".dockerfile", ".containerfile"))
        return named and not low.endswith((".json", ".golden", ".vim", ".md"))
    roots = ["/usr", "/opt", "/root", "/work/shared", os.path.join(ROOT, "examples")]
    return walk_files(roots + extra, want)


def newest_pss_files():
    """pass/ and fail/ Pods of the newest version folder of every PSS level."""
    out = []
    for level in ("baseline", "restricted"):
        d = os.path.join(PSS, level)
        if not os.path.isdir(d):
            continue
        vers = [v for v in os.listdir(d) if re.fullmatch(r"v1\.\d+", v)]
        if not vers:
            continue
        newest = max(vers, key=lambda v: int(v.split(".")[1]))
        for kind in ("pass", "fail"):
            out += walk_files([os.path.join(d, newest, kind)], lambda _p, n: n.endswith(".yaml"))
    return out


def k8s_corpus(extra):
    def want(p, name):
        if not name.lower().endswith((".yaml", ".yml", ".json")):
            return False
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                text = fh.read(1 << 20)
        except OSError:
            return False
        return bool(KIND_RE.search(text) and API_RE.search(text))
    tests = [os.path.join(ROOT, "crates", c, "tests") for c in os.listdir(os.path.join(ROOT, "crates"))]
    roots = ["/usr", "/opt", os.path.join(ROOT, "examples")] + tests + extra
    # The PSS fixtures hold every version (~4,500 near-identical Pods): only the newest.
    return sorted(set(walk_files(roots, want, prune=(PSS,)) + newest_pss_files()))


def public_k8s_corpus():
    """Every YAML file of the public k8s-corpus (k8s/ and compose/)."""
    roots = [os.path.join(PUBLIC_CORPUS, d) for d in ("k8s", "compose")]
    missing = [r for r in roots if not os.path.isdir(r)]
    if missing:
        sys.exit(f"k8s-corpus folder(s) missing: {', '.join(missing)}")
    return walk_files(roots, lambda _p, n: n.lower().endswith((".yaml", ".yml")))


def print_totals(files, bw, others):
    """Per tool: files with a finding, (file, rule) pairs, distinct rules."""
    print(f"\n== totals over {len(files)} files")
    print(f"{'tool':10} {'files':>6} {'file-rule pairs':>16} {'rules':>6}")
    rows = [("bulwark", {f: {c for c, _ in v} for f, v in bw.items()})]
    rows += [(t, r) for t, r, _ in others if r is not None]
    for tool, res in rows:
        flagged = [f for f in files if res.get(f)]
        pairs = sum(len(res.get(f) or ()) for f in files)
        rules = {i for f in files for i in (res.get(f) or ())}
        print(f"{tool:10} {len(flagged):6} {pairs:16} {len(rules):6}")


def run_bulwark_dockerfiles(files):
    cmd = ["cargo", "run", "-q", "--release", "-p", "bulwark-misconfig", "--example",
           "dockerfile-scan", "--"] + files
    if os.environ.get("BENCH_DEBUG"):
        cmd.remove("--release")
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout
    res, errors = {}, {}
    for line in out.splitlines():
        d = json.loads(line)
        if "error" in d:
            errors[d["path"]] = d["error"]
            continue
        res[d["path"]] = [(f["check_id"], [norm_id(a) for a in f.get("aliases", [])])
                          for f in d["findings"]]
    return res, errors


def bulwark_config(files, exe, checks):
    """`bulwark config --checks CHECKS FILE... --format json`, one process for the corpus.

    Returns ({file: [(check id, [aliases])]}, {file: warning})."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        # An empty ignore file, so a .bulwarkignore in the current directory cannot hide anything.
        ign = os.path.join(tmp, "ignore.yaml")
        open(ign, "w").close()
        p = subprocess.run([exe, "config", "--checks", checks, "--format", "json", "-o", out,
                            "--ignorefile", ign] + files, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"bulwark config failed ({p.returncode}):\n{p.stderr[-2000:]}")
        with open(out) as fh:
            doc = json.load(fh)
    res = {f: [] for f in files}
    for m in doc.get("misconfigurations") or []:
        if m["path"] in res:
            res[m["path"]].append((m["check_id"], [norm_id(a) for a in m.get("aliases", [])]))
    # A file with a warning but also findings was read (a repeated key, a RUN too large
    # to check in full): it stays in the comparison. One with a warning and no findings
    # could not be read and is listed instead.
    errors = {w["path"]: w.get("message", "") for w in doc.get("warnings") or []
              if w.get("path") in res and not res[w["path"]]}
    return res, errors


def run_bulwark_k8s(files, exe):
    """bulwark's default run (`--checks all`) plus a `--checks pss-baseline` run.

    Like the Pod Security Admission library, bulwark lets a restricted control replace
    its baseline form when both run (restricted volume types replace hostPath volumes,
    restricted capabilities and seccomp replace theirs), so a default run reports a
    hostPath volume once, as BW-PSS-volume-types. Trivy keeps both forms as separate rules
    (KSV-0023 and KSV-0028); the second run lets each baseline control be compared with
    its own Trivy rule."""
    res, errors = bulwark_config(files, exe, "all")
    base, _ = bulwark_config(files, exe, "pss-baseline")  # same files, same warnings
    for f, found in base.items():
        seen = {c for c, _ in res.get(f, [])}
        res.setdefault(f, []).extend(x for x in found if x[0] not in seen)
    for f in errors:
        res.pop(f, None)
    return res, errors


def run_hadolint(files):
    res = {}
    with tempfile.TemporaryDirectory() as cwd:
        for f in files:
            p = subprocess.run([HADOLINT, "--no-fail", "-f", "json", f], cwd=cwd,
                               capture_output=True, text=True)
            try:
                res[f] = {x["code"] for x in json.loads(p.stdout or "[]")}
            except json.JSONDecodeError:
                res[f] = {"DL1000"}
    return res


def report(kind, files, bw, errors, others, detail):
    print(f"\n### {kind}: {len(files)} files, bulwark could not read {len(errors)}")
    for p, e in sorted(errors.items()):
        print(f"  {p}: {e}")
    for tool, theirs, prefix in others:
        if theirs is None:
            print(f"\n== {kind} vs {tool}: not installed, skipped")
            continue
        print_agreement(f"{kind} vs {tool} ({prefix}* rules)", agreement(files, bw, theirs, prefix), detail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="dockerfile,k8s")
    ap.add_argument("--limit", type=int, default=0, help="first N files of each corpus")
    ap.add_argument("--bulwark", default=os.path.join(ROOT, "target", "release", "bulwark"))
    ap.add_argument("extra", nargs="*", help="more directories to search")
    a = ap.parse_args()
    detail = bool(os.environ.get("BENCH_DETAIL"))
    kinds = {k.strip() for k in a.corpus.split(",") if k.strip()}
    if not kinds <= {"dockerfile", "k8s", "k8s-corpus"}:
        sys.exit(f"--corpus: unknown corpus in {a.corpus!r} (dockerfile, k8s, k8s-corpus)")
    if "dockerfile" in kinds:
        files = dockerfile_corpus(a.extra)
        files = files[:a.limit] if a.limit else files
        bw, errors = run_bulwark_dockerfiles(files)
        hd = run_hadolint(files) if os.path.exists(HADOLINT) else None
        tv = run_trivy(files, stage_name="Dockerfile")
        ck = run_checkov(files, "dockerfile")
        report("Dockerfiles", files, bw, errors,
               [("hadolint", hd, "DL"), ("trivy", tv, "DS-"), ("checkov", ck, "CKV_DOCKER_")], detail)
    if "k8s" in kinds:
        if not os.path.exists(a.bulwark):
            sys.exit(f"{a.bulwark} missing: run `cargo build --release -p bulwark-cli` first")
        files = k8s_corpus(a.extra)
        files = files[:a.limit] if a.limit else files
        bw, errors = run_bulwark_k8s(files, a.bulwark)
        tv = run_trivy(files)
        ck = run_checkov(files, "kubernetes")
        report("Kubernetes manifests", files, bw, errors,
               [("trivy", tv, "KSV-"), ("checkov", ck, "CKV_K8S_")], detail)
    if "k8s-corpus" in kinds:
        if not os.path.exists(a.bulwark):
            sys.exit(f"{a.bulwark} missing: run `cargo build --release -p bulwark-cli` first")
        files = public_k8s_corpus()
        files = files[:a.limit] if a.limit else files
        bw, errors = run_bulwark_k8s(files, a.bulwark)
        tv = run_trivy(files)
        ck = run_checkov(files, "kubernetes")
        others = [("trivy", tv, "KSV-"), ("checkov", ck, "CKV_K8S_")]
        report("k8s-corpus", files, bw, errors, others, detail)
        print_totals(files, bw, others)


if __name__ == "__main__":
    main()
