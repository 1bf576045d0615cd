#!/usr/bin/env bash
# An integer key that other tables reference, converted to bigint together
# with the columns that reference it, in one plan, under writes.
#
# projects(id serial PRIMARY KEY) is referenced by issues.project_id (ON
# DELETE CASCADE, DEFERRABLE) and merge_requests.target_project_id; the plan
# changes all three to bigint. Checks:
#   - a plan that changes the key without a referencing column is refused
#     (exit 3) before anything changes, naming the missing column and
#     printing the "changes" entry to add;
#   - the new foreign keys reference the new key column, NOT VALID once its
#     unique index exists, validated before switch;
#   - rollback from backfilled restores the exact original;
#   - kill -9 of the runner while the contract waits for its lock, then
#     resume: the contract (one transaction for the three tables) completes;
#   - after contract: the schema equals PostgreSQL's own ALTER TYPE + RENAME
#     (+ ALTER SEQUENCE AS bigint), the key keeps its name, the sequence
#     continues, every FK is valid and enforced with its action, no orphan,
#     every committed write present.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

mk() {
	q "CREATE TABLE public.projects (id serial PRIMARY KEY, name text NOT NULL);
	   COMMENT ON CONSTRAINT projects_pkey ON public.projects IS 'the key';
	   CREATE TABLE public.issues (id serial PRIMARY KEY,
	     project_id integer NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE
	       DEFERRABLE INITIALLY IMMEDIATE, title text);
	   CREATE INDEX issues_project_id_idx ON public.issues (project_id);
	   CREATE TABLE public.merge_requests (id serial PRIMARY KEY,
	     target_project_id integer REFERENCES public.projects (id) ON UPDATE CASCADE, title text);
	   INSERT INTO public.projects (name) SELECT 'p' || g FROM generate_series(1, $1) g;
	   INSERT INTO public.issues (project_id, title) SELECT 1 + g % $1, 'i' || g FROM generate_series(1, 2 * $1) g;
	   INSERT INTO public.merge_requests (target_project_id, title)
	     SELECT CASE WHEN g % 5 = 0 THEN NULL ELSE 1 + g % $1 END, 'm' || g FROM generate_series(1, $1) g;" >/dev/null
}
snapshot() {
	q "SELECT c.relname || ' col ' || a.attname || ': ' || format_type(a.atttypid, a.atttypmod)
	          || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE c.relname IN ('projects', 'issues', 'merge_requests') AND c.relnamespace = 'public'::regnamespace
	      AND a.attnum > 0 AND NOT a.attisdropped
	   UNION ALL
	   SELECT conrelid::regclass || ' constraint ' || conname || ': ' || pg_get_constraintdef(oid)
	          || ' valid=' || convalidated || ' comment=' || coalesce(obj_description(oid, 'pg_constraint'), '-')
	     FROM pg_constraint
	    WHERE conrelid IN ('public.projects'::regclass, 'public.issues'::regclass, 'public.merge_requests'::regclass)
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid)
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	    WHERE i.indrelid IN ('public.projects'::regclass, 'public.issues'::regclass, 'public.merge_requests'::regclass)
	   UNION ALL
	   SELECT 'trigger ' || tgname || ': ' || pg_get_triggerdef(oid) FROM pg_trigger
	    WHERE tgrelid IN ('public.projects'::regclass, 'public.issues'::regclass, 'public.merge_requests'::regclass)
	      AND NOT tgisinternal
	   UNION ALL
	   SELECT 'sequence ' || seqrelid::regclass || ': ' || format_type(seqtypid, NULL) || ' max=' || seqmax
	     FROM pg_sequence WHERE seqrelid = 'public.projects_id_seq'::regclass
	   ORDER BY 1"
}

ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\"' >/dev/null 2>&1"
PGDATABASE=$ORACLE mk 10
PGDATABASE=$ORACLE q "ALTER TABLE public.projects ALTER COLUMN id TYPE bigint;
	ALTER TABLE public.projects RENAME COLUMN id TO id_big;
	ALTER SEQUENCE public.projects_id_seq AS bigint;
	ALTER TABLE public.issues ALTER COLUMN project_id TYPE bigint;
	ALTER TABLE public.issues RENAME COLUMN project_id TO project_id_big;
	ALTER TABLE public.merge_requests ALTER COLUMN target_project_id TYPE bigint;
	ALTER TABLE public.merge_requests RENAME COLUMN target_project_id TO target_project_id_big;" >/dev/null
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"

N=2000
mk $N
snapshot >"$IT_TMP/original.txt"
sm_writers_setup

# --- refused: the key without one of the columns that reference it ----------
cat >"$IT_TMP/partial.json" <<'EOF'
{ "format": "ecplan/v1", "name": "partial", "table": "public.projects",
  "changes": [
    { "column": "id", "new_column": "id_big", "type": "bigint" },
    { "table": "public.issues", "column": "project_id", "new_column": "project_id_big", "type": "bigint" } ] }
EOF
assert_exit 3 ecplan advance "$IT_TMP/partial.json"
assert_contains "$(cat "$ERR")" "public.merge_requests.target_project_id" "the missing referencing column is named"
assert_contains "$(cat "$ERR")" '"table":"public.merge_requests","column":"target_project_id"' \
	"the changes entry to add is printed"
assert_eq 0 "$(sm_col_exists public.projects id_big)" "refused before anything changes"

P=$IT_TMP/plan.json
cat >"$P" <<'EOF'
{ "format": "ecplan/v1", "name": "projects-bigint", "table": "public.projects",
  "changes": [
    { "column": "id", "new_column": "id_big", "type": "bigint" },
    { "table": "public.issues", "column": "project_id", "new_column": "project_id_big", "type": "bigint" },
    { "table": "public.merge_requests", "column": "target_project_id", "new_column": "target_project_id_big",
      "type": "bigint" } ],
  "backfill": { "batch_size": 300 } }
EOF

# --- writers: old code (old columns) until contract, new code from sync on -----
writer() {
	local role=$1 k
	for ((k = 1; k <= 100000; k++)); do
		printf 'BEGIN;\nSELECT count(*) AS l FROM public.projects WHERE false \\gset\n'
		printf 'SELECT count(*) AS l FROM public.issues WHERE false \\gset\n'
		printf 'SELECT count(*) AS l FROM public.merge_requests WHERE false \\gset\n'
		if [[ $role == old ]]; then
			printf "SELECT public.it_old_code_ok('projects-bigint') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			printf "INSERT INTO public.projects (name) VALUES ('o%d') RETURNING id AS pid \\\\gset\n" "$k"
			printf "INSERT INTO public.issues (project_id, title) VALUES (:pid, 'oi%d');\n" "$k"
			printf "INSERT INTO public.merge_requests (target_project_id, title) VALUES (:pid, 'om%d');\n" "$k"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'insert', :pid, 'name', 'o%d');\n" "$k"
			printf 'COMMIT;\n\\else\nROLLBACK;\n\\q\n\\endif\n'
		else
			printf "SELECT coalesce(public.it_new_code_ok('projects-bigint'), false) AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			printf "INSERT INTO public.projects (name) VALUES ('n%d') RETURNING id_big AS pid \\\\gset\n" "$k"
			printf "INSERT INTO public.issues (project_id_big, title) VALUES (:pid, 'ni%d');\n" "$k"
			printf "INSERT INTO public.merge_requests (target_project_id_big, title) VALUES (:pid, 'nm%d');\n" "$k"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('new', 'insert', :pid, 'name', 'n%d');\n" "$k"
			printf 'COMMIT;\n\\else\nROLLBACK;\nSELECT pg_sleep(0.02) \\gset\n\\endif\n'
		fi
		printf 'SELECT pg_sleep(0.004) \\gset\n'
	done
}
it_defer "sm_writers_stop 2>/dev/null"

# --- backfilled, then rolled back to the exact original ------------------------
sm_writer_pair_start
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state projects-bigint)" "backfilled"
assert_eq "t|t" "$(q "SELECT convalidated, pg_get_constraintdef(oid) LIKE '%REFERENCES projects(id_big) ON DELETE CASCADE DEFERRABLE%'
	FROM pg_constraint WHERE conrelid = 'public.issues'::regclass AND contype = 'f' AND conname <> 'issues_project_id_fkey'")" \
	"the new foreign key of issues references the new key, validated, with its action and deferrability"
assert_eq "t" "$(q "SELECT convalidated FROM pg_constraint WHERE conrelid = 'public.merge_requests'::regclass
	AND contype = 'f' AND conname <> 'merge_requests_target_project_id_fkey'")" "the new foreign key of merge_requests is validated"
sm_writer_pair_stop
assert_exit 0 ecplan rollback "$P" --to planned
snapshot >"$IT_TMP/rolled.txt"
if ! diff -u "$IT_TMP/original.txt" "$IT_TMP/rolled.txt" >"$IT_TMP/diff.txt"; then
	fail "rollback from backfilled did not restore the original (- original, + after rollback):
$(cat "$IT_TMP/diff.txt")"
fi

# --- forward; kill -9 while the contract waits for its lock; resume ------------
sm_writer_pair_start
assert_exit 0 ecplan advance "$P" --to switch
sm_writer_pair_stop
# A session holding a lock on merge_requests makes the contract's single
# transaction wait (lock_timeout, retried); the runner is killed meanwhile.
(printf 'BEGIN;\nLOCK TABLE public.merge_requests IN ACCESS SHARE MODE;\nSELECT pg_sleep(30);\nCOMMIT;\n' | psql -X -q >/dev/null 2>&1 || true) &
locker=$!
it_defer "kill $locker 2>/dev/null"
until [[ $(q "SELECT count(*) FROM pg_locks l WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND l.relation = 'public.merge_requests'::regclass AND l.mode = 'AccessShareLock' AND l.granted
	AND l.pid <> pg_backend_pid()") -ge 1 ]]; do sleep 0.1; done
"$BIN" advance "$P" --to contract >"$IT_TMP/c.out" 2>"$IT_TMP/c.err" &
runner=$!
for _ in $(seq 1 600); do
	(($(q "SELECT count(*) FROM ecplan.events WHERE plan = 'projects-bigint' AND kind = 'lock_timeout'") > 0)) && break
	sleep 0.1
done
assert_ne 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'projects-bigint' AND kind = 'lock_timeout'")" \
	"the contract waited for its lock"
kill -9 "$runner"
wait "$runner" 2>/dev/null || true
assert_eq 1 "$(sm_col_exists public.projects id)" "the killed contract changed nothing (one transaction)"
kill "$locker" 2>/dev/null || true
wait "$locker" 2>/dev/null || true
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()
	AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
sm_writer_pair_start
assert_exit 0 ecplan advance "$P" --to contract
assert_eq contracted "$(sm_state projects-bigint)" "contracted after the resume"
sm_writer_pair_stop

snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "the schema after contract differs from PostgreSQL's own ALTER TYPE (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
writes=$(q "SELECT count(*) FROM public.it_write_log")
assert_ne 0 "$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'new'")" "new code wrote"
assert_eq "$((N + writes))" "$(q "SELECT count(*) FROM public.projects")" "every committed project is there"
assert_eq 0 "$(q "SELECT count(*) FROM public.it_write_log l WHERE NOT EXISTS (SELECT FROM public.projects p WHERE p.id_big = l.id AND p.name = l.value)")" \
	"every written project kept its id and name"
assert_eq 0 "$(q "SELECT count(*) FROM public.issues i WHERE NOT EXISTS (SELECT FROM public.projects p WHERE p.id_big = i.project_id_big)")" \
	"no orphan issue"
max=$(q "SELECT max(id_big) FROM public.projects")
assert_eq "$((max + 1))" "$(q "INSERT INTO public.projects (name) VALUES ('next') RETURNING id_big")" "the sequence continues"
# The actions hold: deleting a project deletes its issues; an orphan is refused.
q "DELETE FROM public.merge_requests WHERE target_project_id_big = 1; DELETE FROM public.projects WHERE id_big = 1" >/dev/null
assert_eq 0 "$(q "SELECT count(*) FROM public.issues WHERE project_id_big = 1")" "ON DELETE CASCADE holds"
assert_exit 3 q "INSERT INTO public.issues (project_id_big, title) VALUES (99999999999, 'x')"
assert_contains "$(cat "$ERR")" "issues_project_id_fkey" "an orphan is refused by the foreign key under its old name"
pass
