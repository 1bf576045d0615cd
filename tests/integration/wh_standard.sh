#!/usr/bin/env bash
# Standard Webhooks signatures, a plan's own Content-Type, and a receiver's
# non-2xx answer shown and recorded with the secrets ecplan sent redacted.
#  - "signature": ["ecplan", "standard"] sends X-Ecplan-Signature and the
#    webhook-id / webhook-timestamp / webhook-signature headers; the latter is
#    checked here as a Standard Webhooks verifier does (python's hmac, the
#    whsec_ secret base64-decoded), the id is the delivery id.
#  - a plan's Content-Type replaces application/json (sent once).
#  - a 400 whose body echoes the request's headers (the bearer token among
#    them) is shown by advance and `webhook test`, and recorded in
#    ecplan.events (data.response_body): at most 512 bytes, token redacted.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server --script "/hooks/reject=400:echo"

TOKEN=tok$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
SECRET=whsec_$(head -c 24 /dev/urandom | base64 -w0)
export WH_SECRET=$SECRET FLAG_TOKEN=$TOKEN

wh_table t_std 100
plan=$IT_TMP/plan.json
wh_plan "$plan" wh-standard t_std '[
  {"name": "std", "url": "http://127.0.0.1:@PORT@/hooks/std", "events": ["expand.before"],
   "headers": {"Content-Type": "application/json; domain-model=launchdarkly.semanticpatch"},
   "secret_env": "WH_SECRET", "signature": ["ecplan", "standard"], "retries": 0},
  {"name": "std-only", "url": "http://127.0.0.1:@PORT@/hooks/std-only", "events": ["expand.before"],
   "secret_env": "WH_SECRET", "signature": ["standard"], "retries": 0},
  {"name": "reject", "url": "http://127.0.0.1:@PORT@/hooks/reject", "events": ["expand.after"],
   "headers": {"Authorization": "Bearer ${env.FLAG_TOKEN}"}, "retries": 0}
]'

assert_exit 0 ecplan validate "$plan"
assert_exit 0 ecplan advance "$plan"
assert_eq "expanded|" "$(wh_state wh-standard)" "expand done (the rejecting webhook is not a gate)"
out=$(cat "$OUT" "$ERR")

wh_py '
import base64, hashlib, hmac, re, sys
secret = sys.argv[1]
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
def hdr(r, name):
    vals = [v for k, v in r["headers"].items() if k.lower() == name.lower()]
    return vals
def std_verify(r, secret):
    # what the Standard Webhooks libraries do
    key = base64.b64decode(secret[len("whsec_"):])
    (mid,), (ts,) = hdr(r, "webhook-id"), hdr(r, "webhook-timestamp")
    signed = ("%s.%s." % (mid, ts)).encode() + r["body"].encode()
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    got = [s.split(",", 1)[1] for s in hdr(r, "webhook-signature")[0].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(want, g) for g in got)
(r,) = at("/hooks/std")
check(hdr(r, "Content-Type") == ["application/json; domain-model=launchdarkly.semanticpatch"],
      "Content-Type %r, want the plan s own, once" % hdr(r, "Content-Type"))
check(hdr(r, "webhook-id") == hdr(r, "X-Ecplan-Delivery"), "webhook-id %r is not the delivery id %r"
      % (hdr(r, "webhook-id"), hdr(r, "X-Ecplan-Delivery")))
check(len(hdr(r, "webhook-timestamp")) == 1 and hdr(r, "webhook-timestamp")[0].isdigit(), "webhook-timestamp %r" % hdr(r, "webhook-timestamp"))
check(re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", (hdr(r, "webhook-signature") or [""])[0]) is not None,
      "webhook-signature %r" % hdr(r, "webhook-signature"))
check(std_verify(r, secret), "webhook-signature does not verify")
check(not std_verify(r, "whsec_" + base64.b64encode(b"another key").decode()), "verifies with another key")
tampered = dict(r, body=r["body"].replace("t_std", "t_stX"))
check(not std_verify(tampered, secret), "verifies a changed body")
check(verify(r, secret), "X-Ecplan-Signature missing or wrong beside the standard one")
(o,) = at("/hooks/std-only")
check(hdr(o, "X-Ecplan-Signature") == [], "signature [standard] still sends X-Ecplan-Signature")
check(std_verify(o, secret), "standard-only signature does not verify")
check(hdr(o, "Content-Type") == ["application/json"], "default Content-Type %r" % hdr(o, "Content-Type"))
if problems:
    print("\n".join(problems))
    sys.exit(1)
' "$SECRET" >"$IT_TMP/check.out" || fail "requests as received: $(cat "$IT_TMP/check.out")"
IT_ASSERTS=$((IT_ASSERTS + 1))

# The 400's body: shown, recorded, redacted, cut at 512 bytes.
assert_eq 1 "$(wh_count /hooks/reject)" "the rejecting receiver was called once"
assert_contains "$out" 'the receiver answered: {"error": "rejected"' "advance shows the answer's body"
assert_not_contains "$out" "$TOKEN" "the bearer token echoed by the receiver is not shown"
rb=$(q "SELECT data->>'response_body' FROM ecplan.events WHERE plan = 'wh-standard' AND kind = 'webhook' AND data->>'webhook' = 'reject'")
assert_contains "$rb" '"error": "rejected", "status": 400' "the body is recorded in the event's data"
assert_contains "$rb" '"Authorization": "[redacted]"' "the echoed Authorization value is redacted"
assert_not_contains "$rb" "$TOKEN" "no token in the recorded body"
assert_contains "$rb" 'ppp...' "a long body is cut and marked"
len=$(q "SELECT length(data->>'response_body') FROM ecplan.events WHERE plan = 'wh-standard' AND kind = 'webhook' AND data->>'webhook' = 'reject'")
[[ $len -le 515 && $len -ge 500 ]] || fail "recorded body is $len characters, want 512 + '...'"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-standard' AND kind = 'webhook' AND message LIKE '%the receiver answered: {\"error\"%'")" \
	"history's message has the answer too"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-standard' AND (message LIKE '%$TOKEN%' OR data::text LIKE '%$TOKEN%')")" \
	"no token anywhere in the events"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'wh-standard' AND kind = 'webhook' AND data->>'webhook' <> 'reject' AND data->>'response_body' IS NOT NULL")" \
	"no response_body on delivered attempts"

# webhook test shows it too.
assert_exit 5 ecplan webhook test "$plan" --event expand.after
assert_contains "$(cat "$OUT" "$ERR")" 'the receiver answered: {"error": "rejected"' "webhook test shows the answer"
assert_not_contains "$(cat "$OUT" "$ERR")" "$TOKEN" "webhook test does not show the token"

# A whsec_ secret that is not base64 stops advance before anything runs (exit 2).
WH_SECRET="whsec_not base64!" assert_exit 2 ecplan advance "$plan"
assert_contains "$(cat "$ERR")" "is not base64" "a bad whsec_ secret is named"
pass
