#!/usr/bin/env bash
# Rollback from every state before contract puts the table exactly back.
#
# For each of expanded, synced, backfilled and switched, a copy of
# users-email-lower (own name, so each starts from planned) is advanced to that
# state and rolled back; then the catalog of public.users (columns, defaults,
# comments, indexes and their validity, constraints, triggers, functions of
# the schema) and every row must equal what they were before, and
# ecplan.plans.state must be rolled_back with nothing running.
# rollback --to synced from switched keeps the column and the trigger (and
# the old column wins again) but drops what backfill built. A rolled-back
# plan runs again from expand. A backfill that stopped half way (exit 6)
# rolls back to synced cleanly.
# Rollback after contract is impossible: exit 9, and the message points at
# the archive in ecplan_archive.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

sm_mk_users 10000
T=public.users
data_sum() { q "SELECT md5(string_agg(id || ':' || email || ':' || coalesce(name, '<null>'), ',' ORDER BY id)) FROM public.users"; }
cat0=$(sm_catalog $T)
data0=$(data_sum)

assert_back() { # assert_back NAME: the table is exactly as it was
	local name=$1
	assert_eq "$cat0" "$(sm_catalog $T)" "$name: catalog of $T is back to what it was"
	assert_eq "$data0" "$(data_sum)" "$name: every row is back to what it was"
	assert_eq rolled_back "$(sm_state "$name")" "$name: ecplan.plans.state"
	assert_eq "" "$(q "SELECT coalesce(running_phase, '') FROM ecplan.plans WHERE name = :'n'" -v n="$name")" \
		"$name: nothing running after rollback"
	# Named checks as well, for readable failures.
	assert_eq 0 "$(sm_col_exists $T email_normalized)" "$name: no new column"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.users'::regclass AND tgname = :'g'" -v g="zz_ecplan_sync_$name")" \
		"$name: no trigger"
	assert_eq 0 "$(sm_function_exists ecplan "ecplan_sync_$name")" "$name: no function"
	assert_eq "" "$(sm_index_info public users_email_key_ecplan)" "$name: no ecplan-built index"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.users'::regclass AND contype = 'c'")" \
		"$name: no check constraint"
	assert_exit 0 ecplan status "$name" --json
	assert_eq "" "$(sm_check_status_json "$OUT" "$name" rolled_back expand)" "$name: status --json after rollback"
}

i=0
for target in expand sync backfill switch; do
	i=$((i + 1))
	name=rb-$target
	plan=$IT_TMP/$name.json
	sm_plan "$src/plans/users-email-lower.json" "$plan" name="\"$name\""
	assert_exit 0 ecplan advance "$plan" --to $target
	state=$(sm_state $name)
	assert_eq "$(case $target in expand) echo expanded ;; sync) echo synced ;; backfill) echo backfilled ;; switch) echo switched ;; esac)" \
		"$state" "$name: advanced"
	# Writes while the plan was active (through the trigger from sync on) must
	# not survive as changes to the old column: here the app writes nothing,
	# so the rows must come back bit for bit.
	assert_exit 0 ecplan rollback "$plan"
	assert_back $name
done

# --- a rolled-back plan can run again ----------------------------------------
# (its second backfill must not trust the first one's cursor or counters)
name=rb-backfill
plan=$IT_TMP/$name.json
assert_exit 0 ecplan status "$name" --json
assert_eq expand "$(sm_json "$OUT" 'd["next"]')" "$name: next is expand after rollback"
assert_exit 0 ecplan advance "$plan" --to backfill
assert_eq backfilled "$(sm_state $name)" "$name: backfilled a second time"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" \
	"$name: the second backfill filled every row"
assert_eq "true|true|email_normalized" "$(sm_index_info public users_email_key_ecplan)" "$name: index rebuilt"
assert_exit 0 ecplan verify "$plan"
assert_exit 0 ecplan status "$name" --json
assert_eq 10000 "$(sm_json "$OUT" 'd["backfill"]["rows_done"]')" "$name: rows_done counts the second backfill only"
assert_exit 0 ecplan rollback "$plan"
assert_back $name

# --- rollback --to synced from switched --------------------------------------
name=rb-to-synced
plan=$IT_TMP/$name.json
sm_plan "$src/plans/users-email-lower.json" "$plan" name="\"$name\""
assert_exit 0 ecplan advance "$plan" --to switch
assert_eq switched "$(sm_state $name)" "$name: switched"
assert_exit 0 ecplan rollback "$plan" --to synced
assert_eq synced "$(sm_state $name)" "$name: state after rollback --to synced"
assert_eq 1 "$(sm_col_exists $T email_normalized)" "$name: new column kept"
assert_eq 1 "$(sm_trigger_exists $T "zz_ecplan_sync_$name")" "$name: trigger kept"
assert_eq 1 "$(sm_function_exists ecplan "ecplan_sync_$name")" "$name: function kept"
assert_eq "" "$(sm_index_info public users_email_key_ecplan)" "$name: index built by backfill dropped"
assert_eq "" "$(sm_check_constraint $T "ecplan_not_null_$name")" "$name: NOT NULL check dropped"
# The old column is authoritative again: a write to both columns keeps the old one.
q "UPDATE public.users SET email = 'Both@Old.Side', email_normalized = 'both@new.side' WHERE id = 5" >/dev/null
assert_eq "Both@Old.Side|both@old.side" "$(q "SELECT email || '|' || email_normalized FROM public.users WHERE id = 5")" \
	"$name: after rollback to synced the old column wins a conflict"
q "UPDATE public.users SET email = 'User5@Example.COM' WHERE id = 5" >/dev/null
assert_exit 0 ecplan status "$name" --json
assert_eq "" "$(sm_check_status_json "$OUT" "$name" synced backfill)" "$name: status --json after rollback --to synced"
# From synced, advancing again works (the backfill redoes its part) ...
assert_exit 0 ecplan advance "$plan" --to backfill
assert_eq backfilled "$(sm_state $name)" "$name: backfilled again"
assert_eq "true|true|email_normalized" "$(sm_index_info public users_email_key_ecplan)" "$name: index rebuilt"
assert_exit 0 ecplan verify "$plan"
# ... and a full rollback still restores everything.
assert_exit 0 ecplan rollback "$plan"
assert_back $name

# --- rollback of a backfill that stopped half way ------------------------------
# The index build cannot finish while an older snapshot is open (here a
# REPEATABLE READ transaction on another table): after waiting
# safety.max_index_wait_s (2 s) in total it is cancelled, exit 6 with the
# NOT NULL check already in place. rollback --to synced must remove what the partial
# backfill built, and a full rollback must still restore everything.
name=rb-partial
plan=$IT_TMP/$name.json
sm_plan "$src/plans/users-email-lower.json" "$plan" name="\"$name\"" safety.lock_timeout_ms=200 safety.lock_retries=1 \
	safety.max_index_wait_s=2
q "CREATE TABLE it_other (x int); INSERT INTO it_other VALUES (1)" >/dev/null
assert_exit 0 ecplan advance "$plan" --to sync
cat_synced=$(sm_catalog $T)
mkfifo "$IT_TMP/snap.fifo"
psql -XAtq <"$IT_TMP/snap.fifo" >"$IT_TMP/snap.out" 2>&1 &
exec 3>"$IT_TMP/snap.fifo"
it_defer "exec 3>&-"
printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT x FROM it_other;\n' >&3
for _ in $(seq 1 3000); do
	[[ -s "$IT_TMP/snap.out" ]] && break
	sleep 0.05
done
assert_exit 6 ecplan advance "$plan"
assert_eq synced "$(sm_state $name)" "$name: still synced after the failed backfill"
assert_eq t "$(sm_check_constraint $T "ecplan_not_null_$name")" "$name: the failed backfill got as far as the NOT NULL check"
exec 3>&-
assert_exit 0 ecplan rollback "$plan" --to synced
assert_eq synced "$(sm_state $name)" "$name: synced after rollback --to synced"
assert_eq "$cat_synced" "$(sm_catalog $T)" "$name: catalog back to what it was at synced"
assert_exit 0 ecplan advance "$plan"
assert_eq backfilled "$(sm_state $name)" "$name: backfilled after all"
assert_exit 0 ecplan verify "$plan"
assert_exit 0 ecplan rollback "$plan"
q "DROP TABLE it_other" >/dev/null
assert_back $name

# --- rollback after contract -------------------------------------------------
name=rb-contract
plan=$IT_TMP/$name.json
sm_plan "$src/plans/users-email-lower.json" "$plan" name="\"$name\""
assert_exit 0 ecplan advance "$plan" --all
assert_eq contracted "$(sm_state $name)" "$name: contracted"
cat1=$(sm_catalog $T)
assert_exit 9 ecplan rollback "$plan"
assert_contains "$(cat "$ERR")" ecplan_archive "$name: rollback after contract points at ecplan_archive"
assert_eq contracted "$(sm_state $name)" "$name: still contracted"
assert_eq "$cat1" "$(sm_catalog $T)" "$name: failed rollback changed nothing"
assert_exit 9 ecplan rollback "$plan" --to switched
assert_eq contracted "$(sm_state $name)" "$name: still contracted after rollback --to switched"
pass
