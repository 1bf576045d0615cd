#!/usr/bin/env bash
# Webhook retries, as the receiver and ecplan.events see them: 5xx, 408, 429
# (Retry-After honoured), connection errors and timeouts are retried with one
# delivery id; other 4xx and 3xx (redirects not followed by default) are not.
# Non-gate failures never stop the phase, and history shows them.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/r500=500,500,200" --script "/r404=404" --script "/r429=429:1,200" \
	--script "/r408=408,200" --script "/rclose=close,200" --script "/rhang=hang:120,200" \
	--script "/rredir=301:/elsewhere" --script "/rfollow=302:/followed"

wh_table t_retry 100
plan=$IT_TMP/retry.json
wh_plan "$plan" wh-retry t_retry '[
  {"name": "r500", "url": "http://127.0.0.1:@PORT@/r500", "events": ["expand.after"], "retries": 3, "timeout_ms": 30000},
  {"name": "r404", "url": "http://127.0.0.1:@PORT@/r404", "events": ["expand.after"], "retries": 3, "timeout_ms": 30000},
  {"name": "r429", "url": "http://127.0.0.1:@PORT@/r429", "events": ["sync.after"], "retries": 2, "timeout_ms": 30000},
  {"name": "r408", "url": "http://127.0.0.1:@PORT@/r408", "events": ["sync.after"], "retries": 1, "timeout_ms": 30000},
  {"name": "rclose", "url": "http://127.0.0.1:@PORT@/rclose", "events": ["sync.after"], "retries": 1, "timeout_ms": 30000},
  {"name": "rhang", "url": "http://127.0.0.1:@PORT@/rhang", "events": ["sync.after"], "retries": 1, "timeout_ms": 5000},
  {"name": "rredir", "url": "http://127.0.0.1:@PORT@/rredir", "events": ["sync.after"], "retries": 3, "timeout_ms": 30000},
  {"name": "rfollow", "url": "http://127.0.0.1:@PORT@/rfollow", "events": ["sync.after"], "retries": 3, "timeout_ms": 30000,
   "follow_redirects": true}
]'

# attempts WEBHOOK: "attempt:http_status:ok" of its recorded attempts, in order
attempts() {
	q "SELECT string_agg((data->>'attempt') || ':' || (data->>'http_status') || ':' || (data->>'ok'), ' ' ORDER BY id)
	   FROM ecplan.events WHERE plan = 'wh-retry' AND kind = 'webhook' AND data->>'webhook' = '$1'"
}
ids() { # distinct delivery ids in ecplan.events for WEBHOOK
	q "SELECT count(DISTINCT data->>'delivery_id') FROM ecplan.events WHERE plan = 'wh-retry' AND kind = 'webhook' AND data->>'webhook' = '$1'"
}
same_delivery() { # PATH: every request there has the same delivery id and key
	wh_py 'rs = at(sys.argv[1]); print(len(rs), len({r["headers"].get("X-Ecplan-Delivery") for r in rs}), len({r["headers"].get("Idempotency-Key") for r in rs}))' "$1"
}

# ---- expand.after: 500,500,200 and 404 ----------------------------------------
assert_exit 0 ecplan advance "$plan"
assert_eq "expanded|" "$(wh_state wh-retry)" "expand completes: its webhooks are not gates"
assert_eq "3 1 1" "$(same_delivery /r500)" "500,500,200: three requests, one delivery id and key"
assert_eq "1:500:false 2:500:false 3:200:true" "$(attempts r500)" "500,500,200: three attempts recorded"
assert_eq 1 "$(ids r500)" "one delivery id in ecplan.events"
assert_eq "$(wh_py 'print(at("/r500")[0]["headers"]["X-Ecplan-Delivery"])')" \
	"$(q "SELECT DISTINCT data->>'delivery_id' FROM ecplan.events WHERE plan = 'wh-retry' AND data->>'webhook' = 'r500'")" \
	"the recorded id is the one sent"
assert_eq "t|3|200" "$(q "SELECT delivered, attempts, last_status FROM ecplan.deliveries WHERE plan = 'wh-retry' AND webhook = 'r500'")" \
	"ecplan.deliveries: delivered after 3 attempts"

assert_eq "1 1 1" "$(same_delivery /r404)" "404: one request, not retried"
assert_eq "1:404:false" "$(attempts r404)" "404: one failed attempt recorded"
assert_eq "f|1|404" "$(q "SELECT delivered, attempts, last_status FROM ecplan.deliveries WHERE plan = 'wh-retry' AND webhook = 'r404'")" \
	"ecplan.deliveries: not delivered, 1 attempt"
assert_eq 1 "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t_retry'::regclass AND attname = 'full_name' AND NOT attisdropped")" \
	"expand's DDL done"
assert_exit 0 ecplan history wh-retry
assert_contains "$(grep r404 "$OUT")" "404" "history shows the 404 failure"
assert_exit 0 ecplan history wh-retry --json
assert_eq "1" "$(python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["kind"] == "webhook" and (e.get("data") or {}).get("webhook") == "r404"
          and e["data"].get("ok") is False and e["data"].get("http_status") == 404 and e["data"].get("error")))' <"$OUT")" \
	"history --json shows the failed attempt with status and error"

# ---- sync.after: 429 + Retry-After, 408, connection closed, timeout, redirects --
assert_exit 0 ecplan advance "$plan"
assert_eq "synced|" "$(wh_state wh-retry)" "sync completes"

assert_eq "2 1 1" "$(same_delivery /r429)" "429 then 200: retried once, same delivery"
assert_eq "1:429:false 2:200:true" "$(attempts r429)" "429: two attempts recorded"
gap=$(wh_py 'rs = at("/r429"); print("%.3f" % (rs[1]["time"] - rs[0]["time"]))')
python3 -c "import sys; sys.exit(0 if float('$gap') >= 0.95 else 1)" ||
	fail "the retry after 429 with Retry-After: 1 came $gap s after the first attempt (want >= 1 s)"
IT_ASSERTS=$((IT_ASSERTS + 1))

assert_eq "2 1 1" "$(same_delivery /r408)" "408: retried"
assert_eq "1:408:false 2:200:true" "$(attempts r408)" "408: two attempts recorded"

assert_eq "2 1 1" "$(same_delivery /rclose)" "connection closed without an answer: retried"
assert_eq "1:0:false 2:200:true" "$(attempts rclose)" "closed connection recorded with http_status 0"

assert_eq "2 1 1" "$(same_delivery /rhang)" "timeout: retried"
assert_eq "1:0:false 2:200:true" "$(attempts rhang)" "timeout recorded with http_status 0"
assert_contains "$(q "SELECT data->>'error' FROM ecplan.events WHERE plan = 'wh-retry' AND data->>'webhook' = 'rhang' AND (data->>'attempt')::int = 1")" \
	"time" "the timeout's error says so"
dur=$(q "SELECT data->>'duration_ms' FROM ecplan.events WHERE plan = 'wh-retry' AND data->>'webhook' = 'rhang' AND (data->>'attempt')::int = 1")
# The receiver hangs for 120 s: an attempt shorter than that was cut by
# timeout_ms (5000), whatever the load on the machine.
[[ "$dur" -ge 4900 && "$dur" -lt 120000 ]] || fail "timed-out attempt took $dur ms with timeout_ms 5000 (receiver hangs 120 s)"
IT_ASSERTS=$((IT_ASSERTS + 1))

assert_eq "1 1 1" "$(same_delivery /rredir)" "301 without follow_redirects: one request, not retried"
assert_eq 0 "$(wh_count /elsewhere)" "the redirect was not followed"
assert_eq "1:301:false" "$(attempts rredir)" "301 recorded as a failed attempt"
assert_eq 1 "$(wh_count /rfollow)" "follow_redirects: one request to the url"
assert_eq 1 "$(wh_count /followed)" "follow_redirects: the redirect was followed"
assert_eq "t" "$(q "SELECT delivered FROM ecplan.deliveries WHERE plan = 'wh-retry' AND webhook = 'rfollow'")" \
	"the followed redirect delivered"

assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-retry' AND kind = 'webhook' AND NOT (data ?& array['event', 'url', 'http_status', 'duration_ms', 'error', 'attempt'])")" \
	"every webhook event has event, url, http_status, duration_ms, error and attempt"
assert_exit 0 ecplan status wh-retry --json
assert_eq 0 "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_webhooks"])' <"$OUT")" \
	"failed non-gate webhooks are not pending gates"
pass
