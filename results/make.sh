#!/usr/bin/env bash
# Makes the committed baselines in results/ (run it again whenever the result schema
# changes, and on your own machine to compare with yours):
#   short/   every bundled scenario's --short form against the embedded broker
#   full/    the full-size scenarios that this machine runs without the generator being
#            the bottleneck, against `dmbench serve` in its own process
#   pairs/   runs that show what dmbench is for: the reference broker against DMB 0.2.1's
#            behaviour on expiry-walk, and a broker that pauses (corrected vs uncorrected)
# Each folder gets a charts/ folder beside its runs (dmbench plot). Run it with nothing
# else on the machine: `results/make.sh [short|full|pairs]...` (all three by default).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin" CI=true
bin=$(mktemp -d)/dmbench
go build -o "$bin" ./cmd/dmbench
label=(--label "machine=$(nproc)cpu-$(uname -m)")

plot() { # plot DIR [FORMAT]: every chart of every run in DIR into DIR/charts/ (SVG by default)
  for run in "$1"/*/; do
    [ -f "$run/result.json" ] || continue
    "$bin" plot "$run" --format "${2:-svg}" -o "$1/charts" >/dev/null
  done
}

short() {
  rm -rf results/short
  for sc in $("$bin" scenarios | awk '{print $1}'); do
    "$bin" run "$sc" --short -o results/short "${label[@]}" --label broker=reference >/dev/null
  done
  plot results/short
}

full() {
  rm -rf results/full
  port=25556
  "$bin" serve --port "$port" >/dev/null 2>&1 &
  serve=$!
  trap 'kill $serve 2>/dev/null || true' EXIT
  sleep 1
  for sc in pipeline channels-workers group-churn keepalive-storm; do
    "$bin" run "$sc" --target "tcp://127.0.0.1:$port" -o results/full "${label[@]}" --label broker=reference >/dev/null
  done
  kill "$serve"; wait "$serve" 2>/dev/null || true
  trap - EXIT
  plot results/full
}

pairs() {
  rm -rf results/pairs
  "$bin" run expiry-walk -o results/pairs/expiry-walk-reference "${label[@]}" --label broker=reference >/dev/null
  "$bin" run expiry-walk --compat dmb-0.2.1 -o results/pairs/expiry-walk-dmb-0.2.1 "${label[@]}" --label broker=dmb-0.2.1 >/dev/null
  "$bin" run pipeline --short --pause 300ms/2s --stall-threshold 200ms -o results/pairs/pause "${label[@]}" --label broker=reference-paused >/dev/null
  for d in expiry-walk-reference expiry-walk-dmb-0.2.1 pause; do plot "results/pairs/$d" png; done
  # The pictures the README shows, under names that stay.
  "$bin" plot results/pairs/expiry-walk-dmb-0.2.1/2*/ --kind latency -o results/pairs/expiry-walk-dmb-0.2.1-latency.png >/dev/null
  "$bin" plot results/pairs/expiry-walk-reference/2*/ results/pairs/expiry-walk-dmb-0.2.1/2*/ --kind spectrum -o results/pairs/expiry-walk-spectrum.png >/dev/null
  "$bin" plot results/pairs/pause/2*/ --kind latency -o results/pairs/pause-latency.png >/dev/null
}

for what in "${@:-short full pairs}"; do
  for w in $what; do "$w"; done
done
du -sh results/*/ 2>/dev/null
