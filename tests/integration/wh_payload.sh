#!/usr/bin/env bash
# Webhook requests as a receiver sees them: the headers ecplan always sends,
# the default payload, the HMAC signature (checked here with python's hmac,
# not with ecplan's code), the Idempotency-Key format; and no secret (signing
# secret, ${env.*} header value, literal header value, url password) in any
# output, history, status or table of schema ecplan.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/hooks/cred=500"

rand() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
SECRET=sec$(rand)
TOKEN=tok$(rand)
APIKEY=key$(rand)
URLPW=pw$(rand)
export WH_SECRET=$SECRET FLAG_TOKEN=$TOKEN

wh_table t_payload 300
plan=$IT_TMP/plan.json
wh_plan "$plan" wh-payload t_payload '[
  {"name": "signed", "url": "http://127.0.0.1:@PORT@/hooks/payload",
   "events": ["expand.before", "expand.after"],
   "headers": {"Authorization": "Bearer ${env.FLAG_TOKEN}", "X-Api-Key": "'"$APIKEY"'"},
   "secret_env": "WH_SECRET", "timeout_ms": 30000, "retries": 2},
  {"name": "with-credentials",
   "url": "http://hookuser:'"$URLPW"'@127.0.0.1:@PORT@/hooks/cred?token=${env.FLAG_TOKEN}",
   "events": ["sync.after"], "timeout_ms": 30000, "retries": 0}
]'

version=$(ecplan --version | awk '{print $2}')
[[ -n "$version" ]] || fail "ecplan --version printed no version"

all=$IT_TMP/everything.txt
: >"$all"
keep() { cat "$OUT" "$ERR" >>"$all"; }

t0=$(date +%s)
assert_exit 0 ecplan advance "$plan"
keep
t1=$(date +%s)
assert_eq "expanded|" "$(wh_state wh-payload)" "expand done"
assert_eq 1 "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t_payload'::regclass AND attname = 'full_name' AND NOT attisdropped")" \
	"the new column exists"

assert_eq "expand.before expand.after" "$(wh_py 'print(" ".join(r["headers"].get("X-Ecplan-Event", "?") for r in at("/hooks/payload")))')" \
	"the receiver got expand.before then expand.after, once each"

# Every required header, on both requests.
wh_py '
import re, sys
version, t0, t1, secret, token, apikey = sys.argv[1:]
t0, t1 = int(t0), int(t1)
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
rs = at("/hooks/payload")
check(len(rs) == 2, "expected 2 requests, got %d" % len(rs))
ids = set()
for r in rs:
    h, b = r["headers"], r["json"]
    ev = h.get("X-Ecplan-Event")
    check(r["method"] == "POST", "%s: method %s" % (ev, r["method"]))
    check(h.get("Content-Type") == "application/json", "%s: Content-Type %r" % (ev, h.get("Content-Type")))
    check(h.get("User-Agent") == "ecplan/" + version, "%s: User-Agent %r, want ecplan/%s" % (ev, h.get("User-Agent"), version))
    d = h.get("X-Ecplan-Delivery", "")
    check(re.fullmatch(r"[0-9a-f]{32}", d) is not None, "%s: X-Ecplan-Delivery %r" % (ev, d))
    ids.add(d)
    ik = h.get("Idempotency-Key", "")
    # plan name + event + attempt number of the phase (expand runs for the first time)
    check(ik == "wh-payload:%s:1" % ev, "%s: Idempotency-Key %r, want wh-payload:%s:1" % (ev, ik, ev))
    check(h.get("Authorization") == "Bearer " + token, "%s: Authorization header not the substituted ${env.FLAG_TOKEN}" % ev)
    check(h.get("X-Api-Key") == apikey, "%s: plan header X-Api-Key not sent" % ev)
    sig = h.get("X-Ecplan-Signature", "")
    m = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", sig)
    check(m is not None, "%s: X-Ecplan-Signature %r not t=<unix>,v1=<64 hex>" % (ev, sig))
    if m:
        check(t0 - 5 <= int(m.group(1)) <= t1 + 5, "%s: signature t=%s not the time of sending" % (ev, m.group(1)))
    check(verify(r, secret), "%s: signature does not verify with the secret" % ev)
    check(not verify(r, "not-the-secret"), "%s: signature verifies with another secret" % ev)
    check(not verify(r, secret[:-1]), "%s: signature verifies with a truncated secret" % ev)
    # The default payload.
    check(isinstance(b, dict), "%s: body is not a JSON object: %r" % (ev, r["body"]))
    if not isinstance(b, dict):
        continue
    want = {"event": ev, "plan": "wh-payload", "table": "public.t_payload", "column": "name",
            "new_column": "full_name", "phase": "expand", "delivery_id": d, "attempt": 1}
    for k, v in want.items():
        check(b.get(k) == v, "%s: payload %s = %r, want %r" % (ev, k, b.get(k), v))
    check(b.get("test") in (False, None), "%s: payload test = %r on a real delivery" % (ev, b.get("test")))
    check(isinstance(b.get("state"), str) and b.get("state") in ("planned", "expanded"),
          "%s: payload state %r" % (ev, b.get("state")))
    ts = b.get("timestamp", "")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", str(ts)) is not None, "%s: timestamp %r" % (ev, ts))
    check("error" not in b, "%s: payload has an error field outside the failed event" % ev)
    for k in b:
        check(secret not in json.dumps(b[k]) and token not in json.dumps(b[k]), "%s: a secret in payload field %s" % (ev, k))
check(len(ids) == 2, "the two deliveries share an X-Ecplan-Delivery")
if problems:
    print("\n".join(problems))
    sys.exit(1)
' "$version" "$t0" "$t1" "$SECRET" "$TOKEN" "$APIKEY" >"$IT_TMP/check.out" ||
	fail "requests as received: $(cat "$IT_TMP/check.out")"
IT_ASSERTS=$((IT_ASSERTS + 1))

# The body is signed byte for byte: the same header with a body changed by one
# character must not verify.
assert_eq False "$(wh_py 'r = dict(at("/hooks/payload")[0]); r["body"] = r["body"].replace("t_payload", "t_paylXad"); print(verify(r, sys.argv[1]))' "$SECRET")" \
	"signature does not verify for a changed body"

# The state store knows the same delivery ids the receiver saw.
recv_ids=$(wh_py 'print(" ".join(sorted(r["headers"]["X-Ecplan-Delivery"] for r in at("/hooks/payload"))))')
db_ids=$(q "SELECT string_agg(id, ' ' ORDER BY id) FROM ecplan.deliveries WHERE plan = 'wh-payload' AND event LIKE 'expand.%' AND delivered")
assert_eq "$recv_ids" "$db_ids" "ecplan.deliveries holds the delivered ids"
ev_ids=$(q "SELECT string_agg(DISTINCT data->>'delivery_id', ' ') FROM ecplan.events WHERE plan = 'wh-payload' AND kind = 'webhook' AND data->>'event' LIKE 'expand.%'")
assert_eq "$recv_ids" "$ev_ids" "ecplan.events records the delivered ids"
assert_eq "2|2" "$(q "SELECT count(*), count(*) FILTER (WHERE (data->>'http_status')::int = 200 AND (data->>'attempt')::int = 1 AND data ? 'duration_ms' AND data->>'url' = 'http://127.0.0.1:$WH_PORT/hooks/payload') FROM ecplan.events WHERE plan = 'wh-payload' AND kind = 'webhook'")" \
	"one webhook event per attempt, with status, attempt, duration and url"

# sync.after goes to a url with a password and a ${env} query value; the
# receiver answers 500 (not a gate: sync completes, the failure is recorded).
assert_exit 0 ecplan advance "$plan"
keep
assert_eq "synced|" "$(wh_state wh-payload)" "sync done despite the failing non-gate webhook"
assert_eq 1 "$(wh_count /hooks/cred)" "the credentials url was called once (retries 0)"
assert_eq "Basic $(printf 'hookuser:%s' "$URLPW" | base64 -w0)" \
	"$(wh_py 'print(at("/hooks/cred")[0]["headers"].get("Authorization"))')" "url userinfo sent as basic auth"
cred_url=$(q "SELECT data->>'url' FROM ecplan.events WHERE plan = 'wh-payload' AND kind = 'webhook' AND data->>'event' = 'sync.after'")
assert_not_contains "$cred_url" "hookuser" "recorded url has no user name"
assert_contains "$cred_url" "/hooks/cred" "recorded url names the path"
assert_eq 500 "$(q "SELECT data->>'http_status' FROM ecplan.events WHERE plan = 'wh-payload' AND kind = 'webhook' AND data->>'event' = 'sync.after'")" \
	"failed attempt recorded with its status"

# Everything ecplan shows or stores.
for args in "history wh-payload --json" "history wh-payload" "status wh-payload --json" "status wh-payload" "status --json"; do
	# shellcheck disable=SC2086
	assert_exit 0 ecplan $args
	keep
done
assert_exit 0 ecplan webhook test "$plan" --event expand.after
keep
assert_exit 5 ecplan webhook test "$plan" --event sync.after
keep
# The literal header value and the url password are part of the plan file,
# which ecplan.plans keeps verbatim (to detect drift): they must appear in no
# output and no log, but the stored plan may hold them.
for t in events deliveries schema_version; do
	q "SELECT row_to_json(x)::text FROM ecplan.$t x" >>"$all"
done
q "SELECT * FROM ecplan.events" >>"$all"
q "SELECT * FROM ecplan.deliveries" >>"$all"
assert_contains "$(cat "$all")" "wh-payload" "the collected output is not empty"
assert_contains "$(cat "$all")" "sync.after" "the collected output has the webhook records"
content=$(cat "$all")
assert_not_contains "$content" "$APIKEY" "the literal header value appears in no output or log"
assert_not_contains "$content" "$URLPW" "the url password appears in no output or log"
# The signing secret and the ${env} value are not in the plan file: they must
# appear nowhere, ecplan.plans included.
q "SELECT row_to_json(x)::text FROM ecplan.plans x" >>"$all"
q "SELECT * FROM ecplan.plans" >>"$all"
content=$(cat "$all")
assert_contains "$content" '${env.FLAG_TOKEN}' "ecplan.plans keeps the template, not its value"
assert_not_contains "$content" "$SECRET" "the signing secret appears nowhere"
assert_not_contains "$content" "$TOKEN" "the \${env.FLAG_TOKEN} value appears nowhere"
assert_not_contains "$content" "Bearer tok" "no Authorization value appears"
# The first run of sync: attempt 1 of that phase, whatever ran before it.
# (Last: the secrecy checks above matter more.)
assert_eq "wh-payload:sync.after:1" "$(wh_py 'print(at("/hooks/cred")[0]["headers"].get("Idempotency-Key"))')" \
	"Idempotency-Key of sync.after: plan name, event, attempt number of the phase"
pass
