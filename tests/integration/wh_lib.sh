#!/usr/bin/env bash
# Helpers for the webhook integration tests (tests/integration/wh_*.sh).
#
# A test starts with
#   source "$(dirname "$0")/wh_lib.sh"    # also sources lib.sh
#   it_setup
#   wh_server [--script /path=SEQ ...]    # tests/support/hook_server.py, killed at exit
#
# Helpers:
#   wh_server ARGS...          start the hook server (extra args go to it); sets WH_PORT,
#                              WH_PID, WH_LOG (its JSON-lines request log)
#   wh_script PATH SEQ         replace the server's script for PATH (restarts it)
#   wh_py CODE [ARGS...]       run python3 CODE with `reqs` (the logged requests, oldest
#                              first, each with "json": the parsed body or None), `sys.argv`
#                              = [wh_py, ARGS...], `verify(req, secret)` (the
#                              X-Ecplan-Signature check, computed here with hmac) and
#                              `at(path)` (the requests to PATH)
#   wh_count PATH              how many requests PATH got
#   wh_table NAME [ROWS]       create public.NAME (id identity pk, name text, note text)
#                              with ROWS rows (default 200)
#   wh_plan FILE NAME TABLE HOOKS_JSON [CHANGE_JSON]
#                              write a plan renaming TABLE.name to full_name, with the
#                              webhooks HOOKS_JSON (a JSON array; @PORT@ becomes
#                              $WH_PORT); CHANGE_JSON (an object) overrides keys of
#                              "change"
#   wh_state NAME              "state|running_phase" of plan NAME in ecplan.plans
#   wh_wh_events NAME [EVENT]  number of kind 'webhook' events of NAME (for EVENT)
#
# ctest does not run *_lib.sh files; run directly (bash tests/integration/wh_lib.sh,
# with the PG* variables of a test server), this file tests its own helpers
# against the hook server, without ecplan.

if [[ -z "${IT_LIB_FILE:-}" ]]; then
	# shellcheck source=tests/integration/lib.sh
	source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

WH_SOURCE_DIR=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
WH_SERVER=$WH_SOURCE_DIR/tests/support/hook_server.py
WH_LOG=$IT_TMP/hooks.log
WH_PORT=
WH_PID=

wh_stop() {
	if [[ -n "$WH_PID" ]]; then
		kill "$WH_PID" 2>/dev/null || true
		wait "$WH_PID" 2>/dev/null || true
		WH_PID=
	fi
	return 0
}

wh_server() {
	local pf=$IT_TMP/hooks.port i
	rm -f -- "$pf"
	: >>"$WH_LOG"
	python3 "$WH_SERVER" --port-file "$pf" --log "$WH_LOG" --max-lifetime 170 "$@" \
		>"$IT_TMP/hooks.out" 2>"$IT_TMP/hooks.err" &
	WH_PID=$!
	it_defer wh_stop
	for ((i = 0; i < 1200; i++)); do
		[[ -s "$pf" ]] && break
		kill -0 "$WH_PID" 2>/dev/null || fail "hook server died: $(cat "$IT_TMP/hooks.err")"
		sleep 0.1
	done
	[[ -s "$pf" ]] || fail "hook server did not start within 120 s"
	WH_PORT=$(tr -d '\n' <"$pf")
}

wh_script() {
	python3 - "$WH_PORT" "$1" "$2" <<'EOF'
import json, sys, urllib.request
port, path, seq = sys.argv[1:]
req = urllib.request.Request("http://127.0.0.1:%s/__control/script" % port,
                             data=json.dumps({"path": path, "script": seq}).encode(),
                             method="POST")
with urllib.request.urlopen(req, timeout=5) as r:
    assert r.status == 200, r.status
EOF
}

wh_py() {
	local code=$1
	shift
	python3 - "$@" 3<"$WH_LOG" <<EOF
import hashlib, hmac, json, os, re, sys
reqs = []
with os.fdopen(3, encoding="utf-8") as f:
    for line in f:
        if line.strip():
            r = json.loads(line)
            try:
                r["json"] = json.loads(r["body"])
            except ValueError:
                r["json"] = None
            reqs.append(r)
def at(path):
    return [r for r in reqs if r["path"] == path]
def verify(req, secret):
    # What a receiver does: t and v1 from the header, HMAC-SHA256 over "<t>.<body>".
    sig = req["headers"].get("X-Ecplan-Signature")
    if not sig:
        return False
    parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    mac = hmac.new(secret.encode(), (parts["t"] + ".").encode() + req["body"].encode(),
                   hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"])
$code
EOF
}

wh_count() {
	wh_py 'print(len(at(sys.argv[1])))' "$1"
}

wh_table() {
	local name=$1 rows=${2:-200}
	q "CREATE TABLE public.$name (
		id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		name text,
		note text NOT NULL DEFAULT 'x');
	   INSERT INTO public.$name (name) SELECT 'Name ' || g FROM generate_series(1, $rows) AS g;
	   ANALYZE public.$name;"
}

wh_plan() {
	local file=$1 name=$2 table=$3 hooks=$4 change=${5:-"{}"}
	python3 - "$file" "$name" "$table" "${hooks//@PORT@/$WH_PORT}" "$change" <<'EOF'
import json, sys
file, name, table, hooks, change = sys.argv[1:]
plan = {
    "format": "ecplan/v1",
    "name": name,
    "table": "public." + table,
    "change": {"column": "name", "new_column": "full_name", "type": "text",
               "up": "name", "down": "full_name"},
    "backfill": {"batch_size": 1000},
    "webhooks": json.loads(hooks),
}
plan["change"].update(json.loads(change))
with open(file, "w") as f:
    json.dump(plan, f, indent=2)
EOF
}

wh_state() {
	q "SELECT state || '|' || coalesce(running_phase, '') FROM ecplan.plans WHERE name = '$1'"
}

wh_wh_events() {
	if [[ $# -ge 2 ]]; then
		q "SELECT count(*) FROM ecplan.events WHERE plan = '$1' AND kind = 'webhook' AND data->>'event' = '$2'"
	else
		q "SELECT count(*) FROM ecplan.events WHERE plan = '$1' AND kind = 'webhook'"
	fi
}

# ---- self-test ---------------------------------------------------------------
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	it_setup
	wh_server --script "/s=500,201"
	[[ "$WH_PORT" =~ ^[0-9]+$ ]] || fail "no port: [$WH_PORT]"
	# A signed request made here with the documented scheme verifies, a wrong
	# secret or a changed body does not.
	python3 - "$WH_PORT" <<'EOF'
import hashlib, hmac, sys, time, urllib.error, urllib.request
port = sys.argv[1]
body = b'{"event":"switch.after","x":"\\u00e9"}'
t = str(int(time.time()))
sig = hmac.new(b"s3cret", t.encode() + b"." + body, hashlib.sha256).hexdigest()
for path in ("/s", "/s", "/other"):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method="POST",
                                 headers={"X-Ecplan-Signature": "t=%s,v1=%s" % (t, sig),
                                          "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5).close()
    except urllib.error.HTTPError as e:
        e.close()
EOF
	assert_eq 2 "$(wh_count /s)" "two requests to /s logged"
	assert_eq 1 "$(wh_count /other)" "one request to /other logged"
	assert_eq "500 201 200" "$(wh_py 'print(" ".join(r["action"] for r in reqs))')" "script followed"
	assert_eq "True False" "$(wh_py 'r = at("/s")[0]; print(verify(r, "s3cret"), verify(r, "other"))')" \
		"verify() accepts the right secret only"
	assert_eq False "$(wh_py 'r = dict(at("/s")[0]); r["body"] = r["body"].replace("switch", "expand"); print(verify(r, "s3cret"))')" \
		"verify() rejects a changed body"
	assert_eq switch.after "$(wh_py 'print(at("/other")[0]["json"]["event"])')" "body parsed"
	wh_script /s "404"
	python3 -c "import urllib.request, urllib.error
try: urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:$WH_PORT/s', data=b'{}'), timeout=5)
except urllib.error.HTTPError as e: print(e.code)" >"$OUT"
	assert_eq 404 "$(cat "$OUT")" "wh_script replaced the script"

	wh_table t_self 10
	assert_eq "10|10" "$(q "SELECT count(*), count(name) FROM public.t_self")" "wh_table made the table"
	wh_plan "$IT_TMP/p.json" self-plan t_self '[{"name": "h", "url": "http://127.0.0.1:@PORT@/h", "events": ["failed"]}]' '{"up": "upper(name)"}'
	assert_eq "http://127.0.0.1:$WH_PORT/h upper(name) public.t_self" \
		"$(python3 -c 'import json,sys; p = json.load(open(sys.argv[1])); print(p["webhooks"][0]["url"], p["change"]["up"], p["table"])' "$IT_TMP/p.json")" \
		"wh_plan writes the plan"
	pid=$WH_PID
	wh_stop
	if kill -0 "$pid" 2>/dev/null; then
		fail "hook server $pid still running after wh_stop"
	fi
	pass
fi
