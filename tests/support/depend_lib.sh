#!/usr/bin/env bash
# Functions of the dependent-object oracle, sourced by tests/support/depend_case.sh
# (one case of tests/cases/depend/) and scripts/schema-oracle.sh.
#
# The oracle: the same schema is loaded into two databases; in one, the naive
# DDL that means what the plan means runs (ALTER COLUMN ... TYPE ... USING up,
# RENAME COLUMN, SET NOT NULL, SET DEFAULT: PostgreSQL rewrites every dependent
# object itself); in the other, ecplan runs the plan. Their catalogs must be
# identical (tests/support/depend_snapshot.sql, compared by
# tests/support/depend_oracle.py), and so must their rows.
#
# Every function takes a database name; the server comes from PGHOST/PGPORT/PGUSER.
#   dep_psql DB [psql args]           psql -XAtq with ON_ERROR_STOP on DB
#   dep_createdb DB [TEMPLATE]        CREATE DATABASE (from TEMPLATE: a clone)
#   dep_dropdb DB                     DROP DATABASE ... WITH (FORCE), unless DEP_KEEP_DB=1
#   dep_snapshot DB FILE              catalog snapshot into FILE
#   dep_rows DB FILE [TABLE]          every row of every user table (or of TABLE and the
#                                     tables a foreign key links to it), one line each;
#                                     TABLE may be several SQL names, one a line
#   dep_state DB SNAP ROWS [TABLE]    both of the above in one psql session
#   dep_naive_sql DB PLAN             prints the naive DDL for PLAN (reads DB's catalog;
#                                     every change of a plan with "changes")
#   dep_plan_tables PLAN              the plan's tables (SQL names, one a line)
#   dep_compare EXP GOT LE LG         prints the differences (labels LE/LG), returns 1 if any
#   dep_compare_rows EXP GOT LE LG    the same for row dumps
#   dep_compare_both SE SG RE RG LE LG  both at once (exit 1 catalog, 2 rows, 3 both)
#   dep_writer_setup DB PLAN          schema it_writer (log, stop flag, ok()) in DB
#   dep_writer_script PLAN WRITES TABLE N   psql script: N iterations of WRITES (psql
#                                     text using :k) while old code may still write
#   dep_writer_replay DB WRITES KS... runs WRITES with k = each of KS in DB (one psql)
#   dep_wait_no_runner DB             waits until no ecplan session is left in DB
#   dep_ecplan ARGS...                the ecplan binary ($ECPLAN_BIN, else $ECPLAN_BUILD_DIR/ecplan)

DEP_SUPPORT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
DEP_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || DEP_PY=python3
[[ -x "$DEP_PY" ]] || DEP_PY=python3

dep_psql() {
	local db=$1
	shift
	PGDATABASE=$db psql -XAtq -v ON_ERROR_STOP=1 "$@"
}

dep_createdb() {
	local db=$1 tpl=${2:-}
	if [[ -n "$tpl" ]]; then
		dep_psql postgres -c "CREATE DATABASE \"$db\" TEMPLATE \"$tpl\"" >/dev/null
	else
		dep_psql postgres -c "CREATE DATABASE \"$db\"" >/dev/null
	fi
}

dep_dropdb() {
	if [[ "${DEP_KEEP_DB:-${ECPLAN_KEEP_DB:-0}}" == 1 ]]; then
		echo "  (kept database $1)" >&2
		return 0
	fi
	PGOPTIONS='-c client_min_messages=warning' dep_psql postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
}

dep_snapshot() {
	dep_psql "$1" -F "$(printf '\t')" -f "$DEP_SUPPORT_DIR/depend_snapshot.sql" >"$2"
}

dep_rows() { # dep_rows DB FILE [TABLE]: with TABLE (SQL name), only it and the
	# tables linked to it by a foreign key either way
	_dep_rows_sql "${3:-}" | dep_psql "$1" -F "$(printf '\t')" -v t="${3:-}" >"$2.tmp"
	LC_ALL=C sort "$2.tmp" >"$2"
	rm -f "$2.tmp"
}

# dep_state DB SNAP ROWS [TABLE]: dep_snapshot and dep_rows in one session.
dep_state() {
	{
		printf '\\o %s\n\\i %s\n\\o %s\n' "$2" "$DEP_SUPPORT_DIR/depend_snapshot.sql" "$3.tmp"
		_dep_rows_sql "${4:-}"
		printf '\\o\n'
	} | dep_psql "$1" -F "$(printf '\t')" -v t="${4:-}" || return 1
	LC_ALL=C sort "$3.tmp" >"$3"
	rm -f "$3.tmp"
}

_dep_rows_sql() {
	local filter=
	if [[ -n "${1:-}" ]]; then
		# Several tables: one a line (a plan with "changes").
		filter="AND (c.oid IN (SELECT to_regclass(x) FROM regexp_split_to_table(:'t', E'\\n') x) OR c.oid IN (
		          SELECT confrelid FROM pg_constraint WHERE contype = 'f'
		             AND conrelid IN (SELECT to_regclass(x) FROM regexp_split_to_table(:'t', E'\\n') x)
		          UNION SELECT conrelid FROM pg_constraint WHERE contype = 'f'
		             AND confrelid IN (SELECT to_regclass(x) FROM regexp_split_to_table(:'t', E'\\n') x)))"
	fi
	# One SELECT per user table (psql's \gexec runs each); each row as
	# "<table> <jsonb>": jsonb sorts its keys, so column order does not matter.
	cat <<SQL
SELECT format('SELECT %L || '' '' || to_jsonb(t)::text FROM ONLY %s t', qn, qn)
  FROM (SELECT format('%I.%I', n.nspname, c.relname) AS qn
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ecplan', 'ecplan_archive', 'it_writer')
           AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
           $filter
         ORDER BY 1) s
\gexec
SQL
}

dep_naive_sql() {
	PGDATABASE=$1 "$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" naive "$2"
}

dep_compare() {
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" compare "$1" "$2" --expected-label "$3" --got-label "$4"
}

dep_compare_rows() {
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" rows "$1" "$2" --expected-label "$3" --got-label "$4"
}

# dep_compare_both SNAP_E SNAP_G ROWS_E ROWS_G LABEL_E LABEL_G: catalog and rows
# in one go; returns 1 (catalog differs), 2 (rows), 3 (both).
dep_compare_both() {
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" both "$@"
}

dep_plan_field() { # dep_plan_field PLAN KEY: change.KEY
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" field "$1" "$2"
}

dep_plan_name() {
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" name "$1"
}

dep_plan_table() {
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" table "$1"
}

# dep_plan_tables PLAN: every table of the plan (several with "changes"), one a
# line: what dep_rows / dep_state take as TABLE.
dep_plan_tables() {
	"$DEP_PY" "$DEP_SUPPORT_DIR/depend_oracle.py" tables "$1"
}

# dep_wait_no_runner DB: waits (up to 5 s) until the previous ecplan's session has
# left DB: a backend ends a moment after its client exits, and until it has, the
# plan's advisory lock is still held and the next command exits 4 ("held by a
# session that just ended"). tests/support/writers.sh's sm_wait_no_runner does
# the same for the state-machine tests.
dep_wait_no_runner() {
	local i n
	for ((i = 0; i < 50; i++)); do
		n=$(dep_psql "$1" -c "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		        AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
		      + (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan'
		        AND datname = current_database())") || return 1
		[[ "$n" == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}

dep_ecplan() {
	local bin=${ECPLAN_BIN:-}
	if [[ -z "$bin" && -n "${ECPLAN_BUILD_DIR:-}" ]]; then
		bin=$ECPLAN_BUILD_DIR/ecplan
	fi
	if [[ -z "$bin" || ! -x "$bin" ]]; then
		echo "depend: ecplan binary not found (ECPLAN_BIN='${ECPLAN_BIN:-}', ECPLAN_BUILD_DIR='${ECPLAN_BUILD_DIR:-}')" >&2
		return 2
	fi
	"$bin" "$@"
}

# The writer plays the application's old code: it writes the old column, each
# iteration in its own transaction, for as long as old code may (the plan is
# before contract and the harness has not said stop), and logs the iteration
# number in the same transaction. The committed iterations are then replayed
# on the naive database, so both end with the same writes.
dep_writer_setup() {
	local db=$1
	dep_psql "$db" >/dev/null <<'SQL'
CREATE SCHEMA it_writer;
CREATE TABLE it_writer.log (k integer PRIMARY KEY, state text NOT NULL);
CREATE TABLE it_writer.ctl (stop boolean NOT NULL);
INSERT INTO it_writer.ctl VALUES (false);
CREATE FUNCTION it_writer.ok(p text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE s text; rp text; halt boolean;
BEGIN
  SELECT c.stop INTO halt FROM it_writer.ctl c;
  IF halt THEN RETURN false; END IF;
  IF to_regclass('ecplan.plans') IS NULL THEN RETURN true; END IF;
  EXECUTE 'SELECT state, running_phase FROM ecplan.plans WHERE name = $1' INTO s, rp USING p;
  RETURN coalesce(s, 'planned') IN ('planned', 'expanded', 'synced', 'backfilled', 'switched', 'rolled_back')
         AND rp IS DISTINCT FROM 'contract';
END $$;
-- The plan's state (and the phase running, if any) when a write commits.
CREATE FUNCTION it_writer.state(p text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; rp text;
BEGIN
  IF to_regclass('ecplan.plans') IS NULL THEN RETURN 'planned'; END IF;
  EXECUTE 'SELECT state, running_phase FROM ecplan.plans WHERE name = $1' INTO s, rp USING p;
  RETURN coalesce(s, 'planned') || coalesce('+' || rp, '');
END $$;
SQL
}

dep_writer_stop() {
	dep_psql "$1" -c "UPDATE it_writer.ctl SET stop = true" >/dev/null 2>&1 || true
}

dep_writer_script() {
	local plan=$1 writes=$2 table=$3 n=$4 k body
	local planlit=${plan//\'/\'\'}
	body=$(<"$writes")
	printf '\\set ON_ERROR_STOP 1\n\\set QUIET 1\nSET application_name = %s;\n' "'depend-writer'"
	for ((k = 1; k <= n; k++)); do
		# ROW EXCLUSIVE on the table before the state check: contract cannot drop
		# the old column between the check and the write.
		printf 'BEGIN;\nLOCK TABLE %s IN ROW EXCLUSIVE MODE;\n' "$table"
		printf "SELECT it_writer.ok('%s') AS ok \\\\gset\n" "$planlit"
		printf '\\if :ok\n\\set k %d\n%s\n' "$k" "$body"
		printf "INSERT INTO it_writer.log VALUES (%d, it_writer.state('%s'));\nCOMMIT;\n" "$k" "$planlit"
		printf '\\else\nROLLBACK;\n\\q\n\\endif\n'
		printf 'SELECT pg_sleep(0.005) AS s \\gset\n'
	done
}

dep_writer_replay() {
	local db=$1 writes=$2 k
	shift 2
	{
		printf '\\set ON_ERROR_STOP 1\n\\set QUIET 1\n'
		for k in "$@"; do
			printf '\\set k %d\n' "$k"
			cat "$writes"
			printf '\n'
		done
	} | PGDATABASE=$db psql -Xq >/dev/null
}
