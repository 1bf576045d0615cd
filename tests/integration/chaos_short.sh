#!/usr/bin/env bash
# The CI version of scripts/chaos.sh: one plan on 20,000 rows taken from planned
# to contracted while old- and new-code writers run, with about a dozen faults
# (kill -9 of ecplan during DDL, backfill batches and the index build,
# pg_terminate_backend of its session, conflicting locks held longer than
# lock_timeout), each followed by a resume. Fails on any lost write, divergent
# row, writer error, unexpected exit code, or a status/history that does not
# match what happened. Runs in well under 90 s (the seed is printed: rerun with
# `bash scripts/chaos.sh --short --seed N` to reproduce).
source "$(dirname "$0")/lib.sh"
it_setup

src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd -P)}
start=$SECONDS
assert_exit 0 bash "$src/scripts/chaos.sh" --short --database "$IT_DB" --ecplan "${ECPLAN_BIN:?}"
cat "$OUT"
assert_contains "$(cat "$OUT")" "lost writes: 0" "no committed write lost"
assert_contains "$(cat "$OUT")" "divergent rows: 0" "no divergent rows"
assert_contains "$(cat "$OUT")" "writer errors: 0" "no writer saw an error"
assert_contains "$(cat "$OUT")" "RESULT: ok" "chaos run passed"
faults=$(sed -n 's/^faults injected: \([0-9]*\).*/\1/p' "$OUT")
[[ ${faults:-0} -ge 5 ]] || fail "only ${faults:-0} faults were injected"
echo "chaos_short: $((SECONDS - start)) s"
pass
