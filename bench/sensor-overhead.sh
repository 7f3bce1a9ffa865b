#!/usr/bin/env bash
# Runtime sensor overhead: an exec storm (N runs of /bin/true from a shell loop) and an
# open storm (M open+close of a file from one perl process), each timed without and
# with `bulwark sensor` running the shipped default rules and watching every process
# (not --containers-only, so every event of the storm goes through the ring buffer and
# the rules). Reports the slowdown of each storm, the sensor's CPU (user+system time
# over the storms' wall time) and peak RSS, and the ring-buffer drops at the highest
# event rate seen. The open storm reads /etc/hostname, which no default rule can match:
# the kernel filters those opens out (docs/sensor.md, "In-kernel filtering"), as it
# would most of a real workload's reads. A third storm, M write-opens of a temporary
# file (never filtered: every one goes through the ring buffer and the rules), measures
# the drops and the event rate. Runs are interleaved (off, on, off, on) and the
# faster of each pair kept, to damp the noise of a shared machine.
#
# Usage: bench/sensor-overhead.sh [EXECS=20000] [OPENS=500000]
#   PROFILE=release (default) or dev: which build to measure. Needs root and BPF.
# Last line: sensor overhead: exec storm +X%, open storm +Y%, sensor CPU C%, RSS R MiB,
#            D drops at E events/s
set -euo pipefail
cd "$(dirname "$0")/.."
EXECS=${1:-20000}
OPENS=${2:-500000}
PROFILE=${PROFILE:-release}
export CARGO_PROFILE_DEV_DEBUG=0
if [ "$PROFILE" = release ]; then flag=--release; dir=release; else flag=; dir=debug; fi
cargo build -q $flag -p bulwark-cli >&2
BIN=target/$dir/bulwark
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

exec_storm() { local t0 t1; t0=$(date +%s.%N); for ((i = 0; i < EXECS; i++)); do /bin/true; done; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
open_storm() { local t0 t1; t0=$(date +%s.%N); perl -e 'for (1..$ARGV[0]) { open(my $f, "<", "/etc/hostname") or die; close $f }' "$OPENS"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
write_storm() { local t0 t1; t0=$(date +%s.%N); perl -e 'for (1..$ARGV[0]) { open(my $f, ">>", $ARGV[1]) or die; close $f }' "$OPENS" "$WORK/w"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
min() { echo "if ($1 < $2) $1 else $2" | bc -l; }

SENSOR_PID=
start_sensor() {
  rm -f "$WORK/ready" "$WORK/stats.json"
  "$BIN" -q sensor "$@" --output "$WORK/alerts.jsonl" --stats "$WORK/stats.json" --ready-file "$WORK/ready" &
  SENSOR_PID=$!
  for _ in $(seq 600); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
  [ -f "$WORK/ready" ] || { echo "sensor did not start" >&2; kill "$SENSOR_PID"; exit 2; }
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SENSOR_PID/stat"; }
stop_sensor() { kill -TERM "$SENSOR_PID"; wait "$SENSOR_PID" || true; }

echo "[sensor-overhead] $EXECS execs, $OPENS opens, $BIN" >&2
exec_off=999999; exec_on=999999; open_off=999999; open_on=999999; write_off=999999; write_on=999999; open_floor=999999
cpu_ticks_total=0; storm_wall=0; rss_kib=0; drops_total=0
for round in 1 2; do
  e=$(exec_storm); exec_off=$(min "$exec_off" "$e")
  o=$(open_storm); open_off=$(min "$open_off" "$o")
  w=$(write_storm); write_off=$(min "$write_off" "$w")
  start_sensor
  c0=$(cpu_ticks)
  e=$(exec_storm); exec_on=$(min "$exec_on" "$e")
  c1=$(cpu_ticks)
  ev0=$(date +%s.%N)
  o=$(open_storm); open_on=$(min "$open_on" "$o")
  w=$(write_storm); write_on=$(min "$write_on" "$w")
  c2=$(cpu_ticks)
  r=$(awk '/VmHWM/ {print $2}' "/proc/$SENSOR_PID/status")
  [ "$r" -gt "$rss_kib" ] && rss_kib=$r
  stop_sensor
  cpu_ticks_total=$(echo "$cpu_ticks_total + $c2 - $c0" | bc)
  storm_wall=$(echo "$storm_wall + $e + $o + $w" | bc -l)
  events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$WORK/stats.json")
  drops=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["drops"])' "$WORK/stats.json")
  filtered=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("filtered", 0))' "$WORK/stats.json")
  drops_total=$((drops_total + drops))
  # The floor: the same programs attached, but --containers-only, so every event of
  # this host storm is dropped at the programs' first check. What is left is the cost
  # of the syscall tracepoints themselves on this kernel.
  start_sensor --containers-only
  f=$(open_storm); open_floor=$(min "$open_floor" "$f")
  stop_sensor
  echo "[sensor-overhead] round $round: exec off/on $exec_off/$e s, open off/on $open_off/$o s, write-open off/on $write_off/$w s, $events events, $filtered read-only opens filtered in the kernel, $drops drops" >&2
done
hz=$(getconf CLK_TCK)
# The event rate: the write-open storm's opens (each one openat event through the ring
# buffer and the rules) over its time.
rate=$(echo "$OPENS / $write_on" | bc -l)
write_pct=$(echo "($write_on / $write_off - 1) * 100" | bc -l)
printf '[sensor-overhead] write-open storm (every open an event) %+.1f%%\n' "$write_pct" >&2
floor_pct=$(echo "($open_floor / $open_off - 1) * 100" | bc -l)
printf '[sensor-overhead] open storm floor (tracepoints attached, every event dropped at entry) %+.1f%%\n' "$floor_pct" >&2
exec_pct=$(echo "($exec_on / $exec_off - 1) * 100" | bc -l)
open_pct=$(echo "($open_on / $open_off - 1) * 100" | bc -l)
cpu_pct=$(echo "$cpu_ticks_total / $hz / $storm_wall * 100" | bc -l)
printf 'sensor overhead: exec storm %+.1f%%, open storm %+.1f%%, sensor CPU %.0f%%, RSS %.1f MiB, %d drops at %.0f events/s\n' \
  "$exec_pct" "$open_pct" "$cpu_pct" "$(echo "$rss_kib / 1024" | bc -l)" "$drops_total" "$rate"
