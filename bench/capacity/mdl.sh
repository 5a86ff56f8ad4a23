#!/usr/bin/env bash
# The capacity search checked against an M/D/1 queue (not a unit test: it takes a few
# minutes). The embedded broker with --service-time S serves one request at a time in S,
# and Poisson arrivals at rate R make it an M/D/1 queue at load ρ = R·S. Its p99 time in
# system reaches 10·S at ρ ≈ 0.78, so the highest rate that holds p99 < 10·S is about
# 0.78/S. With S = 2 ms: 390/s (1/S = 500/s). The broker's own handling adds a little to S,
# so expect the answer a few per cent below.
#
# Usage: bench/capacity/mdl.sh [S_MS] [OUT]   (default 2 ms, results in /tmp/dmbench-mdl)
set -euo pipefail
cd "$(dirname "$0")/../.."
s_ms=${1:-2}
out=${2:-/tmp/dmbench-mdl}
bin=$(mktemp -d)/dmbench
go build -o "$bin" ./cmd/dmbench
slo_ms=$((10 * s_ms))
expect=$(awk -v s="$s_ms" 'BEGIN { printf "%.0f", 0.78 * 1000 / s }')
start=$(awk -v s="$s_ms" 'BEGIN { printf "%.0f", 0.6 * 1000 / s }')
echo "M/D/1: S = ${s_ms}ms, objective p99 < ${slo_ms}ms, expected ≈ 0.78/S = ${expect}/s (1/S = $((1000 / s_ms))/s)"
# A p99 needs 10,000 requests a step: about 25 s at these rates.
CI=true "$bin" capacity "${SCENARIO:-cmd/dmbench/testdata/tiny.yaml}" \
	--service-time "${s_ms}ms" --slo "p99<${slo_ms}ms" --arrival poisson \
	--start "${start}/s" --precision "${PRECISION:-10%}" --repeats "${REPEATS:-1}" --budget "${BUDGET:-6m}" \
	--warmup 2s --step 5s -o "$out" 2> >(grep -v 'running tiny\|result written' >&2) | tee "$out.txt"
found=$(sed -n 's/.* holds \([0-9]*\)\/s .*/\1/p' "$out.txt" | head -1)
if [ -n "$found" ]; then
	awk -v f="$found" -v e="$expect" -v s="$s_ms" 'BEGIN { printf "found %d/s = %.2f/S; expected %d/s = 0.78/S (%+.0f%%)\n", f, f * s / 1000, e, 100 * (f - e) / e }'
fi
