#!/usr/bin/env bash
# A serial primary key, integer -> bigint, under writes.
#
# projects(id serial PRIMARY KEY, CLUSTER ON it, a comment on the key) becomes
# projects(id_big bigint). The backfill walks the old key; the unique index on
# the new column is built concurrently and becomes the primary key at contract,
# under its old name; the sequence moves to the new column and is widened
# (AS bigint) with its value untouched, so the next insert gets the next id. A
# writer inserts (letting the sequence pick the id) and updates rows through
# every phase. The oracle is PostgreSQL's own ALTER TYPE + RENAME + ALTER
# SEQUENCE AS bigint. A key that other tables reference, and an identity
# column to a type an identity cannot have, are refused before anything
# changes (an identity key to bigint: key_identity.sh).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

mk() {
	q "CREATE TABLE public.projects (id serial PRIMARY KEY, name text NOT NULL);
	ALTER TABLE public.projects CLUSTER ON projects_pkey;
	COMMENT ON CONSTRAINT projects_pkey ON public.projects IS 'the key';
	INSERT INTO public.projects (name) SELECT 'p' || g FROM generate_series(1, $1) g;" >/dev/null
}
snapshot() {
	q "SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) || ' comment='
	          || coalesce(obj_description(oid, 'pg_constraint'), '-')
	     FROM pg_constraint WHERE conrelid = 'public.projects'::regclass
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid) || ' clustered=' || i.indisclustered
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.projects'::regclass
	   UNION ALL
	   SELECT 'column ' || attname || ': ' || format_type(atttypid, atttypmod) || ' notnull=' || attnotnull
	          || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE a.attrelid = 'public.projects'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	   UNION ALL
	   SELECT 'sequence ' || seqrelid::regclass || ': ' || format_type(seqtypid, NULL) || ' max=' || seqmax
	          || ' owned by ' || coalesce((SELECT refobjid::regclass || '.' || a.attname FROM pg_depend d
	             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	             WHERE d.objid = seqrelid AND d.deptype = 'a' AND d.refobjsubid > 0), '-')
	     FROM pg_sequence WHERE seqrelid = 'public.projects_id_seq'::regclass
	   ORDER BY 1"
}

ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\"' >/dev/null 2>&1"
PGDATABASE=$ORACLE mk 10
PGDATABASE=$ORACLE q "ALTER TABLE public.projects ALTER COLUMN id TYPE bigint;
	ALTER TABLE public.projects RENAME COLUMN id TO id_big;
	ALTER SEQUENCE public.projects_id_seq AS bigint;" >/dev/null
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"

N=4000
mk $N
sm_writers_setup
P=$IT_TMP/plan.json
cat >"$P" <<'EOF'
{ "format": "ecplan/v1", "name": "projects-id-bigint", "table": "public.projects",
  "change": { "column": "id", "new_column": "id_big", "type": "bigint" },
  "backfill": { "batch_size": 400 } }
EOF
writer() {
	local k
	for ((k = 1; k <= 100000; k++)); do
		printf "BEGIN;\nSELECT count(*) FROM public.projects WHERE name = 'x' \\\\gset\n"
		printf "SELECT public.it_old_code_ok('projects-id-bigint') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
		printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
		printf "INSERT INTO public.projects (name) VALUES ('w%d');\n" "$k"
		printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'insert', %d, 'name', 'w%d');\n" "$k" "$k"
		printf "UPDATE public.projects SET name = 'u%d' WHERE name = 'p%d';\n" "$k" "$k"
		printf 'COMMIT;\n\\else\nROLLBACK;\n\\q\n\\endif\nSELECT pg_sleep(0.005) \\gset\n'
	done
}
writer | psql -X -q -v ON_ERROR_STOP=1 >"$IT_TMP/w.out" 2>"$IT_TMP/w.err" &
wpid=$!
it_defer "sm_writers_stop 2>/dev/null"
for _ in $(seq 1 400); do
	(($(q "SELECT count(*) FROM it_write_log") > 5)) && break
	sleep 0.05
done
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state projects-id-bigint)" "contracted under writes"
wrc=0
wait $wpid || wrc=$?
assert_eq 0 "$wrc" "the writer exited 0 (stderr: $(cat "$IT_TMP/w.err"))"

snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "the key after contract differs from PostgreSQL's own ALTER (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
# Every row kept its id; the writer's rows are all there; ids continue.
writes=$(q "SELECT count(*) FROM it_write_log")
assert_eq "$((N + writes))" "$(q "SELECT count(*) FROM public.projects")" "no row lost"
assert_eq "$((N + writes))" "$(q "SELECT count(DISTINCT id_big) FROM public.projects")" "ids stay unique"
assert_eq "$N" "$(q "SELECT count(*) FROM public.projects WHERE (name LIKE 'p%' OR name LIKE 'u%') AND id_big <= $N")" \
	"the rows that existed before kept their ids (1..$N)"
max=$(q "SELECT max(id_big) FROM public.projects")
assert_eq "$((max + 1))" "$(q "INSERT INTO public.projects (name) VALUES ('next') RETURNING id_big")" \
	"the next insert gets the next id"
assert_eq bigint "$(q "SELECT format_type(seqtypid, NULL) FROM pg_sequence WHERE seqrelid = 'public.projects_id_seq'::regclass")" \
	"the sequence is bigint"

# Refused before anything changes: a referenced key, an identity column.
q "CREATE TABLE public.issues (id serial PRIMARY KEY, project_id bigint REFERENCES public.projects (id_big));
   CREATE TABLE public.things (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x int)" >/dev/null
printf '{"format": "ecplan/v1", "name": "ref-key", "table": "public.projects",
  "change": {"column": "id_big", "new_column": "id_num", "type": "numeric"}}\n' >"$IT_TMP/r1.json"
assert_exit 3 ecplan advance "$IT_TMP/r1.json"
assert_exit 3 ecplan check "$IT_TMP/r1.json"
assert_contains "$(cat "$OUT")" "issues_project_id_fkey" "a referenced key is refused, naming the foreign key"
printf '{"format": "ecplan/v1", "name": "identity-key", "table": "public.things",
  "change": {"column": "id", "new_column": "id_num", "type": "numeric"}}\n' >"$IT_TMP/r2.json"
assert_exit 3 ecplan check "$IT_TMP/r2.json"
assert_contains "$(cat "$OUT")" "an identity column must be smallint, integer or bigint" "an identity key to numeric is refused"
assert_exit 3 ecplan advance "$IT_TMP/r2.json"
assert_eq 0 "$(sm_col_exists public.things id_num)" "nothing added"
assert_eq 0 "$(sm_col_exists public.projects id_num)" "nothing added"
pass
