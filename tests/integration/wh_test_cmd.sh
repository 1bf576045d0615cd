#!/usr/bin/env bash
# `ecplan webhook test PLAN --event EVENT`: one test delivery ("test": true)
# per subscribed webhook, signed and with the usual headers, no database
# needed; exit 0 when delivered, 5 when a webhook keeps failing, 2 for an
# event nobody subscribes to or an unset variable.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/t500=500"
EC=${ECPLAN_BIN:-${ECPLAN_BUILD_DIR:-}/ecplan}
[[ -x "$EC" ]] || fail "ecplan binary not found (ECPLAN_BIN, ECPLAN_BUILD_DIR)"
export WH_T_SECRET=sec-test-cmd-4711 WH_T_TOKEN=tok-test-cmd-0815

wh_table t_test 10
plan=$IT_TMP/t.json
wh_plan "$plan" wh-test t_test '[
  {"name": "flip", "url": "http://127.0.0.1:@PORT@/t", "events": ["switch.after", "rollback.after"],
   "headers": {"Authorization": "Bearer ${env.WH_T_TOKEN}"}, "secret_env": "WH_T_SECRET",
   "gate": true, "retries": 2, "timeout_ms": 30000},
  {"name": "other", "url": "http://127.0.0.1:@PORT@/other", "events": ["expand.after"]}
]'

# No database: point libpq nowhere.
assert_exit 0 env PGHOST=/nonexistent PGPORT=1 ECPLAN_DB= DATABASE_URL= "$EC" webhook test "$plan" --event switch.after
assert_contains "$(cat "$OUT")" "delivered" "the attempt is printed"
assert_not_contains "$(cat "$OUT" "$ERR")" "$WH_T_TOKEN" "no header value in the output"
assert_not_contains "$(cat "$OUT" "$ERR")" "$WH_T_SECRET" "no secret in the output"
assert_eq 1 "$(wh_count /t)" "one request"
assert_eq 0 "$(wh_count /other)" "only the webhooks subscribed to the event"
wh_py '
import re, sys
secret, token = sys.argv[1:]
r = at("/t")[0]
h, b = r["headers"], r["json"]
problems = []
def check(c, what):
    if not c:
        problems.append(what)
check(isinstance(b, dict), "body not a JSON object: %r" % r["body"])
b = b or {}
check(b.get("test") is True, "payload test = %r, want true" % b.get("test"))
for k, v in {"event": "switch.after", "plan": "wh-test", "table": "public.t_test", "column": "name",
             "new_column": "full_name", "delivery_id": h.get("X-Ecplan-Delivery"), "attempt": 1}.items():
    check(b.get(k) == v, "payload %s = %r, want %r" % (k, b.get(k), v))
check(h.get("X-Ecplan-Event") == "switch.after", "X-Ecplan-Event %r" % h.get("X-Ecplan-Event"))
check(re.fullmatch(r"[0-9a-f]{32}", h.get("X-Ecplan-Delivery", "")) is not None, "X-Ecplan-Delivery %r" % h.get("X-Ecplan-Delivery"))
check(re.fullmatch(r"wh-test:switch\.after:\d+", h.get("Idempotency-Key", "")) is not None, "Idempotency-Key %r" % h.get("Idempotency-Key"))
check(h.get("Content-Type") == "application/json", "Content-Type %r" % h.get("Content-Type"))
check((h.get("User-Agent") or "").startswith("ecplan/"), "User-Agent %r" % h.get("User-Agent"))
check(h.get("Authorization") == "Bearer " + token, "Authorization header not substituted")
check(verify(r, secret), "signature does not verify")
check(not verify(r, secret + "x"), "signature verifies with another secret")
print("\n".join(problems))
sys.exit(1 if problems else 0)
' "$WH_T_SECRET" "$WH_T_TOKEN" >"$IT_TMP/check.out" || fail "test delivery: $(cat "$IT_TMP/check.out")"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_eq 0 "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan'")" "no state store created"

# Another event of the same webhook.
assert_exit 0 ecplan webhook test "$plan" --event rollback.after
assert_eq "rollback.after True" "$(wh_py 'b = at("/t")[-1]["json"]; print(b["event"], b["test"])')" "rollback.after test delivery"

# Failing receiver: retries 1 -> 2 attempts, exit 5.
plan500=$IT_TMP/t500.json
wh_plan "$plan500" wh-test500 t_test '[
  {"name": "broken", "url": "http://127.0.0.1:@PORT@/t500", "events": ["switch.after"],
   "retries": 1, "timeout_ms": 30000}
]'
assert_exit 5 ecplan webhook test "$plan500" --event switch.after
assert_contains "$(cat "$ERR")" "broken" "the error names the webhook"
assert_contains "$(cat "$OUT" "$ERR")" "500" "the HTTP status is shown"
assert_eq 2 "$(wh_count /t500)" "1 + retries attempts"
assert_eq "1 True" "$(wh_py 'rs = at("/t500"); print(len({r["headers"]["X-Ecplan-Delivery"] for r in rs}), all(r["json"]["test"] is True for r in rs))')" \
	"one delivery id over its retries, marked test"

# Usage errors.
assert_exit 2 ecplan webhook test "$plan" --event contract.after
assert_eq 4 "$(wh_py 'print(len(reqs))')" "nothing sent for an event without subscribers"
assert_exit 2 ecplan webhook test "$plan" --event nonsense.after
assert_exit 2 env -u WH_T_TOKEN "$EC" webhook test "$plan" --event switch.after
assert_contains "$(cat "$ERR")" "WH_T_TOKEN" "unset variable named"
assert_eq 4 "$(wh_py 'print(len(reqs))')" "nothing sent when a variable is unset"
pass
