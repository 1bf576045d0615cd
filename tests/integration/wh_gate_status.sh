#!/usr/bin/env bash
# After a failed switch.after gate: status says plainly that the database work
# is done and the flag flip is pending (text and --json), `wait` exits 5 at
# once, and the next advance says the work is done instead of "resuming at
# step 2 of 1" (no resume message ever counts past the last step).
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/flag=500"
wh_table t_gst 300
plan=$IT_TMP/gst.json
wh_plan "$plan" wh-gst t_gst '[
  {"name": "flag-flip", "url": "http://127.0.0.1:@PORT@/flag", "events": ["switch.after"],
   "gate": true, "retries": 0, "timeout_ms": 3000}
]'

assert_exit 5 ecplan advance "$plan" --to switch
assert_eq "backfilled|switch" "$(wh_state wh-gst)" "switch DDL done, state not moved"

assert_exit 0 ecplan status wh-gst
assert_contains "$(cat "$OUT")" "the database work of switch is done" "status: database work done"
assert_contains "$(cat "$OUT")" "switch.after gate webhook" "status: names the pending gate"
assert_contains "$(cat "$OUT")" "run \"ecplan advance\"" "status: says what to do"
assert_exit 0 ecplan status wh-gst --json
assert_eq "True ['switch.after'] switch" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["phase_work_done"], o["pending_gates"], o["running_phase"])' <"$OUT")" \
	"status --json: phase_work_done, pending_gates"

# wait fails fast: a pending gate and no runner.
assert_exit 5 ecplan wait wh-gst --until switched --timeout 60 --interval 1
assert_contains "$(cat "$ERR")" "switch.after" "wait names the pending gate"

# Still failing: again 5, and the message says the work is done.
assert_exit 5 ecplan advance "$plan"
assert_contains "$(cat "$OUT")" "switch: the database work is done" "resume message: the work is done"
wh_script /flag 200
assert_exit 0 ecplan advance "$plan"
assert_eq "switched|" "$(wh_state wh-gst)" "switched once delivered"
out=$(cat "$OUT")
assert_contains "$out" "delivering switch.after" "resume message names the webhook left"
# No "resuming at step N of M" with N > M, in the output or the history.
assert_exit 0 ecplan history wh-gst
all=$(cat "$OUT"; echo "$out")
bad=$(grep -oE "(resuming|resumed) at step [0-9]+ of [0-9]+" <<<"$all" | awk '{ if ($4 > $6) print }' || true)
assert_eq "" "$bad" "no resume past the last step"
assert_not_contains "$all" "step 2 of 1" "the reported message"
assert_exit 0 ecplan status wh-gst --json
assert_eq "False [] None" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["phase_work_done"], o["pending_gates"], o["running_phase"])' <"$OUT")" \
	"status --json: nothing pending once delivered"

# A failed switch.after of a switch that was then rolled back is not pending:
# the next switch is a new attempt with its own delivery. wait says "rolled
# back" (11), not "gate" (5).
wh_table t_gst2 100
plan2=$IT_TMP/gst2.json
wh_script /flag2 500
wh_plan "$plan2" wh-gst2 t_gst2 '[
  {"name": "flag-flip", "url": "http://127.0.0.1:@PORT@/flag2", "events": ["switch.after"],
   "gate": true, "retries": 0, "timeout_ms": 3000}
]'
assert_exit 5 ecplan advance "$plan2" --to switch
assert_exit 0 ecplan status wh-gst2 --json
assert_eq "['switch.after']" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_gates"])' <"$OUT")" "pending after the failure"
assert_exit 0 ecplan rollback "$plan2" --to backfilled
assert_eq "backfilled|" "$(wh_state wh-gst2)" "switch undone"
assert_exit 0 ecplan status wh-gst2 --json
assert_eq "[] False" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["pending_gates"], o["phase_work_done"])' <"$OUT")" \
	"the rolled-back attempt's delivery is not pending"
assert_exit 11 ecplan wait wh-gst2 --until switched --timeout 3600
pass
