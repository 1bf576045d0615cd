#!/usr/bin/env bash
# The `failed` event: a phase that fails at runtime (the up expression divides
# by zero during backfill, on a row written with triggers off) or on a precondition (a plan check) sends a
# `failed` delivery whose payload carries the error text, the phase and the
# plan's data; every failure is notified, a repeated one too.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server

# ---- runtime error during backfill -----------------------------------------------
wh_table t_fail 300
plan=$IT_TMP/fail.json
wh_plan "$plan" wh-fail t_fail '[
  {"name": "pager", "url": "http://127.0.0.1:@PORT@/failed", "events": ["failed"], "retries": 1, "timeout_ms": 30000},
  {"name": "audit", "url": "http://127.0.0.1:@PORT@/audit", "events": ["backfill.before", "backfill.after"], "retries": 0, "timeout_ms": 30000}
]' '{"up": "CASE WHEN 1 / (CASE WHEN name = '"'boom'"' THEN 0 ELSE 1 END) = 1 THEN name END"}'
assert_exit 0 ecplan advance "$plan" --to sync
# A row the sync trigger never saw (written with triggers off) on which
# "up" divides by zero: the whole-table proofs before sync passed, so the
# backfill is where it fails.
q "SET session_replication_role = replica; INSERT INTO public.t_fail (name) VALUES ('boom')" >/dev/null
assert_eq 0 "$(wh_count /failed)" "no failure, no failed event"

assert_exit 1 ecplan advance "$plan"
assert_contains "$(cat "$ERR")" "division by zero" "the error is reported"
assert_eq "synced|backfill" "$(wh_state wh-fail)" "backfill started and stopped"
assert_eq 0 "$(q "SELECT count(full_name) FROM public.t_fail")" "nothing backfilled"
assert_eq 1 "$(wh_count /failed)" "one failed delivery"
assert_eq 0 "$(wh_py 'print(sum(1 for r in at("/audit") if r["json"]["event"] == "backfill.after"))')" \
	"no backfill.after for a failed backfill"
wh_py '
import re, sys
r = at("/failed")[0]
h, b = r["headers"], r["json"] or {}
problems = []
def check(c, what):
    if not c:
        problems.append(what)
check(h.get("X-Ecplan-Event") == "failed", "X-Ecplan-Event %r" % h.get("X-Ecplan-Event"))
for k, v in {"event": "failed", "plan": "wh-fail", "table": "public.t_fail", "column": "name",
             "new_column": "full_name", "phase": "backfill", "delivery_id": h.get("X-Ecplan-Delivery")}.items():
    check(b.get(k) == v, "payload %s = %r, want %r" % (k, b.get(k), v))
check("division by zero" in str(b.get("error")), "payload error %r lacks the database error" % b.get("error"))
check(b.get("test") in (False, None), "test = %r" % b.get("test"))
check(re.fullmatch(r"wh-fail:failed:\d+", h.get("Idempotency-Key", "")) is not None, "Idempotency-Key %r" % h.get("Idempotency-Key"))
print("\n".join(problems))
sys.exit(1 if problems else 0)
' >"$IT_TMP/check.out" || fail "failed payload: $(cat "$IT_TMP/check.out")"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-fail' AND kind = 'webhook' AND data->>'event' = 'failed' AND (data->>'ok')::boolean")" \
	"the failed delivery is recorded in ecplan.events"
assert_exit 0 ecplan status wh-fail --json
assert_contains "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["last_error"])' <"$OUT")" "division by zero" \
	"status --json shows the error"

# ---- precondition failure (a plan check) -------------------------------------------
wh_table t_pre 50
plan2=$IT_TMP/pre.json
wh_plan "$plan2" wh-pre t_pre '[
  {"name": "pager", "url": "http://127.0.0.1:@PORT@/failed-pre", "events": ["failed"], "retries": 0, "timeout_ms": 30000}
]'
python3 - "$plan2" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["checks"] = [{"name": "feature flag ready", "before": "sync", "sql": "SELECT false"}]
json.dump(p, open(sys.argv[1], "w"), indent=2)
EOF
assert_exit 0 ecplan advance "$plan2"
assert_eq "expanded|" "$(wh_state wh-pre)" "expanded"
assert_exit 3 ecplan advance "$plan2"
assert_contains "$(cat "$ERR")" "feature flag ready" "the failing check is named"
assert_eq "expanded|" "$(wh_state wh-pre)" "state unchanged"
assert_eq 1 "$(wh_count /failed-pre)" "one failed delivery for the precondition failure"
assert_eq "failed sync" "$(wh_py 'b = at("/failed-pre")[0]["json"]; print(b["event"], b["phase"])')" "event and phase"
assert_contains "$(wh_py 'print(at("/failed-pre")[0]["json"].get("error"))')" "feature flag ready" \
	"payload error names the failing check"

# ---- every failure is notified ----------------------------------------------------
# Running the failing phase again fails again: a second `failed` delivery.
assert_exit 3 ecplan advance "$plan2"
assert_eq 2 "$(wh_count /failed-pre)" "the repeated precondition failure is notified too"
assert_exit 1 ecplan advance "$plan"
assert_contains "$(cat "$ERR")" "division by zero" "the resumed backfill fails the same way"
assert_eq 2 "$(wh_count /failed)" "the repeated runtime failure is notified too"
assert_eq 1 "$(wh_py 'rs = at("/failed"); print(len({r["headers"]["X-Ecplan-Delivery"] for r in rs}) - 1)')" \
	"each failure is its own delivery"
pass
