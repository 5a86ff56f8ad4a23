#!/usr/bin/env bash
# gate.sh: fail a broker's CI when the broker under test is slower than the previous
# release. Both brokers must already be running; for each scenario the script runs it
# RUNS times against each (dmbench run --repeat), compares the two result sets as
# benchstat compares benchmarks (dmbench compare: medians, 95% intervals, Mann-Whitney U),
# and fails on a significant regression beyond FAIL_ON. Everything it produced is kept
# under OUT, for the CI's artifacts.
#
# Environment:
#   OLD_TARGET, NEW_TARGET  DMB base addresses (tcp://host:port) of the previous release and
#                           of the broker under test (required)
#   OLD_LABEL, NEW_LABEL    their names in the results (default: old, new)
#   SCENARIOS               bundled scenario names or scenario files, space-separated
#                           (default: "pipeline group-churn keepalive-storm")
#   RUNS                    runs a side per scenario, with their short overlays (default 6:
#                           compare needs 4 a side for significance, 6 for a 95% interval)
#   FAIL_ON                 dmbench compare --fail-on rules, space-separated
#                           (default: "p50:+20% p99:+20% errors:+0.1")
#   OUT                     the artifact folder (default: dmbench-artifacts)
#   DMBENCH                 the dmbench binary (default: dmbench on PATH)
#   BENCH_COUNT, DMBENCH_SRC
#                           when BENCH_COUNT > 0, also run dmbench's BenchmarkScenario
#                           (go test -bench, in the dmbench checkout DMBENCH_SRC, default .)
#                           -count BENCH_COUNT against each broker and write
#                           benchstat -col broker's comparison to OUT/benchstat.txt
#   BENCH                   the -bench pattern for that (default: Scenario)
#
# OUT holds, per scenario, old/ and new/ (the result sets: every run's result.json and
# HDR histograms, .hgrm and .hlog), run-old.txt and run-new.txt (what dmbench run
# printed), compare.txt and compare.html (the comparison, as text and as one HTML page);
# with BENCH_COUNT also bench-old.txt, bench-new.txt and benchstat.txt. With GITHUB_STEP_SUMMARY set, the comparisons are
# appended to it as Markdown.
#
# Exit status: 0 no regression beyond FAIL_ON, 4 a regression (compare's exit code),
# anything else: the gate could not run.
set -euo pipefail

: "${OLD_TARGET:?set OLD_TARGET to the base address of the previous release, tcp://host:port}"
: "${NEW_TARGET:?set NEW_TARGET to the base address of the broker under test, tcp://host:port}"
OLD_LABEL="${OLD_LABEL:-old}"
NEW_LABEL="${NEW_LABEL:-new}"
SCENARIOS="${SCENARIOS:-pipeline group-churn keepalive-storm}"
RUNS="${RUNS:-6}"
FAIL_ON="${FAIL_ON:-p50:+20% p99:+20% errors:+0.1}"
OUT="${OUT:-dmbench-artifacts}"
DMBENCH="${DMBENCH:-dmbench}"
BENCH_COUNT="${BENCH_COUNT:-0}"
BENCH="${BENCH:-Scenario}"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

fail_on=()
for rule in $FAIL_ON; do fail_on+=(--fail-on "$rule"); done

status=0
for sc in $SCENARIOS; do
  name="$(basename "$sc" .yaml)"
  dir="$OUT/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  for side in old new; do
    if [ "$side" = old ]; then target="$OLD_TARGET" label="$OLD_LABEL"; else target="$NEW_TARGET" label="$NEW_LABEL"; fi
    echo "== $name: $RUNS runs against $label ($target)"
    if ! "$DMBENCH" run "$sc" --short --repeat "$RUNS" --target "$target" \
      --label "broker=$label" --out "$dir/$side" --width 100 >"$dir/run-$side.txt" 2>&1; then
      cat "$dir/run-$side.txt" >&2
      echo "== $name: dmbench run against $label failed" >&2
      exit 1
    fi
  done
  echo "== $name: $OLD_LABEL vs $NEW_LABEL (--fail-on $FAIL_ON)"
  rc=0
  "$DMBENCH" compare "$dir/old" "$dir/new" "${fail_on[@]}" --html "$dir/compare.html" >"$dir/compare.txt" || rc=$?
  cat "$dir/compare.txt"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    { echo "### $name: $OLD_LABEL vs $NEW_LABEL"; echo
      "$DMBENCH" compare "$dir/old" "$dir/new" --format markdown || true; echo; } >>"$GITHUB_STEP_SUMMARY"
  fi
  case "$rc" in
    0) echo "== $name: no regression beyond the rules" ;;
    4) echo "== $name: REGRESSION beyond --fail-on"; status=4 ;;
    *) echo "== $name: dmbench compare failed (exit $rc)" >&2; exit "$rc" ;;
  esac
done

if [ "$BENCH_COUNT" -gt 0 ]; then
  cd "${DMBENCH_SRC:-.}"
  for side in old new; do
    if [ "$side" = old ]; then target="$OLD_TARGET" label="$OLD_LABEL"; else target="$NEW_TARGET" label="$NEW_LABEL"; fi
    echo "== go test -bench $BENCH -count $BENCH_COUNT against $label"
    DMBENCH_TARGET="$target" DMBENCH_LABELS="broker=$label" \
      go test -run '^$' -bench "$BENCH" -benchtime 1x -count "$BENCH_COUNT" . >"$OUT/bench-$side.txt"
  done
  # The two brokers listen on different addresses: -ignore target keeps them in one table.
  go tool benchstat -col broker -ignore target "$OUT/bench-old.txt" "$OUT/bench-new.txt" | tee "$OUT/benchstat.txt"
fi

exit "$status"
