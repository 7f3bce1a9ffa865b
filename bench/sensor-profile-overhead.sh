#!/usr/bin/env bash
# Cost of learned profiles on the sensor's event path: an open storm (300,000 opens of
# /etc/hostname by perl) inside a podman container, with `bulwark sensor
# --containers-only` running without and with `--profiles DIR --learn 1s` (the window
# closes before the storm, so every open is checked against the enforced profile).
# Prints, per run, the storm's wall time, the sensor's CPU ticks (1/100 s) during the
# storm, the events it processed and the anomalies raised. Needs root, BPF, podman and
# the test image (scripts/build-test-images.sh). Uses the dev build of the CLI.
set -u
cd "$(dirname "$0")/.."
cargo build -q -p bulwark-cli >&2
B=$PWD/target/debug/bulwark
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
podman system service --time 0 unix://$W/api.sock >/dev/null 2>&1 &
SVC=$!
sleep 2
C=$(podman run -d --rm --network none localhost/bulwark-test/debian-base:1 sleep 600)
storm() { local t0 t1; t0=$(date +%s.%N); podman exec $C perl -e 'for (1..$ARGV[0]) { open(my $f, "<", "/etc/hostname") or die; close $f }' 300000; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
run() { # $@ = extra flags
  rm -f $W/ready $W/stats.json
  $B -q sensor --containers-only --api-socket $W/api.sock --output $W/alerts.jsonl --stats $W/stats.json --ready-file $W/ready "$@" &
  P=$!
  while [ ! -f $W/ready ]; do sleep 0.1; done
  podman exec $C cat /etc/hostname >/dev/null; sleep 2.5   # learning (1s) closes
  c0=$(awk '{print $14+$15}' /proc/$P/stat); t=$(storm); c1=$(awk '{print $14+$15}' /proc/$P/stat)
  kill -TERM $P; wait $P 2>/dev/null
  ev=$(python3 -c "import json;print(json.load(open('$W/stats.json'))['processed'])")
  an=$(python3 -c "import json;print(json.load(open('$W/stats.json'))['anomalies'])")
  echo "flags=[$*] storm=${t}s sensor_cpu_ticks=$((c1-c0)) processed=$ev anomalies=$an"
}
for i in 1 2; do
  run
  rm -rf $W/prof; run --profiles $W/prof --learn 1s
done
podman rm -f -t0 $C >/dev/null
kill "$SVC" 2>/dev/null || true
