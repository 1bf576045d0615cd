#!/usr/bin/env bash
# Nothing around the column is lost, under application traffic.
#
# users-email-lower (varchar(255) email -> text email_normalized = lower(email),
# NOT NULL) on a users table whose email carries one object of every kind
# ecplan carries over: CHECK constraints (one also naming another column), a
# deferrable unique constraint, a partial index, an expression index, an
# AFTER UPDATE OF trigger, a comment, a column privilege and a statistics
# target. Old-code and new-code writers (tests/support/writers.sh) run through
# every phase.
#
# The oracle is PostgreSQL itself: in a second database built the same way,
# `ALTER TABLE ... RENAME COLUMN` + `ALTER COLUMN ... TYPE text USING lower(..)`
# rewrites every dependent object. After contract, every constraint, index,
# trigger and column property of users must read back (pg_get_*def) exactly
# as in the oracle database; and every committed write must be present.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

N=5000
NAME=users-email-lower
P=$src/plans/users-email-lower.json
ROLE="it_reader_${IT_DB}"
q "DO \$\$BEGIN CREATE ROLE \"$ROLE\"; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$" >/dev/null
it_defer "q 'DROP OWNED BY \"$ROLE\"' >/dev/null 2>&1; PGDATABASE=postgres q 'DROP ROLE IF EXISTS \"$ROLE\"' >/dev/null 2>&1"

# The objects around users.email (run in this database and in the oracle's).
objects() {
	q "CREATE TABLE public.email_audit (n integer);
	CREATE FUNCTION public.email_audit_fn() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN INSERT INTO public.email_audit VALUES (1); RETURN NULL; END\$\$;
	ALTER TABLE public.users ADD CONSTRAINT users_email_len CHECK (char_length(email) <= 255);
	ALTER TABLE public.users ADD CONSTRAINT users_email_or_anon CHECK (email <> '' OR name IS NULL);
	ALTER TABLE public.users ADD CONSTRAINT users_email_uq UNIQUE (email) DEFERRABLE INITIALLY DEFERRED;
	CREATE INDEX users_email_at ON public.users (email) WHERE email LIKE '%@%';
	CREATE INDEX users_email_domain ON public.users (split_part(email, '@', 2)) WITH (fillfactor = 80);
	COMMENT ON INDEX public.users_email_domain IS 'by domain';
	COMMENT ON COLUMN public.users.email IS 'where we write';
	GRANT SELECT (email) ON public.users TO \"$ROLE\";
	ALTER TABLE public.users ALTER COLUMN email SET STATISTICS 300;" >/dev/null
}
trigger() { # trigger COLUMN
	q "CREATE TRIGGER users_email_changed AFTER UPDATE OF $1 ON public.users
	  FOR EACH ROW EXECUTE FUNCTION public.email_audit_fn();" >/dev/null
}

# snapshot: every definition on users, one line each, sorted.
snapshot() {
	q "SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) || ' deferrable=' || condeferrable
	          || ' deferred=' || condeferred || ' valid=' || convalidated
	     FROM pg_constraint WHERE conrelid = 'public.users'::regclass
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid) || ' comment='
	          || coalesce(obj_description(i.indexrelid, 'pg_class'), '-')
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'public.users'::regclass
	   UNION ALL
	   SELECT 'trigger ' || tgname || ': ' || pg_get_triggerdef(oid) || ' enabled=' || tgenabled::text
	     FROM pg_trigger WHERE tgrelid = 'public.users'::regclass AND NOT tgisinternal
	   UNION ALL
	   SELECT 'column ' || attname || ': ' || format_type(atttypid, atttypmod) || ' notnull=' || attnotnull
	          || ' stats=' || attstattarget || ' comment=' || coalesce(col_description(attrelid, attnum), '-')
	          || ' acl=' || coalesce(attacl::text, '-')
	          || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE a.attrelid = 'public.users'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	   ORDER BY 1" "$@"
}

# The oracle: the same table and objects, changed by PostgreSQL in one go.
ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\"' >/dev/null 2>&1"
PGDATABASE=$ORACLE sm_mk_users 100
PGDATABASE=$ORACLE objects
PGDATABASE=$ORACLE q "ALTER TABLE public.users RENAME COLUMN email TO email_normalized;
	ALTER TABLE public.users ALTER COLUMN email_normalized TYPE text USING lower(email_normalized);" >/dev/null
# (PostgreSQL refuses to retype a column that a trigger names: the oracle's
# trigger is created afterwards, on the new column.)
PGDATABASE=$ORACLE trigger email_normalized
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"
# The grantor of a column privilege is the one who granted it: postgres here too.

sm_mk_users $N
objects
trigger email
sm_writers_setup
W=$src/tests/support/writers.sh

# check names every carried object before anything runs
assert_exit 0 ecplan check "$P"
for o in users_email_len users_email_or_anon users_email_uq users_email_at users_email_domain \
	users_email_changed "GRANT SELECT TO" "statistics target 300" "column comment" NOT\ NULL; do
	assert_contains "$(cat "$OUT")" "$o" "check lists $o"
done

bash "$W" old $NAME old1 2 0 $N >"$IT_TMP/old.out" 2>"$IT_TMP/old.err" &
opid=$!
bash "$W" new $NAME new1 2 1 $N >"$IT_TMP/new.out" 2>"$IT_TMP/new.err" &
npid=$!
it_defer "sm_writers_stop 2>/dev/null"
writes() { q "SELECT count(*) FROM it_write_log WHERE writer = '$1'"; }
wait_writes() { # wait_writes WRITER MORE_THAN: the log grows past MORE_THAN (120 s at most: a hang guard)
	for _ in $(seq 1 2400); do
		(($(writes "$1") > $2)) && return 0
		sleep 0.05
	done
	return 1
}
wait_writes old1 10 || fail "old code did not write before the plan started: $(cat "$IT_TMP/old.err")"
assert_exit 0 ecplan advance "$P" --to switch
wait_writes new1 0 || fail "new code did not write after sync: $(cat "$IT_TMP/new.err")"
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state $NAME)" "contracted under traffic"
orc=0
wait $opid || orc=$?
assert_eq 0 "$orc" "old-code writer exited 0 (stderr: $(cat "$IT_TMP/old.err"))"
sm_writers_stop
nrc=0
wait $npid || nrc=$?
assert_eq 0 "$nrc" "new-code writer exited 0 (stderr: $(cat "$IT_TMP/new.err"))"
assert_not_contains "$(cat "$IT_TMP/old.err" "$IT_TMP/new.err")" ERROR "writers had no errors"

# Every definition reads back as PostgreSQL's own rename + retype made it.
snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "schema after contract differs from PostgreSQL's own ALTER (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
# Every committed write is present.
assert_eq 0 "$(q "WITH last AS (SELECT DISTINCT ON (id) id, col, value FROM it_write_log ORDER BY id, seq DESC)
	SELECT count(*) FROM last l LEFT JOIN public.users u USING (id)
	WHERE u.id IS NULL OR u.email_normalized IS DISTINCT FROM
	      CASE WHEN l.col = 'email' THEN lower(l.value) ELSE l.value END")" \
	"every committed write is in email_normalized"
# (checked before the statements below, which write rows of their own)
# ... and they work: the trigger fires for the new column, the constraints hold.
before=$(q "SELECT count(*) FROM public.email_audit")
q "UPDATE public.users SET email_normalized = 'changed@x.example' WHERE id = 1" >/dev/null
assert_eq "$((before + 1))" "$(q "SELECT count(*) FROM public.email_audit")" "UPDATE OF trigger fires for the new column"
assert_exit 3 q "UPDATE public.users SET email_normalized = repeat('x', 300) WHERE id = 2"
assert_contains "$(cat "$ERR")" "users_email_len" "the carried CHECK is enforced"

pass
