#!/usr/bin/env bash
# Gate webhooks.
#   switch.after gate failing: the switch DDL is done (the trigger function
#   is the "new column wins" form) but the state stays backfilled with switch
#   running, advance exits 5 and status shows the pending webhook; once the
#   receiver answers 200 the next advance re-delivers the same delivery (same
#   X-Ecplan-Delivery and Idempotency-Key) without re-running the DDL.
#   backfill.before gate failing: exit 5 and nothing of backfill happens.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/gate=500" --script "/gate-b=500"

# ---- switch.after ------------------------------------------------------------
wh_table t_gate 500
plan=$IT_TMP/gate.json
wh_plan "$plan" wh-gate t_gate '[
  {"name": "flip", "url": "http://127.0.0.1:@PORT@/gate", "events": ["switch.after"],
   "gate": true, "retries": 1, "timeout_ms": 30000}
]'
fn_src() {
	q "SELECT prosrc FROM pg_proc WHERE prosrc LIKE '%ecplan:wh-gate:%'"
}
fn_xmin() {
	q "SELECT xmin FROM pg_proc WHERE prosrc LIKE '%ecplan:wh-gate:%'"
}
switch_steps() {
	q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-gate' AND kind = 'step' AND phase = 'switch'"
}

assert_exit 5 ecplan advance "$plan" --to switch
assert_contains "$(cat "$ERR")" "flip" "the error names the gate webhook"
assert_contains "$(cat "$ERR")" "switch.after" "the error names the event"
assert_eq "backfilled|switch" "$(wh_state wh-gate)" "state not moved: backfilled, switch running"
assert_eq 1 "$(q "SELECT count(*) FROM pg_proc WHERE prosrc LIKE '%ecplan:wh-gate:%'")" "one sync function"
assert_contains "$(fn_src)" "new column wins" "switch DDL done: the function is the new-column-wins form"
assert_eq "500|500" "$(q "SELECT count(*), count(*) FILTER (WHERE full_name = name) FROM public.t_gate")" \
	"backfill complete before switch"
assert_eq 2 "$(wh_count /gate)" "1 + retries attempts for the gate"
assert_eq 2 "$(wh_wh_events wh-gate switch.after)" "both attempts in ecplan.events"
assert_eq "0" "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-gate' AND kind = 'webhook' AND data->>'event' = 'switch.after' AND (data->>'http_status')::int <> 500")" \
	"the attempts recorded HTTP 500"

assert_exit 0 ecplan status wh-gate --json
st=$(cat "$OUT")
pending=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_webhooks"])' <<<"$st")
[[ "$pending" =~ ^[0-9]+$ && "$pending" -ge 1 ]] || fail "status --json pending_webhooks is [$pending], want >= 1: $st"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_eq "backfilled switch" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["phase"], o["running_phase"])' <<<"$st")" \
	"status --json: state backfilled, switch running"
assert_exit 0 ecplan status wh-gate
assert_contains "$(cat "$OUT")" "1 pending" "status shows the pending webhook"

steps_before=$(switch_steps)
xmin_before=$(fn_xmin)
[[ "$steps_before" -ge 1 ]] || fail "no step event recorded for the switch DDL"

# Still failing: exit 5 again, nothing re-run.
assert_exit 5 ecplan advance "$plan"
assert_eq "backfilled|switch" "$(wh_state wh-gate)" "still not moved after a second failing run"
assert_eq 4 "$(wh_count /gate)" "the second run re-delivered (2 more attempts)"

wh_script /gate 200
assert_exit 0 ecplan advance "$plan"
assert_eq "switched|" "$(wh_state wh-gate)" "state switched once delivered"
assert_eq 5 "$(wh_count /gate)" "one more request: the re-delivery"
assert_eq "1 1" "$(wh_py '
rs = at("/gate")
print(len({r["headers"].get("X-Ecplan-Delivery") for r in rs}),
      len({r["headers"].get("Idempotency-Key") for r in rs}))')" \
	"every attempt and the re-delivery share X-Ecplan-Delivery and Idempotency-Key"
assert_eq "switch.after" "$(wh_py 'print(" ".join(sorted({r["json"]["event"] for r in at("/gate")})))')" "only switch.after sent"
assert_eq "$(wh_py 'print(at("/gate")[0]["headers"]["X-Ecplan-Delivery"])')" \
	"$(wh_py 'print(at("/gate")[-1]["json"]["delivery_id"])')" "payload delivery_id is the same id"
assert_eq "$steps_before" "$(switch_steps)" "no new step events for switch: DDL not repeated"
assert_eq "$xmin_before" "$(fn_xmin)" "the trigger function was not re-created"
assert_contains "$(fn_src)" "new column wins" "function still the new-column-wins form"
assert_eq "1|t|1" "$(q "SELECT count(*), bool_and(delivered), count(DISTINCT id) FROM ecplan.deliveries WHERE plan = 'wh-gate' AND event = 'switch.after'")" \
	"one delivery row for switch.after, delivered"
assert_eq "1|5" "$(q "SELECT count(DISTINCT data->>'delivery_id'), count(*) FROM ecplan.events WHERE plan = 'wh-gate' AND kind = 'webhook' AND data->>'event' = 'switch.after'")" \
	"five attempts of one delivery in ecplan.events"
assert_exit 0 ecplan status wh-gate --json
assert_eq "0 switched None" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["pending_webhooks"], o["phase"], o["running_phase"])' <"$OUT")" \
	"status --json: nothing pending, switched"
# The new column now wins: a write to it is copied to the old column.
q "UPDATE public.t_gate SET full_name = 'Changed' WHERE id = 1"
assert_eq "Changed" "$(q "SELECT name FROM public.t_gate WHERE id = 1")" "switched trigger in effect"

# ---- backfill.before ---------------------------------------------------------
wh_table t_gate_b 300
planb=$IT_TMP/gate-b.json
wh_plan "$planb" wh-gate-b t_gate_b '[
  {"name": "hold", "url": "http://127.0.0.1:@PORT@/gate-b", "events": ["backfill.before"],
   "gate": true, "retries": 0, "timeout_ms": 30000}
]'
assert_exit 0 ecplan advance "$planb" --to sync
assert_eq "synced|" "$(wh_state wh-gate-b)" "synced"
last_id=$(q "SELECT max(id) FROM ecplan.events")
assert_exit 5 ecplan advance "$planb"
assert_contains "$(cat "$ERR")" "hold" "the error names the gate webhook"
assert_eq "synced|" "$(wh_state wh-gate-b)" "backfill.before gate failed: still synced, nothing running"
assert_eq "0|0" "$(q "SELECT rows_done, step FROM ecplan.plans WHERE name = 'wh-gate-b'")" "no backfill progress"
assert_eq "300|0" "$(q "SELECT count(*), count(full_name) FROM public.t_gate_b")" "new column still NULL everywhere"
assert_eq 1 "$(wh_count /gate-b)" "one attempt (retries 0)"
assert_eq "1|0" "$(q "SELECT count(*) FILTER (WHERE kind = 'webhook'), count(*) FILTER (WHERE kind IN ('step', 'backfill') OR (kind = 'phase' AND message LIKE '%started%')) FROM ecplan.events WHERE plan = 'wh-gate-b' AND id > $last_id")" \
	"the failing run logged the webhook attempt and no phase start, step or batch"
assert_exit 0 ecplan status wh-gate-b --json
assert_eq "synced None" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["phase"], o["running_phase"])' <"$OUT")" \
	"status --json agrees"

wh_script /gate-b 200
assert_exit 0 ecplan advance "$planb"
assert_eq "backfilled|" "$(wh_state wh-gate-b)" "backfill ran once the gate was delivered"
assert_eq "300|300" "$(q "SELECT count(*), count(*) FILTER (WHERE full_name = name) FROM public.t_gate_b")" "backfill done"
assert_eq 2 "$(wh_count /gate-b)" "one more request"
pass
