"""Shared helpers for the whole-program benchmarks in this folder."""
import re
import subprocess
import sys


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
