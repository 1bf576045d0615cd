#!/usr/bin/env bash
# --json on validate, check, verify, advance, rollback (and status, wait,
# forget): one JSON document on stdout with the documented fields, and every
# error as one JSON object on stderr {code, exit_code, message, detail, hint,
# path, file, line, column, sqlstate, http_status, errors}. status --json's
# runner is an object naming the ecplan process (pid, host) and its backend;
# a refused second runner names the same and says how to tell it is alive.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}
js() { # js FILE EXPR... : each Python expression of o (the parsed JSON), space-separated
	python3 -c 'import json, sys; o = json.load(open(sys.argv[1])); print(" ".join(str(eval(e)) for e in sys.argv[2:]))' "$@"
}
ERRKEYS="['code', 'exit_code', 'message', 'detail', 'hint', 'path', 'file', 'line', 'column', 'sqlstate', 'http_status', 'errors']"
one_error_object() { # stderr is exactly one JSON object with the stable keys
	[[ $(wc -l <"$ERR") -eq 1 ]] || fail "$1: stderr is not one line: $(cat "$ERR")"
	assert_eq "$ERRKEYS" "$(js "$ERR" 'list(o.keys())')" "$1: error object keys"
}

sm_mk_users 3000
NAME=json-demo
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" name="\"$NAME\"" backfill.batch_size=100 backfill.target_batch_ms=0 backfill.pause_ms=100

# validate
assert_exit 0 ecplan validate --json "$P"
assert_eq "True True $NAME users []" "$(js "$OUT" 'o["valid"]' 'o["plans"][0]["valid"]' 'o["plans"][0]["name"]' 'o["plans"][0]["table"]' 'o["plans"][0]["errors"]')" "validate --json ok"
[[ ! -s "$ERR" ]] || fail "validate --json ok: stderr not empty: $(cat "$ERR")"
assert_exit 2 ecplan validate --json "$P" "$src/tests/cases/invalid/multiple-errors/plan.json"
assert_eq "False 4" "$(js "$OUT" 'o["valid"]' 'len(o["plans"][1]["errors"])')" "validate --json: every error per file"
one_error_object "validate"
assert_eq "invalid 2 \$.name 3 11 4" "$(js "$ERR" 'o["code"]' 'o["exit_code"]' 'o["path"]' 'o["line"]' 'o["column"]' 'len(o["errors"])')" \
	"validate: first error with path and position, all in errors"
assert_exit 2 ecplan validate --json "$src/tests/cases/invalid/unknown-change-key/plan.json"
assert_contains "$(js "$ERR" 'o["hint"]')" "accepts only" "the hint is kept"

# check
assert_exit 0 ecplan check --json "$P"
assert_eq "$NAME planned False expand True" "$(js "$OUT" 'o["plan"]' 'o["state"]' 'o["registered"]' 'o["next"]' 'o["ok"]')" "check --json"
assert_eq "True" "$(js "$OUT" 'all(set(p) == {"name", "ok", "detail"} for p in o["preconditions"]) and len(o["preconditions"]) > 0')" "check: preconditions listed"
assert_eq "3000 True" "$(js "$OUT" 'o["estimate"]["rows"]' 'o["estimate"]["lower_bound"]')" "check: estimate"

# advance: a result object, no progress lines
assert_exit 0 ecplan advance "$P" --to sync --json
assert_eq "advance True 0 None synced True backfill None" \
	"$(js "$OUT" 'o["command"]' 'o["ok"]' 'o["exit_code"]' 'o["state_before"]' 'o["state"]' 'o["changed"]' 'o["next"]' 'o["last_error"]')" "advance --json"
[[ ! -s "$ERR" ]] || fail "advance --json: stderr not empty: $(cat "$ERR")"
# --to a finished stage: a no-op, exit 0, changed false.
assert_exit 0 ecplan advance "$P" --to expand --json
assert_eq "synced synced False" "$(js "$OUT" 'o["state_before"]' 'o["state"]' 'o["changed"]')" "advance --to a done phase: no-op"

# The runner: status --json names the ecplan process; a second runner is told
# who holds the plan and how to tell whether it is alive.
"$BIN" advance "$P" --to backfill --quiet >"$IT_TMP/a.out" 2>"$IT_TMP/a.err" &
apid=$!
for _ in $(seq 1 3000); do
	[[ "$(q "SELECT count(*) FROM ecplan.plans WHERE name = '$NAME' AND running_phase = 'backfill' AND rows_done > 0")" == 1 ]] && break
	sleep 0.05
done
kill -0 $apid 2>/dev/null || fail "the runner ended too early: $(cat "$IT_TMP/a.err")"
backend=$(q "SELECT (data->>'backend_pid') FROM ecplan.events WHERE plan = '$NAME' AND kind = 'runner' ORDER BY id DESC LIMIT 1")
assert_exit 0 ecplan status $NAME --json
assert_eq "True $apid $(hostname) $backend ecplan True" \
	"$(js "$OUT" 'o["running"]' 'o["runner"]["pid"]' 'o["runner"]["host"]' 'o["runner"]["backend_pid"]' 'o["runner"]["application_name"]' 'o["runner"]["started_at"].endswith("Z")')" \
	"status --json: runner object"
assert_eq "$backend" "$(q "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1")" \
	"the published backend pid is the lock holder"
assert_exit 0 ecplan status $NAME
assert_contains "$(cat "$OUT")" "running:  ecplan pid $apid on host \"$(hostname)\"" "status names the ecplan process"
assert_exit 4 ecplan advance "$P"
assert_contains "$(cat "$ERR")" "another runner holds plan \"$NAME\"" "refused"
assert_contains "$(cat "$ERR")" "ecplan pid $apid on host \"$(hostname)\"" "names the client pid and host"
assert_contains "$(cat "$ERR")" "server backend pid $backend" "and its backend"
assert_contains "$(cat "$ERR")" "kill -0 $apid" "says how to tell whether it is alive"
assert_exit 4 ecplan rollback "$P" --json
one_error_object "locked"
assert_eq "locked 4" "$(js "$ERR" 'o["code"]' 'o["exit_code"]')" "locked code"
rc=0
wait $apid || rc=$?
assert_eq 0 "$rc" "the first runner finished (stderr: $(cat "$IT_TMP/a.err"))"
assert_exit 0 ecplan status $NAME --json
assert_eq "False None" "$(js "$OUT" 'o["running"]' 'o["runner"]')" "no runner: null"

# verify
assert_exit 0 ecplan verify "$P"
assert_contains "$(cat "$OUT")" "divergent (both differ): 0" "verify text"
assert_exit 0 ecplan verify "$P" --json
assert_eq "3000 0 []" "$(js "$OUT" 'o["rows"]' 'o["divergent"]' 'o["first_divergent"]')" "verify --json"
q "ALTER TABLE public.users DISABLE TRIGGER USER; UPDATE public.users SET email_normalized = 'x', email = 'Y' WHERE id = 7; ALTER TABLE public.users ENABLE TRIGGER USER" >/dev/null
assert_exit 3 ecplan verify "$P" --json
assert_eq "1 ['7'] Y x" "$(js "$OUT" 'o["divergent"]' 'o["first_divergent"][0]["key"]' 'o["first_divergent"][0]["old"]' 'o["first_divergent"][0]["new"]')" "verify --json divergent row"
one_error_object "verify"
assert_eq "precondition 3" "$(js "$ERR" 'o["code"]' 'o["exit_code"]')" "verify error code"
q "UPDATE public.users SET email_normalized = lower(email) WHERE id = 7" >/dev/null

# A precondition failure of advance: result object on stdout, error on stderr.
q "CREATE TABLE it_go (ok boolean NOT NULL); INSERT INTO it_go VALUES (false)" >/dev/null
PC=$IT_TMP/checked.json
sm_plan "$P" "$PC" name='"json-checked"' checks='[{"name": "release approved", "before": "expand", "sql": "SELECT ok FROM it_go"}]'
assert_exit 3 ecplan advance "$PC" --json
one_error_object "advance precondition"
assert_eq "precondition 3" "$(js "$ERR" 'o["code"]' 'o["exit_code"]')" "advance error code"
assert_eq "False 3 planned" "$(js "$OUT" 'o["ok"]' 'o["exit_code"]' 'o["state"]')" "advance --json result on failure"
assert_exit 3 ecplan check "$PC" --json
assert_eq "False" "$(js "$OUT" 'o["ok"]')" "check --json: ok false"
assert_contains "$(js "$ERR" 'o["detail"]')" "release approved" "check error names the failed precondition"

# Drift: the error object carries the JSON paths in detail.
PD=$IT_TMP/drift.json
sm_plan "$P" "$PD" change.up='"upper(email)"'
assert_exit 8 ecplan advance "$PD" --json
one_error_object "drift"
assert_eq "drift 8" "$(js "$ERR" 'o["code"]' 'o["exit_code"]')" "drift code"
assert_contains "$(js "$ERR" 'o["detail"]')" "\$.change.up" "drift detail has the path"

# Usage errors too.
assert_exit 2 ecplan advance "$P" --to nowhere --json
one_error_object "usage"
assert_eq "usage 2" "$(js "$ERR" 'o["code"]' 'o["exit_code"]')" "usage code"
assert_exit 2 ecplan status not-registered --json
assert_eq "not_found" "$(js "$ERR" 'o["code"]')" "status: not_found"

# rollback --json
assert_exit 0 ecplan rollback "$P" --to synced --json
assert_eq "rollback backfilled synced True" "$(js "$OUT" 'o["command"]' 'o["state_before"]' 'o["state"]' 'o["changed"]')" "rollback --json"
assert_exit 0 ecplan rollback "$P" --to switched --json
assert_eq "synced synced False" "$(js "$OUT" 'o["state_before"]' 'o["state"]' 'o["changed"]')" "rollback to a state above: no-op"
pass
