#!/usr/bin/env bash
# rollback.before / rollback.after webhooks on `ecplan rollback`: sent once
# each, in order around the undo work, with the plan's data and the right
# event names; a failing rollback.before gate stops the rollback before any
# undo (exit 5); a failing rollback.after gate exits 5 and the next rollback
# re-delivers it (same delivery id, same Idempotency-Key).
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/rbgate=500" --script "/rbafter=500"

col_exists() { # TABLE: 1 when full_name exists
	q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.$1'::regclass AND attname = 'full_name' AND NOT attisdropped"
}

# ---- before/after, and a failing before gate -----------------------------------
wh_table t_rb 400
plan=$IT_TMP/rb.json
wh_plan "$plan" wh-rb t_rb '[
  {"name": "notify", "url": "http://127.0.0.1:@PORT@/rb", "events": ["rollback.before", "rollback.after"],
   "retries": 1, "timeout_ms": 30000},
  {"name": "hold", "url": "http://127.0.0.1:@PORT@/rbgate", "events": ["rollback.before"],
   "gate": true, "retries": 0, "timeout_ms": 30000}
]'
assert_exit 0 ecplan advance "$plan" --to backfill
assert_eq "backfilled|" "$(wh_state wh-rb)" "backfilled"
assert_eq 0 "$(wh_count /rb)" "advancing fires no rollback webhook"
assert_eq 0 "$(wh_count /rbgate)" "advancing fires no rollback webhook"

# The gate on rollback.before fails: nothing is undone.
last_id=$(q "SELECT max(id) FROM ecplan.events")
assert_exit 5 ecplan rollback "$plan"
assert_contains "$(cat "$ERR")" "hold" "the error names the gate webhook"
assert_eq "backfilled|" "$(wh_state wh-rb)" "rollback.before gate failed: state unchanged"
assert_eq 1 "$(col_exists t_rb)" "new column still there"
assert_eq 400 "$(q "SELECT count(*) FROM public.t_rb WHERE full_name = name")" "backfilled values untouched"
assert_eq 1 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.t_rb'::regclass AND NOT tgisinternal")" \
	"sync trigger still there"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-rb' AND id > $last_id AND kind IN ('rollback', 'step')")" \
	"no undo step ran"
assert_eq 1 "$(wh_count /rbgate)" "gate attempted once (retries 0)"
assert_eq 0 "$(wh_py 'print(sum(1 for r in at("/rb") if r["headers"].get("X-Ecplan-Event") == "rollback.after"))')" \
	"rollback.after not sent"
# notify's rollback.before may or may not have been sent before the gate failed;
# either way it must not be sent twice.
notify_before=$(wh_count /rb)

wh_script /rbgate 200
assert_exit 0 ecplan rollback "$plan"
assert_eq "rolled_back|" "$(wh_state wh-rb)" "rolled back"
assert_eq 0 "$(col_exists t_rb)" "new column dropped"
assert_eq 0 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.t_rb'::regclass AND NOT tgisinternal")" \
	"sync trigger dropped"
assert_eq 400 "$(q "SELECT count(name) FROM public.t_rb")" "old column intact"
assert_eq 2 "$(wh_count /rbgate)" "gate re-delivered"
assert_eq 1 "$(wh_py 'print(len({r["headers"]["X-Ecplan-Delivery"] for r in at("/rbgate")}))')" \
	"the re-delivered gate keeps its delivery id"

assert_eq "rollback.before rollback.after" \
	"$(wh_py 'print(" ".join(r["headers"].get("X-Ecplan-Event", "?") for r in at("/rb")))')" \
	"notify got rollback.before then rollback.after, once each (had $notify_before before the retry)"
wh_py '
import re, sys
problems = []
rs = at("/rb")
for r in rs:
    h, b = r["headers"], r["json"] or {}
    ev = h.get("X-Ecplan-Event")
    want = {"event": ev, "plan": "wh-rb", "table": "public.t_rb", "column": "name",
            "new_column": "full_name", "delivery_id": h.get("X-Ecplan-Delivery")}
    for k, v in want.items():
        if b.get(k) != v:
            problems.append("%s: payload %s = %r, want %r" % (ev, k, b.get(k), v))
    if not re.fullmatch(r"wh-rb:%s:[1-9][0-9]*" % re.escape(ev), h.get("Idempotency-Key", "")):
        problems.append("%s: Idempotency-Key %r" % (ev, h.get("Idempotency-Key")))
    if not isinstance(b.get("state"), str):
        problems.append("%s: payload state %r" % (ev, b.get("state")))
    if b.get("test") not in (False, None):
        problems.append("%s: test = %r" % (ev, b.get("test")))
if rs and (rs[0]["json"] or {}).get("state") != "backfilled":
    problems.append("rollback.before: state %r, want backfilled (the state when it fired)" % (rs[0]["json"] or {}).get("state"))
if len({r["headers"].get("X-Ecplan-Delivery") for r in rs}) != len(rs):
    problems.append("rollback.before and rollback.after share a delivery id")
print("\n".join(problems))
sys.exit(1 if problems else 0)
' >"$IT_TMP/check.out" || fail "rollback payloads: $(cat "$IT_TMP/check.out")"
IT_ASSERTS=$((IT_ASSERTS + 1))

# Order in the event log: rollback.before, then the undo work, then rollback.after.
order=$(q "SELECT string_agg(CASE WHEN kind = 'webhook' THEN data->>'event' ELSE kind END, ' ' ORDER BY id)
	   FROM (SELECT id, kind, data FROM ecplan.events WHERE plan = 'wh-rb' AND id > $last_id
	         AND (kind IN ('rollback', 'step') OR (kind = 'webhook' AND data->>'webhook' = 'notify' AND (data->>'ok')::boolean))) x")
[[ "$order" =~ ^rollback\.before\ (rollback|step)( rollback| step)*\ rollback\.after$ ]] ||
	fail "event order: want rollback.before, undo work, rollback.after; got [$order]"
IT_ASSERTS=$((IT_ASSERTS + 1))

# ---- a failing rollback.after gate ----------------------------------------------
wh_table t_rb2 100
plan2=$IT_TMP/rb2.json
wh_plan "$plan2" wh-rb2 t_rb2 '[
  {"name": "flag-back", "url": "http://127.0.0.1:@PORT@/rbafter", "events": ["rollback.after"],
   "gate": true, "retries": 0, "timeout_ms": 30000}
]'
assert_exit 0 ecplan advance "$plan2" --to sync
assert_exit 5 ecplan rollback "$plan2"
assert_contains "$(cat "$ERR")" "flag-back" "the error names the gate webhook"
assert_eq 0 "$(col_exists t_rb2)" "the undo work is done before rollback.after"
assert_eq 1 "$(wh_count /rbafter)" "rollback.after attempted once"
assert_exit 0 ecplan status wh-rb2 --json
assert_eq 1 "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_webhooks"])' <"$OUT")" \
	"status --json: the failed rollback.after gate is pending"

wh_script /rbafter 200
assert_exit 0 ecplan rollback "$plan2"
assert_eq 2 "$(wh_count /rbafter)" "the next rollback re-delivers the missing rollback.after"
assert_eq "1 1" "$(wh_py 'rs = at("/rbafter"); print(len({r["headers"].get("X-Ecplan-Delivery") for r in rs}), len({r["headers"].get("Idempotency-Key") for r in rs}))')" \
	"same delivery id and Idempotency-Key on the re-delivery"
assert_exit 0 ecplan status wh-rb2 --json
assert_eq "0 rolled_back" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["pending_webhooks"], o["phase"])' <"$OUT")" \
	"nothing pending once delivered"
pass
