#!/usr/bin/env bash
# An identity primary key, integer GENERATED ALWAYS AS IDENTITY -> bigint, under
# old- and new-code writes through every phase.
#
# accounts(id integer GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 CACHE 1)
# PRIMARY KEY, a comment on the key, a grant and a comment on the sequence)
# becomes accounts(id_big bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY). The
# oracle is PostgreSQL's own ALTER COLUMN ... TYPE bigint + RENAME: the key and
# its name, the column's type and identity kind, the sequence's type, options
# (MAXVALUE widened from integer's to bigint's), owner column, grant and comment
# must be identical. Old code inserts (the old column's identity generates the
# id) until contract; new code inserts (naming neither id column) and updates by
# id_big from sync on, through contract and after. Every committed write must be
# present and the ids continue exactly: every insert drew from the sequence with
# CACHE 1 and committed, so the ids are 1..count with no gap but the one the
# refused explicit insert below drew, and the next insert gets max + 1.
#
# Last, a plan with two identity keys (one referenced by the other table).
#
# First, rollback from `backfilled` (old code writing) gives back the original:
# no new column, no trigger, the identity and its sequence untouched (the next
# id is the one after the last).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

PLAN_NAME=accounts-id-identity
mk() {
	q "CREATE TABLE public.accounts (
	     id integer GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 CACHE 1) PRIMARY KEY,
	     name text NOT NULL);
	COMMENT ON CONSTRAINT accounts_pkey ON public.accounts IS 'the key';
	GRANT USAGE, SELECT ON SEQUENCE public.accounts_id_seq TO PUBLIC;
	COMMENT ON SEQUENCE public.accounts_id_seq IS 'account ids';
	INSERT INTO public.accounts (name) SELECT 'p' || g FROM generate_series(1, $1) g;" >/dev/null
}
snapshot() {
	q "SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) || ' comment='
	          || coalesce(obj_description(oid, 'pg_constraint'), '-')
	     FROM pg_constraint WHERE conrelid = 'public.accounts'::regclass
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid)
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.accounts'::regclass
	   UNION ALL
	   SELECT 'column ' || attname || ': ' || format_type(atttypid, atttypmod) || ' notnull=' || attnotnull
	          || ' identity=' || coalesce(nullif(attidentity::text, ''), '-')
	          || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE a.attrelid = 'public.accounts'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	   UNION ALL
	   SELECT 'sequence ' || seqrelid::regclass || ': ' || format_type(seqtypid, NULL) || ' start=' || seqstart
	          || ' increment=' || seqincrement || ' min=' || seqmin || ' max=' || seqmax || ' cache=' || seqcache
	          || ' cycle=' || seqcycle || ' acl=' || coalesce(c.relacl::text, '-')
	          || ' comment=' || coalesce(obj_description(seqrelid, 'pg_class'), '-')
	          || ' owned by ' || coalesce((SELECT refobjid::regclass || '.' || a.attname || ' (' || d.deptype::text || ')'
	             FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	             WHERE d.objid = seqrelid AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0), '-')
	     FROM pg_sequence JOIN pg_class c ON c.oid = seqrelid
	    WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'accounts%'
	   UNION ALL
	   SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = 'public.accounts'::regclass AND NOT tgisinternal
	   ORDER BY 1"
}

ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\" WITH (FORCE)' >/dev/null 2>&1"
PGDATABASE=$ORACLE mk 10
PGDATABASE=$ORACLE q "ALTER TABLE public.accounts ALTER COLUMN id TYPE bigint;
	ALTER TABLE public.accounts RENAME COLUMN id TO id_big;" >/dev/null
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"
assert_contains "$(cat "$IT_TMP/oracle.txt")" "max=9223372036854775807" "the oracle widens MAXVALUE (sanity)"

N=3000
HALF=$((N / 2))
mk $N
snapshot >"$IT_TMP/original.txt"
sm_writers_setup
# Old code also writes once the plan is rolled back (state rolled_back).
q "CREATE OR REPLACE FUNCTION public.it_old_code_ok(p text) RETURNS boolean LANGUAGE plpgsql AS \$\$
	DECLARE s text; rp text;
	BEGIN
	  IF to_regclass('ecplan.plans') IS NULL THEN RETURN true; END IF;
	  EXECUTE 'SELECT state, running_phase FROM ecplan.plans WHERE name = \$1' INTO s, rp USING p;
	  RETURN coalesce(s, 'planned') IN ('planned', 'rolled_back', 'expanded', 'synced', 'backfilled', 'switched')
	         AND rp IS DISTINCT FROM 'contract';
	END \$\$" >/dev/null
P=$IT_TMP/plan.json
cat >"$P" <<EOF
{ "format": "ecplan/v1", "name": "$PLAN_NAME", "table": "public.accounts",
  "change": { "column": "id", "new_column": "id_big", "type": "bigint" },
  "backfill": { "batch_size": 300 } }
EOF

# Old code: inserts (the identity of id generates the id) and updates ids
# 1..HALF by id, until contract begins. Every write is logged in its transaction.
old_writer() {
	local k
	for ((k = 1; k <= 100000; k++)); do
		# ROW EXCLUSIVE first: contract cannot drop id between the check and the write.
		printf "BEGIN;\nLOCK TABLE public.accounts IN ROW EXCLUSIVE MODE;\nSELECT public.it_old_code_ok('%s') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n" "$PLAN_NAME"
		printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
		printf "INSERT INTO public.accounts (name) VALUES ('o%d') RETURNING id AS nid \\\\gset\n" "$k"
		printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'insert', :nid, 'name', 'o%d');\n" "$k"
		printf "WITH u AS (UPDATE public.accounts SET name = 'ou%d' WHERE id = %d RETURNING id)
		        INSERT INTO public.it_write_log (writer, op, id, col, value) SELECT 'old', 'update', id, 'name', 'ou%d' FROM u;\n" \
			"$k" "$((1 + k % HALF))" "$k"
		printf 'COMMIT;\n\\else\nROLLBACK;\n\\q\n\\endif\nSELECT pg_sleep(0.005) \\gset\n'
	done
}
# New code: from sync on (it_new_code_ok), inserts naming neither id column
# (RETURNING id_big: the trigger fills it before contract, the identity after)
# and updates ids HALF+1..N by id_big (rows not backfilled yet have none).
new_writer() {
	local k
	for ((k = 1; k <= 100000; k++)); do
		printf "BEGIN;\nSELECT public.it_new_code_ok('%s') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n" "$PLAN_NAME"
		printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
		printf "INSERT INTO public.accounts (name) VALUES ('n%d') RETURNING id_big AS nid \\\\gset\n" "$k"
		printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('new', 'insert', :nid, 'name', 'n%d');\n" "$k"
		printf "WITH u AS (UPDATE public.accounts SET name = 'nu%d' WHERE id_big = %d RETURNING id_big)
		        INSERT INTO public.it_write_log (writer, op, id, col, value) SELECT 'new', 'update', id_big, 'name', 'nu%d' FROM u;\n" \
			"$k" "$((HALF + 1 + k % HALF))" "$k"
		printf 'COMMIT;\n\\else\nROLLBACK;\nSELECT pg_sleep(0.01) \\gset\n\\endif\nSELECT pg_sleep(0.005) \\gset\n'
	done
}
wait_log() { # wait_log WRITER N: until WRITER has logged more than N writes
	for _ in $(seq 1 600); do
		(($(q "SELECT count(*) FROM public.it_write_log WHERE writer = '$1'") > $2)) && return 0
		sleep 0.05
	done
	fail "writer $1 logged no more than $2 writes"
}
stop_writers() { # stop_writers PID...: every writer exits 0
	local p rc
	sm_writers_stop
	for p in "$@"; do
		rc=0
		wait "$p" || rc=$?
		assert_eq 0 "$rc" "writer $p exited 0 (stderr: $(cat "$IT_TMP"/w*.err))"
	done
	q "UPDATE public.it_writer_ctl SET stop = false" >/dev/null
}
it_defer "sm_writers_stop 2>/dev/null"

# --- rollback from backfilled, old code writing -----------------------------
psql -X -q -v ON_ERROR_STOP=1 >"$IT_TMP/wo1.out" 2>"$IT_TMP/wo1.err" < <(old_writer) &
wpid=$!
wait_log old 5
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state "$PLAN_NAME")" "backfilled"
assert_eq bigint "$(q "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'public.accounts'::regclass AND attname = 'id_big'")" \
	"the new column is bigint"
assert_eq a "$(q "SELECT attidentity FROM pg_attribute WHERE attrelid = 'public.accounts'::regclass AND attname = 'id'")" \
	"until contract the old column keeps its identity"
assert_exit 0 ecplan rollback "$P"
assert_eq rolled_back "$(sm_state "$PLAN_NAME")" "rolled back"
n0=$(q "SELECT count(*) FROM public.it_write_log")
wait_log old "$n0" # old code still writes after the rollback
stop_writers $wpid
snapshot >"$IT_TMP/rolled_back.txt"
if ! diff -u "$IT_TMP/original.txt" "$IT_TMP/rolled_back.txt" >"$IT_TMP/diff.txt"; then
	fail "rollback from backfilled did not restore the original (- original, + after rollback):
$(cat "$IT_TMP/diff.txt")"
fi
last=$(q "SELECT last_value FROM public.accounts_id_seq")
assert_eq "$(q "SELECT max(id) FROM public.accounts")" "$last" "the sequence's value is the last id given"
assert_eq "$((last + 1))" "$(q "INSERT INTO public.accounts (name) VALUES ('after rollback') RETURNING id")" \
	"after the rollback the next insert gets the next id"
q "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('test', 'insert', $((last + 1)), 'name', 'after rollback')" >/dev/null

# --- every phase, old and new code writing ----------------------------------
psql -X -q -v ON_ERROR_STOP=1 >"$IT_TMP/wo2.out" 2>"$IT_TMP/wo2.err" < <(old_writer) &
wold=$!
psql -X -q -v ON_ERROR_STOP=1 >"$IT_TMP/wn2.out" 2>"$IT_TMP/wn2.err" < <(new_writer) &
wnew=$!
n0=$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'old'")
wait_log old "$((n0 + 5))"
assert_exit 0 ecplan advance "$P" --to switch
assert_eq switched "$(sm_state "$PLAN_NAME")" "switched"
wait_log new 10
assert_exit 0 ecplan verify "$P"
assert_contains "$(cat "$OUT")" "divergent (both differ): 0" "0 divergent rows under writes"
# GENERATED ALWAYS: a value given for the new column is refused as PostgreSQL
# refuses it once id_big is the identity (SQLSTATE 428C9), nothing written.
out=$(psql -XAtq -v ON_ERROR_STOP=1 -c "\\set VERBOSITY verbose" \
	-c "INSERT INTO public.accounts (id_big, name) VALUES (999999, 'explicit')" 2>&1) && fail "an explicit id_big was accepted"
assert_contains "$out" "428C9" "an explicit id_big is refused with PostgreSQL's SQLSTATE"
assert_contains "$out" "cannot insert a non-DEFAULT value into column \"id_big\"" "and its message"
out=$(psql -XAtq -v ON_ERROR_STOP=1 -c "UPDATE public.accounts SET id_big = 999999 WHERE id = 1" 2>&1) &&
	fail "an update of id_big was accepted"
assert_contains "$out" "can only be updated to DEFAULT" "an update of id_big is refused"
assert_eq 0 "$(q "SELECT count(*) FROM public.accounts WHERE name = 'explicit'")" "the refused insert wrote nothing"
assert_eq 0 "$(q "SELECT count(*) FROM public.accounts WHERE id_big = 999999 OR id = 999999")" "no row has the refused id"
n0=$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'new'")
wait_log new "$((n0 + 5))"
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state "$PLAN_NAME")" "contracted under writes"
n0=$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'new'")
wait_log new "$((n0 + 5))" # new code keeps inserting after contract: the identity of id_big
stop_writers $wold $wnew
assert_ne 0 "$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'old' AND seq > (SELECT min(seq) FROM public.it_write_log WHERE writer = 'new')")" \
	"old and new code wrote at the same time"

snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "the key and identity after contract differ from PostgreSQL's own ALTER (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
assert_eq "bigint a true" "$(q "SELECT format_type(atttypid, NULL) || ' ' || attidentity::text || ' ' || attnotnull FROM pg_attribute
	WHERE attrelid = 'public.accounts'::regclass AND attname = 'id_big'")" "id_big is bigint GENERATED ALWAYS NOT NULL"
assert_eq "accounts_pkey|id_big" "$(q "SELECT conname || '|' || (SELECT string_agg(attname, ',') FROM pg_attribute
	WHERE attrelid = conrelid AND attnum = ANY (conkey)) FROM pg_constraint WHERE conrelid = 'public.accounts'::regclass AND contype = 'p'")" \
	"the primary key keeps its name, on id_big"

# Every committed write is there: each logged row with its last logged value.
writes=$(q "SELECT count(*) FROM public.it_write_log WHERE op = 'insert'")
assert_eq "$((N + writes))" "$(q "SELECT count(*) FROM public.accounts")" "no row lost, none added"
assert_eq 0 "$(q "SELECT count(*) FROM (SELECT DISTINCT ON (id) id, value FROM public.it_write_log ORDER BY id, seq DESC) l
	LEFT JOIN public.accounts a ON a.id_big = l.id WHERE a.name IS DISTINCT FROM l.value")" "every committed write is present"
assert_eq "$((N + writes))" "$(q "SELECT count(DISTINCT id_big) FROM public.accounts")" "ids stay unique"
# Continuity: ids 1..max with exactly one gap (the refused explicit insert drew
# one value before the trigger refused it); nothing reused.
max=$(q "SELECT max(id_big) FROM public.accounts")
assert_eq "1 $((N + writes + 1))" "$(q "SELECT min(id_big) || ' ' || max(id_big) FROM public.accounts")" \
	"ids run from 1 to count + 1: one gap, the refused insert's"
assert_eq "$max" "$(q "SELECT last_value FROM public.accounts_id_seq")" "the sequence continues at the last id given"
assert_eq "$((max + 1))" "$(q "INSERT INTO public.accounts (name) VALUES ('next') RETURNING id_big")" \
	"the next insert gets the next id"
out=$(psql -XAtq -c "INSERT INTO public.accounts (id_big, name) VALUES (1, 'x')" 2>&1) && fail "GENERATED ALWAYS accepted an id"
assert_contains "$out" "cannot insert a non-DEFAULT value into column \"id_big\"" "id_big is GENERATED ALWAYS (PostgreSQL's own check)"

# Two identities in one plan (`changes`): an identity key that another table
# references, and that table's own identity key; each sequence is carried by
# its own saved value in the one contract transaction.
q "CREATE TABLE public.projects (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
   CREATE TABLE public.issues (id integer GENERATED BY DEFAULT AS IDENTITY (START WITH 100) PRIMARY KEY,
       project_id integer NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE);
   INSERT INTO public.projects (name) SELECT 'p' || g FROM generate_series(1, 300) g;
   INSERT INTO public.issues (project_id) SELECT 1 + g % 300 FROM generate_series(1, 700) g;" >/dev/null
cat >"$IT_TMP/two.json" <<'EOF'
{ "format": "ecplan/v1", "name": "projects-issues-identity", "table": "public.projects",
  "changes": [ { "column": "id", "new_column": "id_big", "type": "bigint" },
               { "table": "public.issues", "column": "project_id", "new_column": "project_id_big", "type": "bigint" },
               { "table": "public.issues", "column": "id", "new_column": "id_big", "type": "bigint" } ],
  "backfill": { "batch_size": 200 } }
EOF
assert_exit 0 ecplan advance "$IT_TMP/two.json" --all
assert_eq "projects_id_seq bigint a 300|issues_id_seq bigint d 799" "$(q "SELECT string_agg(s.seqrelid::regclass || ' '
	|| format_type(s.seqtypid, NULL) || ' ' || a.attidentity::text || ' ' || v.last_value, '|' ORDER BY a.attrelid::regclass::text DESC)
	FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid AND d.deptype = 'i'
	JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	JOIN pg_sequences v ON format('%I.%I', v.schemaname, v.sequencename)::regclass = s.seqrelid
	WHERE a.attname = 'id_big' AND a.attrelid IN ('public.projects'::regclass, 'public.issues'::regclass)")" \
	"both identities moved to id_big, bigint, same kind, same value"
assert_eq 301 "$(q "INSERT INTO public.projects (name) VALUES ('next') RETURNING id_big")" "projects: the next id"
assert_eq 800 "$(q "INSERT INTO public.issues (project_id_big) VALUES (301) RETURNING id_big")" "issues: the next id"
assert_eq 0 "$(q "SELECT count(*) FROM public.issues i LEFT JOIN public.projects p ON p.id_big = i.project_id_big WHERE p.id_big IS NULL")" \
	"no orphan"
pass
