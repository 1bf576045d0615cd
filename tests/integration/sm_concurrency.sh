#!/usr/bin/env bash
# One runner per plan, and drift detection.
#
# While `advance --to backfill` runs (a slow backfill), a second `advance`,
# an `advance --all` and a `rollback` of the same plan each exit 4 at once,
# naming the holder's pid on stderr, and change nothing; the first run then
# finishes normally.
# Two first runs of a new plan started at the same moment: each exits 0 or 4
# (never 1: registration races are handled), at least one does work, and the
# state matches what they did.
# Drift: a copy of the registered plan (same name) with another
# backfill.batch_size, or another change.up, is refused with exit 8 and the
# differing JSON path on stderr; the registered file still works.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=100000
NAME=users-email-lower
sm_mk_users $N
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=500 backfill.target_batch_ms=0 backfill.pause_ms=10
assert_exit 0 ecplan advance "$P" --to sync

# --- a second runner is refused ---------------------------------------------
# A session holds one row in the middle of the table, so the first runner's
# backfill cannot finish (it waits and retries on that batch) until the test
# lets it go: the refusals below certainly meet a running runner, however
# slow the machine.
rowfifo=$IT_TMP/row.fifo
mkfifo "$rowfifo"
psql -XAtq -v ON_ERROR_STOP=1 <"$rowfifo" >"$IT_TMP/row.out" 2>&1 &
exec 6>"$rowfifo"
it_defer "exec 6>&- 2>/dev/null"
printf 'BEGIN;\nSELECT id FROM public.users WHERE id = %d FOR UPDATE;\n' $((N / 2)) >&6
for _ in $(seq 1 600); do
	[[ -s "$IT_TMP/row.out" ]] && break
	sleep 0.1
done
assert_eq $((N / 2)) "$(head -n 1 "$IT_TMP/row.out")" "a session holds row $((N / 2))"
"$BIN" advance "$P" --to backfill >"$IT_TMP/a.out" 2>"$IT_TMP/a.err" &
apid=$!
holder=
for _ in $(seq 1 3000); do
	holder=$(q "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'ecplan'
		AND a.datname = current_database() LIMIT 1")
	[[ -n "$holder" ]] && break
	sleep 0.02
done
[[ -n "$holder" ]] || fail "the first runner never took its advisory lock"
# Let it get into the batches.
for _ in $(seq 1 3000); do
	[[ "$(q "SELECT rows_done > 0 FROM ecplan.plans WHERE name = '$NAME'")" == t ]] && break
	sleep 0.02
done
kill -0 $apid 2>/dev/null || fail "the first runner ended too early: $(cat "$IT_TMP/a.err")"
before=$(q "SELECT state || ' ' || coalesce(running_phase, '-') || ' ' || array_to_string(attempts, ',') FROM ecplan.plans WHERE name = '$NAME'")

holder_named() { # stderr names the holder: its server pid or the runner's own pid
	local err
	err=$(cat "$ERR")
	assert_contains "$err" pid "$1: stderr says pid"
	if [[ "$err" != *"$holder"* && "$err" != *"$apid"* ]]; then
		fail "$1: stderr names neither the holder's backend pid $holder nor the runner's pid $apid: $err"
	fi
}
assert_exit 4 ecplan advance "$P"
holder_named "second advance"
assert_exit 4 ecplan advance "$P" --all
holder_named "advance --all"
assert_exit 4 ecplan rollback "$P"
holder_named "rollback"
# They did not wait for the lock: each was refused while the first runner,
# held back by the row lock, still ran.
kill -0 $apid 2>/dev/null || fail "the first runner ended before the refusals were checked; the test proves nothing"
assert_eq "$before" "$(q "SELECT state || ' ' || coalesce(running_phase, '-') || ' ' || array_to_string(attempts, ',') FROM ecplan.plans WHERE name = '$NAME'")" \
	"the refused runners changed nothing in ecplan.plans"
assert_exit 0 ecplan status $NAME --json
assert_eq true "$(sm_json "$OUT" 'd["running"]')" "status says running"
printf 'COMMIT;\n' >&6
exec 6>&-
rc=0
wait $apid || rc=$?
[[ $rc == 0 ]] || { cat "$IT_TMP/a.err" >&2; fail "the first runner exited $rc"; }
assert_eq backfilled "$(sm_state $NAME)" "the first runner finished its backfill"
assert_exit 0 ecplan verify "$P"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" "backfill complete"

# --- drift ---------------------------------------------------------------------
# (backfill.*, safety.*, webhooks, checks, contract.min_soak_s and description
# may change after the start: it.bf_pause; the fields that define the change
# may not.)
P2=$IT_TMP/drift-type.json
sm_plan "$P" "$P2" change.type='"varchar(300)"' backfill.batch_size=1000
assert_exit 8 ecplan advance "$P2"
assert_contains "$(cat "$ERR")" '$.change.type' "drift names the differing path"
assert_not_contains "$(cat "$ERR")" '$.backfill.batch_size' "drift does not list operational settings"
assert_eq backfilled "$(sm_state $NAME)" "drifted advance did nothing"
assert_eq "" "$(q "SELECT coalesce(running_phase, '') FROM ecplan.plans WHERE name = '$NAME'")" "nothing running after the refusal"
P3=$IT_TMP/drift-up.json
sm_plan "$P" "$P3" change.up='"upper(email)"'
assert_exit 8 ecplan advance "$P3" --all
assert_contains "$(cat "$ERR")" '$.change.up' "drift names change.up"
assert_eq backfilled "$(sm_state $NAME)" "drifted advance --all did nothing"
assert_exit 8 ecplan rollback "$P3"
assert_eq backfilled "$(sm_state $NAME)" "drifted rollback did nothing"
assert_eq 1 "$(sm_col_exists public.users email_normalized)" "drifted rollback left the column"
# The registered plan still runs.
assert_exit 0 ecplan advance "$P"
assert_eq switched "$(sm_state $NAME)" "the registered file still advances"

# --- two first runs at the same moment --------------------------------------
for i in 1 2 3; do
	name=race-$i
	pr=$IT_TMP/$name.json
	sm_plan "$src/plans/users-full-name.json" "$pr" name="\"$name\"" change.new_column="\"full_name_$i\"" change.down="\"full_name_$i\""
	"$BIN" advance "$pr" >"$IT_TMP/r1.out" 2>"$IT_TMP/r1.err" &
	p1=$!
	"$BIN" advance "$pr" >"$IT_TMP/r2.out" 2>"$IT_TMP/r2.err" &
	p2=$!
	rc1=0 rc2=0
	wait $p1 || rc1=$?
	wait $p2 || rc2=$?
	case "$rc1 $rc2" in
	"0 0") want=synced ;;
	"0 4" | "4 0") want=expanded ;;
	*)
		cat "$IT_TMP/r1.err" "$IT_TMP/r2.err" >&2
		fail "$name: two concurrent first runs exited $rc1 and $rc2 (each must be 0 or 4, one at least 0)"
		;;
	esac
	assert_eq "$want" "$(sm_state $name)" "$name: state after runs that exited $rc1 and $rc2"
	assert_eq 1 "$(q "SELECT count(*) FROM ecplan.plans WHERE name = '$name'")" "$name: registered once"
	assert_exit 0 ecplan rollback "$pr"
	assert_eq rolled_back "$(sm_state $name)" "$name: rolled back"
done
pass
