#!/usr/bin/env bash
# Runs one dependent-object case (a directory of tests/cases/depend/) against the
# server of the PG* environment and the ecplan binary ($ECPLAN_BIN or
# $ECPLAN_BUILD_DIR/ecplan). Exit 0 when the case holds, 1 when it does not (every
# difference printed: object, expected, got), 2 when the case itself is broken.
#
#   bash tests/support/depend_case.sh CASE_DIR [DB_PREFIX]
#
# A case directory holds:
#   schema.sql        the schema and a few rows (run with ON_ERROR_STOP)
#   plan.json         the plan
#   expect            optional, first word: carried (default) | refused | contract-refused;
#                     the rest of the file: text the error must contain (refused kinds)
#   writes.sql        optional: old code's writes, psql text using :k (the iteration);
#                     default: UPDATE <table> SET <column> = <column> on one row
#   between.sql       optional: a change made after switch, before contract (e.g. a view
#                     created on the old column: contract must see it); on the naive
#                     database it runs before the naive DDL
#   update.sql        optional: the application's update between switch and contract
#                     (e.g. a function rewritten for the new column), applied to both
#                     (on the naive database after the naive DDL)
#   writes_new.sql    optional: new code's writes after contract (k = 100000), run on both
#
# carried: database A runs the naive DDL (depend_oracle.py naive) after replaying
# the writes the writer committed in B; database B runs `ecplan advance --all` with
# the writer running. A and B must have the same catalog and the same rows. Then,
# on a fresh clone, `advance --to P` + `rollback` for each phase P before contract
# must give back the original catalog and rows.
# contract-refused: as carried, but the first `advance --all` must stop at
# contract with exit 3 (the functions named in change.functions still name the
# old column, or between.sql added an object contract would lose) and change
# nothing; update.sql is then applied and contract runs.
# refused: `advance --all` exits 3 with the expected text, and the catalog and the
# rows are exactly as before.
set -uo pipefail

dir=$(cd "${1:?usage: depend_case.sh CASE_DIR [DB_PREFIX]}" && pwd -P)
prefix=${2:-dep_$$}
case_name=$(basename "$dir")
# shellcheck source=tests/support/depend_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/depend_lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/depend-$case_name.XXXXXX")
dbs=()
writer_pid=
cleanup() {
	local d
	[[ -n "$writer_pid" ]] && kill "$writer_pid" 2>/dev/null && wait "$writer_pid" 2>/dev/null
	for d in "${dbs[@]}"; do
		dep_dropdb "$d" || true
	done
	if [[ "${DEP_KEEP_TMP:-0}" == 1 ]]; then
		echo "  (kept $tmp)" >&2
	else
		rm -rf -- "$tmp"
	fi
}
trap cleanup EXIT

failures=0
say() { echo "  $*"; }
bad() {
	failures=$((failures + 1))
	echo "  FAIL: $*"
}
broken() {
	echo "  BROKEN CASE: $*"
	exit 2
}
show_file() { sed 's/^/    | /' "$1"; }

plan=$dir/plan.json
[[ -f "$dir/schema.sql" && -f "$plan" ]] || broken "needs schema.sql and plan.json"
expect=carried
expect_text=
if [[ -f "$dir/expect" ]]; then
	read -r expect expect_text <"$dir/expect" || true
	rest=$(tail -n +2 "$dir/expect")
	[[ -n "$rest" ]] && expect_text="$expect_text${expect_text:+ }$rest"
fi
case $expect in carried | refused | contract-refused) ;; *) broken "expect: unknown kind '$expect'" ;; esac
{ read -r name && read -r table && IFS= read -r col; } < <("$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" info "$plan") ||
	broken "plan.json is not a plan"
qcol="\"${col//\"/\"\"}\""

# T: the schema as loaded; the template of every other database of the case.
T=${prefix}_t
dbs+=("$T")
dep_createdb "$T" || broken "could not create database $T"
dep_psql "$T" -f "$dir/schema.sql" >"$tmp/schema.out" 2>&1 || {
	show_file "$tmp/schema.out"
	broken "schema.sql does not load"
}
dep_state "$T" "$tmp/orig.snap" "$tmp/orig.rows" || broken "snapshot of the original failed"

# run_ecplan EXPECTED_RC DB ARGS...: runs ecplan on DB; on another exit code, says so
# with its output and returns 1.
run_ecplan() {
	local want=$1 db=$2 rc=0
	shift 2
	dep_wait_no_runner "$db" || echo "  (warning: an ecplan session is still in $db after 5 s)"
	PGDATABASE=$db dep_ecplan "$@" >"$tmp/ecplan.out" 2>"$tmp/ecplan.err" || rc=$?
	if [[ "$rc" != "$want" ]]; then
		bad "ecplan $* exited $rc, expected $want"
		show_file "$tmp/ecplan.out"
		show_file "$tmp/ecplan.err"
		return 1
	fi
	return 0
}

# same_as_original DB WHAT: the catalog and rows of DB equal the original's.
same_as_original() {
	local db=$1 what=$2 rc=0
	dep_state "$db" "$tmp/now.snap" "$tmp/now.rows" || { bad "$what: snapshot failed"; return 1; }
	dep_compare_both "$tmp/orig.snap" "$tmp/now.snap" "$tmp/orig.rows" "$tmp/now.rows" \
		"original" "$what" >"$tmp/diff" 2>&1 || rc=$?
	case $rc in
	0) return 0 ;;
	1) bad "$what: the catalog differs from the original" ;;
	2) bad "$what: the rows differ from the original" ;;
	*) bad "$what: the catalog and the rows differ from the original" ;;
	esac
	cat "$tmp/diff"
	return 1
}

if [[ $expect == refused ]]; then
	B=$T
	if run_ecplan 3 "$B" advance "$plan" --all --quiet; then
		if [[ -n "$expect_text" ]] && ! grep -qF -- "$expect_text" "$tmp/ecplan.err"; then
			bad "the refusal does not mention '$expect_text'"
			show_file "$tmp/ecplan.err"
		fi
	fi
	same_as_original "$B" "after the refused advance"
	((failures == 0)) && say "refused before anything changed: $(head -n 1 "$tmp/ecplan.err")"
	exit $((failures > 0))
fi

# --- carried (and contract-refused) ---------------------------------------------
A=${prefix}_a
B=${prefix}_b
dbs+=("$A" "$B")
dep_createdb "$A" "$T"
dep_createdb "$B" "$T"

writes=$dir/writes.sql
if [[ ! -f "$writes" ]]; then
	writes=$tmp/writes.sql
	printf 'UPDATE %s SET %s = %s WHERE ctid = (SELECT ctid FROM %s ORDER BY ctid LIMIT 1 OFFSET (:k %% 5));\n' \
		"$table" "$qcol" "$qcol" "$table" >"$writes"
fi
dep_writer_setup "$B"
dep_writer_script "$name" "$writes" "$table" 2000 >"$tmp/writer.sql"
PGDATABASE=$B psql -Xq -f "$tmp/writer.sql" >"$tmp/writer.out" 2>"$tmp/writer.err" &
writer_pid=$!
# Let old code write a little before the plan starts.
for _ in $(seq 1 100); do
	[[ $(dep_psql "$B" -c "SELECT count(*) FROM it_writer.log") -ge 3 ]] && break
	kill -0 "$writer_pid" 2>/dev/null || break
	sleep 0.05
done

ran=1
if [[ -f "$dir/update.sql" || -f "$dir/between.sql" ]]; then
	run_ecplan 0 "$B" advance "$plan" --to switch --quiet || ran=0
	if ((ran)) && [[ -f "$dir/between.sql" ]]; then
		dep_psql "$B" -f "$dir/between.sql" >/dev/null 2>"$tmp/between.err" || {
			show_file "$tmp/between.err"
			broken "between.sql fails on the ecplan database"
		}
	fi
	if ((ran)) && [[ $expect == contract-refused ]]; then
		dep_snapshot "$B" "$tmp/switched.snap"
		if run_ecplan 3 "$B" advance "$plan" --all --quiet; then
			if [[ -n "$expect_text" ]] && ! grep -qF -- "$expect_text" "$tmp/ecplan.err"; then
				bad "contract's refusal does not mention '$expect_text'"
				show_file "$tmp/ecplan.err"
			fi
			dep_snapshot "$B" "$tmp/refused.snap"
			if ! dep_compare "$tmp/switched.snap" "$tmp/refused.snap" "switched" "after refused contract" >"$tmp/diff"; then
				bad "the refused contract changed the catalog"
				cat "$tmp/diff"
			fi
		else
			ran=0
		fi
	fi
	if ((ran)) && [[ -f "$dir/update.sql" ]]; then
		dep_psql "$B" -f "$dir/update.sql" >/dev/null 2>"$tmp/update.err" || {
			show_file "$tmp/update.err"
			broken "update.sql fails on the ecplan database"
		}
	fi
	if ((ran)); then
		run_ecplan 0 "$B" advance "$plan" --all --quiet || ran=0
	fi
else
	[[ $expect == contract-refused ]] && broken "contract-refused needs update.sql"
	run_ecplan 0 "$B" advance "$plan" --all --quiet || ran=0
fi
dep_writer_stop "$B"
wrc=0
wait "$writer_pid" || wrc=$?
writer_pid=
if [[ $wrc != 0 ]]; then
	bad "old code's writes failed (psql exit $wrc) while the plan ran"
	show_file "$tmp/writer.err"
fi
mapfile -t ks < <(dep_psql "$B" -c "SELECT k FROM it_writer.log ORDER BY k")
# Where the writes fell: the writer must have written while the plan ran, not
# only before it started.
wstates=$(dep_psql "$B" -c "SELECT string_agg(state || ' ' || n, ', ' ORDER BY min_k)
	FROM (SELECT state, count(*) AS n, min(k) AS min_k FROM it_writer.log GROUP BY state) s")
during=$(dep_psql "$B" -c "SELECT count(*) FROM it_writer.log WHERE state <> 'planned'")
if ((ran && during == 0)); then
	bad "old code wrote nothing while the plan ran (writes by state: ${wstates:-none})"
fi
if ((ran == 0)); then
	say "(ecplan did not finish: no comparison with the naive DDL)"
else
	state=$(dep_psql "$B" -c "SELECT state FROM ecplan.plans WHERE name = '${name//\'/\'\'}'")
	[[ $state == contracted ]] || bad "plan state is '$state' after advance --all, expected contracted"
	# A: the same committed writes, then the naive DDL.
	if ((${#ks[@]})); then
		dep_writer_replay "$A" "$writes" "${ks[@]}" 2>"$tmp/replay.err" || {
			show_file "$tmp/replay.err"
			broken "replaying the writer's writes on the naive database failed"
		}
	fi
	if [[ -f "$dir/between.sql" ]]; then
		dep_psql "$A" -f "$dir/between.sql" >/dev/null 2>"$tmp/between.err" || {
			show_file "$tmp/between.err"
			broken "between.sql fails on the naive database"
		}
	fi
	dep_naive_sql "$A" "$plan" >"$tmp/naive.sql" 2>"$tmp/naive.err" || {
		show_file "$tmp/naive.err"
		broken "could not build the naive DDL"
	}
	dep_psql "$A" -f "$tmp/naive.sql" >/dev/null 2>"$tmp/naive.err" || {
		show_file "$tmp/naive.sql"
		show_file "$tmp/naive.err"
		broken "the naive DDL fails (the oracle cannot answer for this case)"
	}
	if [[ -f "$dir/update.sql" ]]; then
		dep_psql "$A" -f "$dir/update.sql" >/dev/null 2>"$tmp/update.err" || {
			show_file "$tmp/update.err"
			broken "update.sql fails on the naive database"
		}
	fi
	if [[ -f "$dir/writes_new.sql" ]]; then
		for db in "$A" "$B"; do
			label=naive
			[[ $db == "$B" ]] && label=ecplan
			{
				printf '\\set ON_ERROR_STOP 1\n\\set k 100000\n'
				cat "$dir/writes_new.sql"
			} | PGDATABASE=$db psql -Xq >/dev/null 2>"$tmp/new.err" || {
				bad "new code's writes fail after contract on the $label database"
				show_file "$tmp/new.err"
			}
		done
	fi
	dep_state "$A" "$tmp/naive.snap" "$tmp/naive.rows"
	dep_state "$B" "$tmp/ecplan.snap" "$tmp/ecplan.rows"
	rc=0
	dep_compare_both "$tmp/naive.snap" "$tmp/ecplan.snap" "$tmp/naive.rows" "$tmp/ecplan.rows" \
		"naive ALTER" "ecplan" >"$tmp/diff" || rc=$?
	case $rc in
	0) ;;
	1) bad "after contract the catalog differs from the naive ALTER's (writes during the run: ${#ks[@]})" ;;
	2) bad "after contract the rows differ from the naive ALTER's (writes during the run: ${#ks[@]})" ;;
	*) bad "after contract the catalog and the rows differ from the naive ALTER's (writes during the run: ${#ks[@]})" ;;
	esac
	((rc == 0)) || cat "$tmp/diff"
fi
dep_dropdb "$A"
dep_dropdb "$B"

# Rollback from every phase before contract gives back the original, exactly
# (on T itself: A and B are cloned already, the original's snapshot is taken).
C=$T
for phase in expand sync backfill switch; do
	run_ecplan 0 "$C" advance "$plan" --to "$phase" --quiet || break
	run_ecplan 0 "$C" rollback "$plan" --quiet || break
	same_as_original "$C" "rolled back from $phase"
done

((failures == 0)) && say "carried: identical to the naive ALTER; rollback from 4 phases restores the original; writes by state: $wstates"
exit $((failures > 0))
