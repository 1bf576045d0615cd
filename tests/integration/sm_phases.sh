#!/usr/bin/env bash
# The state machine, phase by phase, checked in the database (ecplan.plans and
# the catalog), not by what ecplan says about itself.
#
# For each basic example plan (users-full-name, users-email-lower,
# orders-quantity-bigint, products-price-numeric) on a 20k-row table with an
# index on the old column (a unique one for users.email): `advance` one phase
# at a time and after each check ecplan.plans.state, the new column, the sync
# trigger and function, the rebuilt indexes (<old>_ecplan, valid, on the new
# column), the NOT NULL check, `status --json` (every field, `next`), and that
# `verify` exits 0 before switch and before contract; after contract the old
# column, trigger and function are gone, the indexes have their old names on
# the new column, NOT NULL is set where the plan asks, and
# ecplan_archive."<plan>" holds every row's key and old value.
# Then plans/weird-quoted-names.json (hostile schema, table, column and
# constraint names) end to end with --to and --all.
# products-price-numeric.json itself has contract.min_soak_s 3600: in a second
# database, contract with the unmodified file must stop with exit 3.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

N=20000
sm_mk_users $N
sm_mk_orders $N
sm_mk_products $N
sm_mk_weird 1000

# check is read-only: it must not create schema ecplan.
assert_exit 0 ecplan check "$src/plans/users-full-name.json"
assert_eq 0 "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan'")" "check created nothing"

# Plan under test (set by each section):
P=     # plan file
NAME=  # plan name
TBL=   # table as regclass text
SCH=   # its schema
OLD=   # old column
NEW=   # new column
NEWTYPE=  # format_type of the new column
UP=    # up expression (SQL over the old column), to check values
NOTNULL=  # t/f: plan's change.not_null
ARCHIVE=  # t/f: contract.archive
IDX=() # indexes on the old column (old names)
declare -A UNIQ # index name -> indisunique of the old index
NROWS=

status_ok() { # status_ok STATE NEXT: status --json of $NAME, both ways of asking
	local state=$1 next=$2 problems
	assert_exit 0 ecplan status "$NAME" --json
	problems=$(sm_check_status_json "$OUT" "$NAME" "$state" "$next")
	assert_eq "" "$problems" "status $NAME --json after reaching $state"
	assert_exit 0 ecplan status "$P" --json
	problems=$(sm_check_status_json "$OUT" "$NAME" "$state" "$next")
	assert_eq "" "$problems" "status PLAN.json --json after reaching $state"
	assert_exit 0 ecplan status "$NAME"
	assert_contains "$(cat "$OUT")" "$state" "plain status names the state"
}

advance_to() { # advance_to STATE [advance args]: runs advance, checks exit 0 and state
	local state=$1
	shift
	assert_exit 0 ecplan advance "$P" "$@"
	assert_eq "$state" "$(sm_state "$NAME")" "$NAME: ecplan.plans.state after advance $*"
	assert_eq "" "$(q "SELECT coalesce(running_phase, '') FROM ecplan.plans WHERE name = :'n'" -v n="$NAME")" \
		"$NAME: nothing running after advance $*"
}

trigger_name() { echo "zz_ecplan_sync_$NAME"; }
function_name() { echo "ecplan_sync_$NAME"; }

facts_expanded() {
	assert_eq 1 "$(sm_col_exists "$TBL" "$NEW")" "$NAME: new column exists after expand"
	assert_eq 1 "$(sm_col_exists "$TBL" "$OLD")" "$NAME: old column still exists"
	assert_eq "$NEWTYPE" "$(sm_col_type "$TBL" "$NEW")" "$NAME: new column type"
	local comment
	comment=$(q "SELECT col_description(:'t'::regclass, attnum) FROM pg_attribute
	             WHERE attrelid = :'t'::regclass AND attname = :'c'" -v t="$TBL" -v c="$NEW")
	assert_eq "ecplan:$NAME:" "${comment:0:$((${#NAME} + 8))}" "$NAME: new column comment starts with ecplan:<name>:"
	assert_eq 0 "$(sm_trigger_exists "$TBL" "$(trigger_name)")" "$NAME: no trigger before sync"
	assert_eq f "$(sm_col_notnull "$TBL" "$NEW")" "$NAME: new column is nullable until contract"
}

facts_synced() {
	assert_eq 1 "$(sm_trigger_exists "$TBL" "$(trigger_name)")" "$NAME: trigger $(trigger_name) exists after sync"
	assert_eq 1 "$(sm_function_exists ecplan "$(function_name)")" "$NAME: function ecplan.$(function_name)() exists"
	# The trigger is a BEFORE INSERT OR UPDATE row trigger calling that function.
	assert_eq "ecplan.$(function_name)" "$(q "SELECT n.nspname || '.' || p.proname FROM pg_trigger t
		JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE t.tgrelid = :'t'::regclass AND t.tgname = :'g'" -v t="$TBL" -v g="$(trigger_name)")" \
		"$NAME: trigger calls the plan's function"
	# tgtype bits: 1 row, 2 before, 4 insert, 16 update.
	assert_eq 1 "$(q "SELECT (tgtype & 1 = 1 AND tgtype & 2 = 2 AND tgtype & 4 = 4 AND tgtype & 16 = 16)::int
		FROM pg_trigger WHERE tgrelid = :'t'::regclass AND tgname = :'g'" -v t="$TBL" -v g="$(trigger_name)")" \
		"$NAME: BEFORE INSERT OR UPDATE FOR EACH ROW"
}

facts_backfilled() {
	local i info old_info
	assert_eq 0 "$(q "SELECT count(*) FROM $(q "SELECT :'t'::regclass" -v t="$TBL") WHERE $(q "SELECT quote_ident(:'c')" -v c="$NEW") IS DISTINCT FROM ($UP)" -v t="$TBL")" \
		"$NAME: every row's new column equals up(old) after backfill"
	for i in "${IDX[@]}"; do
		old_info=$(sm_index_info "$SCH" "$i")
		UNIQ[$i]=$(echo "$old_info" | cut -d'|' -f2)
		assert_eq "true|${UNIQ[$i]}|$OLD" "$old_info" "$NAME: old index $i still valid and on $OLD"
		info=$(sm_index_info "$SCH" "${i}_ecplan")
		assert_eq "true|${UNIQ[$i]}|$NEW" "$info" "$NAME: ${i}_ecplan exists, is valid, as unique as $i, and on $NEW"
	done
	if [[ $NOTNULL == t ]]; then
		assert_eq t "$(sm_check_constraint "$TBL" "ecplan_not_null_$NAME")" \
			"$NAME: NOT NULL check ecplan_not_null_$NAME exists and is validated after backfill"
	fi
	assert_exit 0 ecplan status "$NAME" --json
	local done_rows total
	done_rows=$(sm_json "$OUT" 'd["backfill"]["rows_done"]')
	total=$(q "SELECT count(*) FROM $(q "SELECT :'t'::regclass" -v t="$TBL")")
	((done_rows >= total - 10 && done_rows <= total)) ||
		fail "$NAME: status backfill.rows_done is $done_rows for a table of $total rows"
	# The stored counter agrees.
	assert_eq "$done_rows" "$(q "SELECT rows_done FROM ecplan.plans WHERE name = :'n'" -v n="$NAME")" \
		"$NAME: status rows_done is ecplan.plans.rows_done"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = :'t'::regclass AND NOT i.indisvalid" -v t="$TBL")" "$NAME: no invalid index left"
}

snapshot_old() { # keeps (key, old) before contract, to compare with the archive
	q "SET client_min_messages = warning; DROP TABLE IF EXISTS it_snap; CREATE TABLE it_snap AS SELECT id, $(q "SELECT quote_ident(:'c')" -v c="$OLD")
	   FROM $(q "SELECT :'t'::regclass" -v t="$TBL")" -v t="$TBL" >/dev/null
}

facts_contracted() {
	local i qt qo qn
	qt=$(q "SELECT :'t'::regclass" -v t="$TBL")
	qo=$(q "SELECT quote_ident(:'c')" -v c="$OLD")
	qn=$(q "SELECT quote_ident(:'c')" -v c="$NEW")
	assert_eq 0 "$(sm_col_exists "$TBL" "$OLD")" "$NAME: old column gone after contract"
	assert_eq 1 "$(sm_col_exists "$TBL" "$NEW")" "$NAME: new column kept"
	assert_eq "$NEWTYPE" "$(sm_col_type "$TBL" "$NEW")" "$NAME: new column type after contract"
	assert_eq 0 "$(sm_trigger_exists "$TBL" "$(trigger_name)")" "$NAME: trigger gone after contract"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = :'t'::regclass AND tgname = :'g'" -v t="$TBL" -v g="$(trigger_name)")" \
		"$NAME: trigger gone (not merely disabled)"
	assert_eq 0 "$(sm_function_exists ecplan "$(function_name)")" "$NAME: function gone after contract"
	assert_eq "$NOTNULL" "$(sm_col_notnull "$TBL" "$NEW")" "$NAME: NOT NULL of the new column after contract"
	assert_eq "" "$(sm_check_constraint "$TBL" "ecplan_not_null_$NAME")" "$NAME: NOT NULL check dropped after contract"
	for i in "${IDX[@]}"; do
		assert_eq "" "$(sm_index_info "$SCH" "${i}_ecplan")" "$NAME: ${i}_ecplan renamed away"
		assert_eq "true|${UNIQ[$i]}|$NEW" "$(sm_index_info "$SCH" "$i")" "$NAME: index $i now on $NEW, valid, as unique as before"
	done
	# Values: the new column holds up(old) of the old values kept before contract.
	assert_eq 0 "$(q "SELECT count(*) FROM it_snap s FULL JOIN $qt t USING (id)
		WHERE s.id IS NULL OR t.id IS NULL OR t.$qn IS DISTINCT FROM (SELECT ($UP) FROM (SELECT s.$qo) AS x)")" \
		"$NAME: new column values survive contract"
	if [[ $ARCHIVE == t ]]; then
		assert_eq 1 "$(q "SELECT count(*) FROM pg_class WHERE relnamespace = 'ecplan_archive'::regnamespace
			AND relname = :'n'" -v n="$NAME")" "$NAME: archive table ecplan_archive.\"$NAME\" exists"
		local at="ecplan_archive.$(q "SELECT quote_ident(:'n')" -v n="$NAME")"
		assert_eq "$(q "SELECT count(*) FROM it_snap")" "$(q "SELECT count(*) FROM $at")" "$NAME: archive has every row"
		assert_eq 0 "$(q "SELECT count(*) FROM (SELECT id, $qo FROM it_snap EXCEPT ALL SELECT id, $qo FROM $at) x")" \
			"$NAME: archive holds each row's key and old value"
		assert_eq 0 "$(q "SELECT count(*) FROM (SELECT id, $qo FROM $at EXCEPT ALL SELECT id, $qo FROM it_snap) x")" \
			"$NAME: archive holds nothing else"
	fi
}

# run_one_phase_at_a_time: expand, sync, backfill, switch, contract, each with its checks.
run_one_phase_at_a_time() {
	assert_exit 0 ecplan check "$P"
	advance_to expanded
	facts_expanded
	status_ok expanded sync

	assert_exit 0 ecplan check "$P"
	advance_to synced
	facts_synced
	status_ok synced backfill

	assert_exit 0 ecplan check "$P"
	advance_to backfilled
	facts_synced
	facts_backfilled
	status_ok backfilled switch
	assert_exit 0 ecplan verify "$P"

	assert_exit 0 ecplan check "$P"
	advance_to switched
	facts_synced
	assert_exit 0 ecplan verify "$P"
	status_ok switched contract

	assert_exit 0 ecplan check "$P"
	snapshot_old
	advance_to contracted
	facts_contracted
	status_ok contracted null
	# Every phase left a trace in the event log.
	assert_eq 5 "$(q "SELECT count(DISTINCT phase) FROM ecplan.events WHERE plan = :'n'
		AND phase IN ('expand', 'sync', 'backfill', 'switch', 'contract')" -v n="$NAME")" \
		"$NAME: ecplan.events has events of all five phases"
	assert_exit 0 ecplan history "$NAME" --json
	assert_eq true "$(sm_json "$OUT" 'len(d) > 0')" "$NAME: history --json is non-empty JSON"
	assert_exit 0 ecplan history "$NAME"
	assert_contains "$(cat "$OUT")" contract "$NAME: history mentions contract"
}

# --- users-full-name: a pure rename, plain index on name -------------------
P=$src/plans/users-full-name.json NAME=users-full-name TBL=public.users SCH=public OLD=name NEW=full_name
NEWTYPE=text UP=name NOTNULL=f ARCHIVE=t IDX=(users_name_idx)
assert_exit 0 ecplan check "$P"
advance_to expanded
facts_expanded
status_ok expanded sync
advance_to synced
facts_synced
status_ok synced backfill
# The trigger works both ways before switch (old wins a conflict).
q "UPDATE public.users SET name = 'Old Side' WHERE id = 7" >/dev/null
assert_eq "Old Side|Old Side" "$(q "SELECT name || '|' || full_name FROM public.users WHERE id = 7")" "old-code write copied to full_name"
q "UPDATE public.users SET full_name = 'New Side' WHERE id = 8" >/dev/null
assert_eq "New Side|New Side" "$(q "SELECT name || '|' || full_name FROM public.users WHERE id = 8")" "new-code write copied to name"
q "UPDATE public.users SET name = 'Both Old', full_name = 'Both New' WHERE id = 9" >/dev/null
assert_eq "Both Old|Both Old" "$(q "SELECT name || '|' || full_name FROM public.users WHERE id = 9")" "before switch the old column wins"
assert_exit 0 ecplan check "$P"
advance_to backfilled
facts_backfilled
status_ok backfilled switch
assert_exit 0 ecplan verify "$P"
# verify is not a rubber stamp: a row changed behind the trigger's back diverges.
q "SET session_replication_role = replica; UPDATE public.users SET full_name = 'Diverged' WHERE id = 10" >/dev/null
assert_exit 3 ecplan verify "$P"
# ... and switch refuses to run (its first step is the same verification).
assert_exit 3 ecplan advance "$P"
assert_eq backfilled "$(sm_state "$NAME")" "switch did not happen with a divergent row"
q "SET session_replication_role = replica; UPDATE public.users SET full_name = name WHERE id = 10" >/dev/null
assert_exit 0 ecplan verify "$P"
advance_to switched
facts_synced
assert_exit 0 ecplan verify "$P"
status_ok switched contract
q "UPDATE public.users SET name = 'Both Old 2', full_name = 'Both New 2' WHERE id = 9" >/dev/null
assert_eq "Both New 2|Both New 2" "$(q "SELECT name || '|' || full_name FROM public.users WHERE id = 9")" "after switch the new column wins"
snapshot_old
advance_to contracted
facts_contracted
status_ok contracted null
assert_eq 5 "$(q "SELECT count(DISTINCT phase) FROM ecplan.events WHERE plan = :'n'
	AND phase IN ('expand', 'sync', 'backfill', 'switch', 'contract')" -v n="$NAME")" \
	"$NAME: ecplan.events has events of all five phases"
assert_exit 0 ecplan history "$NAME" --json
assert_eq true "$(sm_json "$OUT" 'len(d) > 0')" "$NAME: history --json is non-empty JSON"

# --- users-email-lower: type change, lossy up, NOT NULL, unique index ------
P=$src/plans/users-email-lower.json NAME=users-email-lower TBL=public.users SCH=public OLD=email NEW=email_normalized
NEWTYPE=text UP="lower(email)" NOTNULL=t ARCHIVE=t IDX=(users_email_key)
run_one_phase_at_a_time
assert_eq 0 "$(q "SELECT count(*) FROM it_snap s JOIN public.users u USING (id) WHERE u.email_normalized <> lower(s.email)")" \
	"users-email-lower: email_normalized = lower(old email) everywhere"

# --- orders-quantity-bigint: widening, default, NOT NULL ---------------------
P=$src/plans/orders-quantity-bigint.json NAME=orders-quantity-bigint TBL=public.orders SCH=public OLD=quantity NEW=quantity_big
NEWTYPE=bigint UP="quantity::bigint" NOTNULL=t ARCHIVE=t IDX=(orders_quantity_idx)
run_one_phase_at_a_time
assert_eq 1 "$(q "SELECT count(*) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
	WHERE d.adrelid = 'public.orders'::regclass AND a.attname = 'quantity_big' AND pg_get_expr(d.adbin, d.adrelid) = '1'")" \
	"orders: quantity_big has DEFAULT 1"
assert_eq 'true|false|customer_id' "$(sm_index_info public orders_customer_id_idx)" \
	"orders: the unrelated index is untouched"

# --- products-price-numeric: rounding, NOT NULL, no default ------------------
# The example file soaks 3600 s before contract; here (fresh table, same name)
# a copy without the soak runs every phase.
P=$IT_TMP/products-price-numeric.json
sm_plan "$src/plans/products-price-numeric.json" "$P" contract.min_soak_s=0
NAME=products-price-numeric TBL=public.products SCH=public OLD=price NEW=price_numeric
NEWTYPE="numeric(12,2)" UP="round(price::numeric, 2)" NOTNULL=t ARCHIVE=t IDX=(products_price_idx)
run_one_phase_at_a_time

# --- weird-quoted-names: --to backfill, then --all -------------------------
P=$src/plans/weird-quoted-names.json NAME=weird-quoted-names TBL='"My Schema"."Weird ""Table"""' SCH="My Schema"
OLD="naïve col" NEW='Naïve "New" Col' NEWTYPE=text UP='"naïve col"::text' NOTNULL=f ARCHIVE=t IDX=('Weird "uniq"')
assert_exit 0 ecplan check "$P"
advance_to backfilled --to backfill
facts_synced
facts_backfilled
status_ok backfilled switch
assert_exit 0 ecplan verify "$P"
# Old-code write through the trigger with the hostile names.
q "UPDATE \"My Schema\".\"Weird \"\"Table\"\"\" SET \"naïve col\" = 'Quote '' \" and ü' WHERE id = 3" >/dev/null
assert_eq "Quote ' \" and ü" "$(q "SELECT \"Naïve \"\"New\"\" Col\" FROM \"My Schema\".\"Weird \"\"Table\"\"\" WHERE id = 3")" \
	"weird: trigger copies an old-code write"
snapshot_old
advance_to contracted --all
facts_contracted
status_ok contracted null
assert_eq 1 "$(q "SELECT count(*) FROM pg_constraint WHERE conrelid = '\"My Schema\".\"Weird \"\"Table\"\"\"'::regclass
	AND conname = 'Weird \"uniq\"' AND contype = 'u'")" "weird: unique constraint \"Weird \"\"uniq\"\"\" is back, on the new column"

# Every plan is in `status --json`, an array of the same objects.
assert_exit 0 ecplan status --json
assert_eq list "$(sm_json "$OUT" 'type(d).__name__')" "status --json without a plan is an array"
assert_eq "" "$(sm_check_status_json "$OUT" users-email-lower contracted null)" "status --json array entry"
assert_eq "['orders-quantity-bigint', 'products-price-numeric', 'users-email-lower', 'users-full-name', 'weird-quoted-names']" \
	"$(sm_json "$OUT" 'str(sorted(x["name"] for x in d))')" "status --json lists every plan"
assert_eq "['contracted', 'contracted', 'contracted', 'contracted', 'contracted']" \
	"$(sm_json "$OUT" 'str([x["phase"] for x in d])')" "every plan contracted"

# --- products-price-numeric.json as shipped: contract waits 3600 s ---------
db2=$(sm_extra_db soak)
main_db=$PGDATABASE
export PGDATABASE=$db2
{
	sm_mk_products 2000
	P=$src/plans/products-price-numeric.json NAME=products-price-numeric
	assert_exit 0 ecplan advance "$P" --to switch
	assert_eq switched "$(sm_state "$NAME")" "soak db: switched"
	assert_exit 3 ecplan check "$P"
	assert_contains "$(cat "$OUT" "$ERR")" soak "check names the soak time"
	assert_exit 3 ecplan advance "$P"
	assert_contains "$(cat "$ERR")" soak "advance names the soak time"
	assert_eq switched "$(sm_state "$NAME")" "soak db: contract did not run"
	assert_eq 1 "$(sm_col_exists public.products price)" "soak db: old column still there"
}
export PGDATABASE=$main_db
pass
