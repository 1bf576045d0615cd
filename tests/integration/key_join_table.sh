#!/usr/bin/env bash
# Two keys to bigint with the join table between them, in one plan, under
# writes: every object that names two changed columns of one table is carried
# once, with both rewritten.
#
# projects(id serial PK) and users(id serial PK) are joined by
# project_members(project_id, user_id, PRIMARY KEY (project_id, user_id),
# an index on (user_id, project_id), a CHECK on both), which
# member_events(project_id, user_id) references with a composite foreign key
# (ON DELETE CASCADE). The plan changes all six key columns to bigint.
# Checks:
#   - check names each change's kind ("key change") and lists the join
#     table's primary key, index, CHECK and the composite foreign key as
#     carried once (by the first change naming them);
#   - rollback from backfilled restores the exact original;
#   - after contract the schema equals PostgreSQL's own ALTER TYPE + RENAME
#     (+ ALTER SEQUENCE AS bigint): the composite primary key keeps its name
#     on (project_id_big, user_id_big), the composite foreign key references
#     it, both with their actions; every committed write is present; no
#     orphan; the foreign keys are enforced.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

TABLES="'projects', 'users', 'project_members', 'member_events'"
mk() {
	q "CREATE TABLE public.projects (id serial PRIMARY KEY, name text NOT NULL);
	   CREATE TABLE public.users (id serial PRIMARY KEY, login text NOT NULL);
	   CREATE TABLE public.project_members (
	     project_id integer NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
	     user_id integer NOT NULL REFERENCES public.users (id),
	     role text NOT NULL DEFAULT 'dev',
	     CONSTRAINT project_members_pkey PRIMARY KEY (project_id, user_id),
	     CONSTRAINT project_members_not_self CHECK (project_id > 0 AND user_id > 0));
	   CREATE INDEX project_members_user_idx ON public.project_members (user_id, project_id) WHERE role <> 'gone';
	   CREATE TABLE public.member_events (id serial PRIMARY KEY, project_id integer NOT NULL, user_id integer NOT NULL,
	     what text,
	     CONSTRAINT member_events_member_fkey FOREIGN KEY (project_id, user_id)
	       REFERENCES public.project_members (project_id, user_id) ON DELETE CASCADE);
	   INSERT INTO public.projects (name) SELECT 'p' || g FROM generate_series(1, $1) g;
	   INSERT INTO public.users (login) SELECT 'u' || g FROM generate_series(1, $1) g;
	   INSERT INTO public.project_members (project_id, user_id)
	     SELECT p, 1 + (p * 7 + k) % $1 FROM generate_series(1, $1) p, generate_series(0, 2) k;
	   INSERT INTO public.member_events (project_id, user_id, what)
	     SELECT project_id, user_id, 'joined' FROM public.project_members;" >/dev/null
}
snapshot() {
	q "SELECT c.relname || ' col ' || a.attname || ': ' || format_type(a.atttypid, a.atttypmod)
	          || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE c.relname IN ($TABLES) AND c.relnamespace = 'public'::regnamespace
	      AND a.attnum > 0 AND NOT a.attisdropped
	   UNION ALL
	   SELECT conrelid::regclass || ' constraint ' || conname || ': ' || pg_get_constraintdef(oid)
	          || ' valid=' || convalidated
	     FROM pg_constraint c WHERE conrelid IN (SELECT oid FROM pg_class WHERE relname IN ($TABLES)
	       AND relnamespace = 'public'::regnamespace)
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid)
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	    WHERE i.indrelid IN (SELECT oid FROM pg_class WHERE relname IN ($TABLES) AND relnamespace = 'public'::regnamespace)
	   UNION ALL
	   SELECT 'sequence ' || seqrelid::regclass || ': ' || format_type(seqtypid, NULL) || ' max=' || seqmax
	     FROM pg_sequence WHERE seqrelid IN ('public.projects_id_seq'::regclass, 'public.users_id_seq'::regclass)
	   ORDER BY 1"
}

ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\"' >/dev/null 2>&1"
PGDATABASE=$ORACLE mk 10
PGDATABASE=$ORACLE q "ALTER TABLE public.projects ALTER COLUMN id TYPE bigint;
	ALTER TABLE public.users ALTER COLUMN id TYPE bigint;
	ALTER TABLE public.project_members ALTER COLUMN project_id TYPE bigint, ALTER COLUMN user_id TYPE bigint;
	ALTER TABLE public.member_events ALTER COLUMN project_id TYPE bigint, ALTER COLUMN user_id TYPE bigint;
	ALTER TABLE public.projects RENAME COLUMN id TO id_big;
	ALTER TABLE public.users RENAME COLUMN id TO id_big;
	ALTER TABLE public.project_members RENAME COLUMN project_id TO project_id_big;
	ALTER TABLE public.project_members RENAME COLUMN user_id TO user_id_big;
	ALTER TABLE public.member_events RENAME COLUMN project_id TO project_id_big;
	ALTER TABLE public.member_events RENAME COLUMN user_id TO user_id_big;
	ALTER SEQUENCE public.projects_id_seq AS bigint;
	ALTER SEQUENCE public.users_id_seq AS bigint;" >/dev/null
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"

N=600
mk $N
snapshot >"$IT_TMP/original.txt"
sm_writers_setup

P=$IT_TMP/plan.json
cat >"$P" <<'EOF'
{ "format": "ecplan/v1", "name": "members-bigint", "table": "public.projects",
  "changes": [
    { "column": "id", "new_column": "id_big", "type": "bigint" },
    { "table": "public.users", "column": "id", "new_column": "id_big", "type": "bigint" },
    { "table": "public.project_members", "column": "project_id", "new_column": "project_id_big", "type": "bigint" },
    { "table": "public.project_members", "column": "user_id", "new_column": "user_id_big", "type": "bigint" },
    { "table": "public.member_events", "column": "project_id", "new_column": "project_id_big", "type": "bigint" },
    { "table": "public.member_events", "column": "user_id", "new_column": "user_id_big", "type": "bigint" } ],
  "backfill": { "batch_size": 200 } }
EOF

# --- what check says ------------------------------------------------------------
assert_exit 0 ecplan check --json "$P"
assert_eq '["key change","key change","key change","key change","type change","type change"]' \
	"$(jq -c '[.changes[].kind]' "$OUT")" "the keys and the key columns are key changes, the plain references type changes"
assert_exit 0 ecplan check "$P"
for o in 'index "project_members_pkey" (primary key)' 'index "project_members_user_idx"' \
	'check constraint "project_members_not_self"'; do
	assert_contains "$(cat "$OUT")" "carried $o with change 3 of the plan" "$o is carried once, by project_members.project_id"
done
assert_contains "$(cat "$OUT")" 'carried foreign key "member_events_member_fkey" with change 5 of the plan' \
	"the composite foreign key is carried once, by member_events.project_id"

# --- writers: old code until contract, new code from sync on --------------------
writer() {
	local role=$1 k
	for ((k = 1; k <= 100000; k++)); do
		printf 'BEGIN;\n'
		if [[ $role == old ]]; then
			printf "SELECT public.it_old_code_ok('members-bigint') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			printf "INSERT INTO public.projects (name) VALUES ('o%d') RETURNING id AS pid \\\\gset\n" "$k"
			printf "INSERT INTO public.users (login) VALUES ('o%d') RETURNING id AS uid \\\\gset\n" "$k"
			printf "INSERT INTO public.project_members (project_id, user_id) VALUES (:pid, :uid), (:pid, 1);\n"
			printf "INSERT INTO public.member_events (project_id, user_id, what) VALUES (:pid, :uid, 'o%d');\n" "$k"
			printf "UPDATE public.project_members SET role = 'lead' WHERE project_id = 1 + %d %% $N AND user_id = 1 + (%d %% $N * 7) %% $N;\n" "$k" "$k"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'insert', :pid, 'user', :uid::text);\n"
			printf 'COMMIT;\n\\else\nROLLBACK;\n\\q\n\\endif\n'
		else
			printf "SELECT coalesce(public.it_new_code_ok('members-bigint'), false) AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			printf "INSERT INTO public.projects (name) VALUES ('n%d') RETURNING id_big AS pid \\\\gset\n" "$k"
			printf "INSERT INTO public.users (login) VALUES ('n%d') RETURNING id_big AS uid \\\\gset\n" "$k"
			printf "INSERT INTO public.project_members (project_id_big, user_id_big) VALUES (:pid, :uid), (:pid, 2);\n"
			printf "INSERT INTO public.member_events (project_id_big, user_id_big, what) VALUES (:pid, :uid, 'n%d');\n" "$k"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('new', 'insert', :pid, 'user', :uid::text);\n"
			printf 'COMMIT;\n\\else\nROLLBACK;\nSELECT pg_sleep(0.02) \\gset\n\\endif\n'
		fi
		printf 'SELECT pg_sleep(0.004) \\gset\n'
	done
}
it_defer "sm_writers_stop 2>/dev/null"

# --- backfilled, then rolled back to the exact original ---------------------------
sm_writer_pair_start
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state members-bigint)" "backfilled"
assert_eq "t" "$(q "SELECT convalidated FROM pg_constraint WHERE conrelid = 'public.member_events'::regclass AND contype = 'f'
	AND conname <> 'member_events_member_fkey'
	AND pg_get_constraintdef(oid) = 'FOREIGN KEY (project_id_big, user_id_big) REFERENCES project_members(project_id_big, user_id_big) ON DELETE CASCADE'")" \
	"one copy of the composite foreign key, on both new columns, against both new key columns, validated"
assert_eq 1 "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE i.indrelid = 'public.project_members'::regclass AND c.relname LIKE 'project_members_pkey%' AND c.relname <> 'project_members_pkey'
	AND pg_get_indexdef(i.indexrelid) LIKE '%(project_id_big, user_id_big)'")" "one copy of the composite primary key's index"
sm_writer_pair_stop
assert_exit 0 ecplan rollback "$P" --to planned
snapshot >"$IT_TMP/rolled.txt"
if ! diff -u "$IT_TMP/original.txt" "$IT_TMP/rolled.txt" >"$IT_TMP/diff.txt"; then
	fail "rollback from backfilled did not restore the original (- original, + after rollback):
$(cat "$IT_TMP/diff.txt")"
fi

# --- forward to contract under writes -----------------------------------------------
sm_writer_pair_start
assert_exit 0 ecplan advance "$P" --to switch
assert_exit 0 ecplan verify --json "$P"
assert_eq '[0,0]' "$(jq -c '[.changes[2,3].key_duplicates]' "$OUT")" "no new composite key value is held twice"
assert_exit 0 ecplan advance "$P" --to contract
assert_eq contracted "$(sm_state members-bigint)" "contracted"
sm_writer_pair_stop

snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "the schema after contract differs from PostgreSQL's own ALTER TYPE (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
assert_ne 0 "$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'new'")" "new code wrote"
assert_ne 0 "$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'old'")" "old code wrote"
assert_eq 0 "$(q "SELECT count(*) FROM public.it_write_log l WHERE NOT EXISTS (SELECT FROM public.project_members m
	WHERE m.project_id_big = l.id AND m.user_id_big = l.value::bigint)
	OR NOT EXISTS (SELECT FROM public.member_events e WHERE e.project_id_big = l.id AND e.user_id_big = l.value::bigint)")" \
	"every committed membership and event is there"
assert_eq "$((3 * N + 2 * $(q "SELECT count(*) FROM public.it_write_log")))" "$(q "SELECT count(*) FROM public.project_members")" \
	"no membership lost or added"
assert_eq 0 "$(q "SELECT count(*) FROM public.member_events e WHERE NOT EXISTS (SELECT FROM public.project_members m
	WHERE (m.project_id_big, m.user_id_big) = (e.project_id_big, e.user_id_big))")" "no orphan event"
# The foreign keys hold under their old names, with their actions.
assert_exit 3 q "INSERT INTO public.member_events (project_id_big, user_id_big) VALUES (1, 99999999999)"
assert_contains "$(cat "$ERR")" "member_events_member_fkey" "an orphan event is refused by the composite foreign key"
q "DELETE FROM public.projects WHERE id_big = 2" >/dev/null
assert_eq "0|0" "$(q "SELECT (SELECT count(*) FROM public.project_members WHERE project_id_big = 2),
	(SELECT count(*) FROM public.member_events WHERE project_id_big = 2)")" "ON DELETE CASCADE holds through both levels"
assert_exit 3 q "INSERT INTO public.project_members (project_id_big, user_id_big) VALUES (3, 1), (3, 1)"
assert_contains "$(cat "$ERR")" "project_members_pkey" "the composite primary key holds under its name"
pass
