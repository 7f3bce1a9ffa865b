"""Shared helpers for the whole-program benchmarks in this folder."""
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def timed(cmd, ok_codes=(0,)):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, max RSS MiB).

    Exits with the command's stderr tail when it returns a code outside ok_codes."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode not in ok_codes:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    secs = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return secs, rss_kb / 1024.0


# ---------------------------------------------------------------------------------------
# Misconfiguration side-by-side (bench/misconfig-vs-hadolint-trivy.py): corpus walking,
# running Trivy/Checkov, and the per-rule agreement table.

TRIVY = shutil.which("trivy") or "/opt/bench-venv/bin/trivy"
# Pseudo-filesystems and the job spool of this machine: never part of a corpus.
SKIP_DIRS = ("/proc", "/sys", "/dev", "/run", "/tmp/bash_jobs")


def walk_files(roots, want, prune=()):
    """Sorted regular files under roots (< 1 MiB) for which want(path, basename) holds.

    Build output (`*/target/*`) and the `prune` prefixes are not descended into."""
    found = set()
    for r in roots:
        for d, dirs, files in os.walk(r):
            if d.startswith(SKIP_DIRS + tuple(prune)) or "/target/" in d + "/":
                dirs[:] = []
                continue
            for f in files:
                p = os.path.join(d, f)
                if os.path.isfile(p) and os.path.getsize(p) < 1 << 20 and want(p, f):
                    found.add(p)
    return sorted(found)


def norm_id(i):
    """One spelling per rule id: DS001 / AVD-DS-0001 -> DS-0001, KSV001 -> KSV-0001.

    Hadolint (DL3008) and Checkov (CKV_K8S_8) ids are returned unchanged (upper-cased)."""
    i = i.strip().upper().replace("AVD-", "")
    for p in ("KSV", "DS"):
        if i.startswith(p) and i[len(p):].isdigit():
            return f"{p}-{i[len(p):].zfill(4)}"
    return i


def run_trivy(files, stage_name=None):
    """Runs `trivy config` once, offline, over a staged copy of files.

    Returns ({file: set of failed rule ids}, {file: trivy error text}). Each file is
    copied (Trivy does not follow symlinks) to NNNNN/<name>, where name is stage_name
    (e.g. "Dockerfile", the only name Trivy recognises for every Dockerfile spelling) or
    the file's own basename."""
    res = {f: set() for f in files}
    with tempfile.TemporaryDirectory() as tmp:
        stage, cache = os.path.join(tmp, "in"), os.path.join(tmp, "cache")
        back = {}
        for n, f in enumerate(files):
            rel = os.path.join(f"{n:05d}", stage_name or os.path.basename(f))
            os.makedirs(os.path.join(stage, f"{n:05d}"))
            shutil.copyfile(f, os.path.join(stage, rel))
            back[rel] = f
        p = subprocess.run([TRIVY, "config", "--format", "json", "--skip-check-update",
                            "--cache-dir", cache, "--disable-telemetry", "--skip-version-check",
                            "-q", stage], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"trivy failed ({p.returncode}):\n{p.stderr[-2000:]}")
        doc = json.loads(p.stdout or "{}")
        for r in doc.get("Results") or []:
            f = back.get(r.get("Target", ""))
            if f is None:
                continue
            for m in r.get("Misconfigurations") or []:
                if m.get("Status", "FAIL") == "FAIL":
                    res[f].add(norm_id(m.get("ID") or m.get("AVDID", "")))
    return res


def checkov_path():
    """Checkov's executable, or None."""
    for cand in (os.environ.get("BULWARK_CHECKOV"), shutil.which("checkov"),
                 "/opt/checkov-venv/bin/checkov", "/opt/bench-venv/bin/checkov"):
        if cand and os.path.exists(cand):
            return cand
    return None


def run_checkov(files, framework):
    """Runs Checkov (only when installed: $BULWARK_CHECKOV, `checkov` on PATH, or the
    venv scripts/setup-test-env.sh makes) over files; {file: set of failed check ids},
    or None when Checkov is not installed."""
    exe = checkov_path()
    if not exe or not files:
        return None
    res = {f: set() for f in files}
    p = subprocess.run([exe, "--quiet", "--compact", "-o", "json", "--framework", framework,
                        "--skip-download", "-f"] + files, capture_output=True, text=True)
    try:
        doc = json.loads(p.stdout or "[]")
    except json.JSONDecodeError:
        sys.exit(f"checkov printed no JSON ({p.returncode}):\n{p.stderr[-2000:]}")
    by_abs = {os.path.abspath(f): f for f in files}
    for part in doc if isinstance(doc, list) else [doc]:
        for c in (part.get("results") or {}).get("failed_checks") or []:
            path = c.get("file_abs_path") or c.get("file_path", "")
            f = by_abs.get(os.path.abspath(path))
            if f is not None:
                res[f].add(norm_id(c.get("check_id", "")))
    return res


def alias_groups(bw, prefix):
    """{check id: tuple of its aliases starting with prefix}, from the findings seen.

    A bulwark check may carry several ids of one tool (host namespaces = KSV-0008,
    KSV-0009 and KSV-0010); such a group is one row, and the other tool agrees on a file
    when it reports any id of the group."""
    groups = {}
    for findings in bw.values():
        for check, aliases in findings:
            g = tuple(sorted({a for a in aliases if a.startswith(prefix)}))
            if g:
                groups[check] = g
    return groups


def agreement(files, bw, theirs, prefix):
    """Per-rule agreement of bulwark and one other tool over files.

    bw: {file: [(check id, [normalised aliases])]}; theirs: {file: set of rule ids}.
    Returns {row: {"both"|"bulwark-only"|"other-only": [files]}}, one row per alias group
    of a bulwark check (e.g. "KSV-0008|KSV-0009|KSV-0010") and one per rule of the other
    tool that no bulwark check that fired in this corpus aliases (marked with a trailing
    "*")."""
    groups = alias_groups(bw, prefix)
    rows = sorted(set(groups.values()))
    claimed = {i for g in rows for i in g}
    table = collections.defaultdict(lambda: collections.defaultdict(list))
    for f in files:
        other = theirs.get(f)
        if other is None or f not in bw:
            continue
        mine = {groups[c] for c, _ in bw[f] if c in groups}
        for g in rows:
            m, t = g in mine, any(i in other for i in g)
            if m or t:
                table["|".join(g)]["both" if m and t else "bulwark-only" if m else "other-only"].append(f)
        for i in sorted(other - claimed):
            if i.startswith(prefix):
                table[i + "*"]["other-only"].append(f)
    return table


def print_agreement(title, table, detail=False):
    """Prints an agreement table (file counts); with detail, the disagreeing files."""
    print(f"\n== {title}")
    print(f"{'rule':32} {'both':>5} {'bw-only':>8} {'other-only':>10}")
    for r in sorted(table):
        c = table[r]
        print(f"{r:32} {len(c['both']):5} {len(c['bulwark-only']):8} {len(c['other-only']):10}")
    print("(* = no bulwark check that fired in this corpus carries this id as an alias)")
    if detail:
        for r in sorted(table):
            for side in ("bulwark-only", "other-only"):
                for f in table[r][side]:
                    print(f"  {r} {side}: {f}")


def summarize(res):
    """{tool: [(wall, rss), ...]} -> {tool: (median wall, largest peak RSS)}."""
    return {t: (statistics.median(w for w, _ in v), max(m for _, m in v)) for t, v in res.items()}


def print_ratios(rows, left="bulwark s", right="trivy s"):
    """Prints one line per (image, kind, summary) row: both tools' wall time and peak
    memory and bulwark/Trivy ratios of each."""
    lw, rw = max(10, len(left)), max(10, len(right))
    print(f"{'image':40} {'kind':15} {left:>{lw}} {right:>{rw}} {'ratio':>7} "
          f"{'bulwark MiB':>12} {'trivy MiB':>10} {'ratio':>7}")
    for img, kind, med in rows:
        (bw, bm), (tw, tm) = med["bulwark"], med["trivy"]
        print(f"{os.path.basename(img.rstrip('/')):40} {kind:15} {bw:{lw}.3f} {tw:{rw}.3f} "
              f"{bw / tw:7.2f} {bm:12.1f} {tm:10.1f} {bm / tm:7.2f}")


def trivy_image(trivy, img, cache, out, *extra):
    """Trivy's offline `image --input` run on a local image, writing `out`."""
    return [trivy, "image", "--input", img, "--cache-dir", cache, "-o", out, "--quiet",
            "--skip-db-update", "--offline-scan", "--skip-version-check",
            "--disable-telemetry", *extra]


def compare_runs(images, runs, tmp, bulwark_cmd, trivy_cmd):
    """Runs both tools alternately `runs` times per image, each run with fresh caches
    under `tmp`; `bulwark_cmd(img, out, cache)` and `trivy_cmd(img, out, cache)` build
    the commands. Returns rows for print_ratios."""
    rows = []
    for img in images:
        res = {"bulwark": [], "trivy": []}
        kind = "oci-dir" if os.path.isdir(img) else "docker-archive"
        for i in range(runs):
            cache = os.path.join(tmp, f"cache-{len(rows)}-{i}")
            out = os.path.join(tmp, "out.json")
            res["bulwark"].append(timed(bulwark_cmd(img, out, cache + "-b")))
            res["trivy"].append(timed(trivy_cmd(img, out, cache)))
        rows.append((img, kind, summarize(res)))
    return rows
