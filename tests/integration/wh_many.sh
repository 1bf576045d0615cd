#!/usr/bin/env bash
# No fixed limit on webhooks (issue 10, item 5): a plan with 70 webhooks on one
# event delivers all 70 (ecplan once kept only the first 64, gates included),
# and the 70th, a failing gate, stops the phase (exit 5).
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/gate69=500"

wh_table t_many 100
plan=$IT_TMP/many.json
hooks=$(python3 -c '
import json
print(json.dumps([{"name": "h%d" % i, "url": "http://127.0.0.1:@PORT@/h%d" % i,
                   "events": ["expand.after"], "retries": 0} for i in range(70)]))')
wh_plan "$plan" wh-many t_many "$hooks"
assert_exit 0 ecplan advance "$plan" --to expand
assert_eq "expanded|" "$(wh_state wh-many)" "expand done"
assert_eq 70 "$(wh_py 'print(len({r["path"] for r in reqs if r["path"].startswith("/h")}))')" \
	"each of the 70 webhooks got its request"
assert_eq 70 "$(q "SELECT count(*) FROM ecplan.deliveries WHERE plan = 'wh-many' AND delivered")" \
	"70 deliveries recorded as delivered"

# A gate placed 70th still gates.
plan2=$IT_TMP/many-gate.json
hooks=$(python3 -c '
import json
h = [{"name": "n%d" % i, "url": "http://127.0.0.1:@PORT@/n%d" % i,
      "events": ["expand.before"], "retries": 0} for i in range(69)]
h.append({"name": "gate69", "url": "http://127.0.0.1:@PORT@/gate69", "events": ["expand.before"],
          "retries": 0, "gate": True})
print(json.dumps(h))')
wh_table t_many2 10
wh_plan "$plan2" wh-many2 t_many2 "$hooks"
assert_exit 5 ecplan advance "$plan2" --to expand
assert_contains "$(cat "$ERR")" 'gate webhook "gate69"' "the 70th webhook, a failing gate, stops the phase"
assert_eq 0 "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t_many2'::regclass AND attname = 'full_name'")" \
	"expand did not run"
pass
