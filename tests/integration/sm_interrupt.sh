#!/usr/bin/env bash
# Interrupting advance (SIGTERM as CI cancels a job, SIGINT as Ctrl-C) leaves
# a summary on screen: where it was (backfill rows, percent, time, rate), that
# the state is saved and how to resume; the process still ends by the signal
# (exit 143 / 130). With --json the summary is one JSON error object. A
# finished backfill leaves its last progress as a summary line (rows, time,
# rate). Resuming completes the plan.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}
sm_mk_users 3000
NAME=intr
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" name="\"$NAME\"" backfill.batch_size=100 \
	backfill.target_batch_ms=0 backfill.pause_ms=100
assert_exit 0 ecplan advance "$P" --to sync

# Starts advance --to backfill with the given extra arguments, waits for a
# batch, sends signal $1; leaves the exit code in $rc.
interrupt() {
	local sig=$1
	shift
	python3 - "$sig" "$BIN" "$P" "$@" >"$OUT" 2>"$ERR" <<'PY' || true
import os, signal, subprocess, sys, time
sig, args = getattr(signal, sys.argv[1]), [sys.argv[2], "advance", sys.argv[3], "--to", "backfill"] + sys.argv[4:]
before = subprocess.run(["psql", "-XAtq", "-c", "SELECT rows_done FROM ecplan.plans WHERE name = 'intr'"],
                        capture_output=True, text=True).stdout.strip()
p = subprocess.Popen(args, stdout=sys.stdout, stderr=sys.stderr)
for _ in range(400):
    now = subprocess.run(["psql", "-XAtq", "-c", "SELECT rows_done FROM ecplan.plans WHERE name = 'intr'"],
                         capture_output=True, text=True).stdout.strip()
    if now != before:
        break
    time.sleep(0.05)
p.send_signal(sig)
rc = p.wait()
print("rc=%d" % rc, file=sys.stderr)
PY
	rc=$(grep -o 'rc=-\?[0-9]*' "$ERR" | tail -1 | cut -d= -f2)
}

interrupt SIGTERM
assert_eq "-15" "$rc" "ends by SIGTERM"
err=$(cat "$ERR")
assert_contains "$err" "ecplan: interrupted (SIGTERM)" "says it was interrupted"
[[ "$err" =~ detail:\ backfill\ at\ ([0-9]+)/3000\ rows\ \([0-9.]+%\)\ in\ [0-9.]+\ s,\ [0-9]+\ rows/s ]] ||
	fail "no backfill summary in: $err"
IT_ASSERTS=$((IT_ASSERTS + 1))
shown=${BASH_REMATCH[1]}
saved=$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")
[[ "$shown" -le "$saved" && "$shown" -gt 0 ]] || fail "summary says $shown rows, the state row has $saved"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_contains "$err" "hint: the state is saved: run the same command again to resume" "says how to resume"
assert_eq backfill "$(q "SELECT running_phase FROM ecplan.plans WHERE name = '$NAME'")" "backfill interrupted, resumable"

interrupt SIGINT
assert_eq "-2" "$rc" "ends by SIGINT"
assert_contains "$(cat "$ERR")" "ecplan: interrupted (SIGINT)" "Ctrl-C: says it was interrupted"
assert_contains "$(cat "$ERR")" "detail: backfill at " "Ctrl-C: the summary"

interrupt SIGTERM --json
assert_eq "-15" "$rc" "--json: ends by SIGTERM"
assert_eq "interrupted 143 True 1" "$(head -1 "$ERR" | python3 -c 'import json,sys; o = json.loads(sys.stdin.read()); print(o["code"], o["exit_code"], o["detail"].startswith("backfill at "), len(o["errors"]))')" \
	"--json: the interruption is one JSON error object"

# Resume to the end: the last progress stays as a summary line.
assert_exit 0 ecplan advance "$P" --to backfill
assert_contains "$(cat "$OUT")" "backfill: 3000/3000 rows (100.0%) in " "final summary line"
[[ "$(cat "$OUT")" =~ backfill:\ 3000/3000\ rows\ \(100.0%\)\ in\ [0-9.]+\ s,\ [0-9]+\ rows/s ]] || fail "summary without time and rate: $(cat "$OUT")"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_eq backfilled "$(sm_state $NAME)" "resumed to the end"
assert_eq 3000 "$(q "SELECT count(*) FROM public.users WHERE email_normalized = lower(email)")" "every row filled"
pass
