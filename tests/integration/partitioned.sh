#!/usr/bin/env bash
# A change on a partitioned table, with writers.
#
# events (PARTITION BY RANGE (at), three partitions) renames name -> label. The
# column carries a plain index and a partial expression index (rebuilt the
# PostgreSQL way: CREATE INDEX ... ON ONLY the table, CREATE INDEX CONCURRENTLY on
# each partition, ALTER INDEX ... ATTACH PARTITION), NOT NULL (through the
# partitions' validated CHECK), a CHECK constraint, an index comment and a
# trigger UPDATE OF name. An old-code writer inserts and updates rows in every
# partition until contract; the sync trigger (on the table, so on every
# partition) keeps both columns in agreement.
#
# The oracle is PostgreSQL's own RENAME COLUMN in a second database: every
# definition of the table and of its partitions must read back the same,
# partition index names included. Rolling back from backfill leaves no index
# behind. What ecplan cannot do on a partitioned table is refused before
# anything changes: a unique constraint, a foreign key from the column, the
# partition key, a sub-partitioned partition.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

mk() { # the table, its partitions and the objects around name
	q "CREATE TABLE public.events (
	    id    bigint NOT NULL,
	    at    date NOT NULL,
	    name  text NOT NULL CHECK (name <> ''),
	    note  text,
	    PRIMARY KEY (id, at)
	) PARTITION BY RANGE (at);
	CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
	CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	CREATE TABLE public.events_rest PARTITION OF public.events DEFAULT;
	CREATE INDEX events_name_idx ON public.events (name);
	CREATE INDEX events_lower_idx ON public.events (lower(name)) WHERE note IS NULL;
	COMMENT ON INDEX public.events_name_idx IS 'by name';
	CREATE TABLE public.name_log (n integer);
	CREATE FUNCTION public.name_log_fn() RETURNS trigger LANGUAGE plpgsql AS
	  \$\$BEGIN INSERT INTO public.name_log VALUES (1); RETURN NULL; END\$\$;
	INSERT INTO public.events SELECT g, date '2024-03-01' + (g % 900), 'Event ' || g
	  FROM generate_series(1, $1) g;" >/dev/null
}
trigger() { # trigger COLUMN
	q "CREATE TRIGGER events_name_changed AFTER UPDATE OF $1 ON public.events
	   FOR EACH ROW EXECUTE FUNCTION public.name_log_fn()" >/dev/null
}
snapshot() {
	q "SELECT 'constraint ' || r.relname || '.' || conname || ': ' || pg_get_constraintdef(c.oid)
	     FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
	    WHERE r.relname LIKE 'events%' AND r.relnamespace = 'public'::regnamespace
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
	          || ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '-')
	          || ' parent=' || coalesce((SELECT p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
	                                     WHERE h.inhrelid = i.indexrelid), '-')
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
	    WHERE t.relname LIKE 'events%' AND t.relnamespace = 'public'::regnamespace
	   UNION ALL
	   SELECT 'trigger ' || r.relname || '.' || tgname || ': ' || pg_get_triggerdef(t.oid)
	     FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid WHERE r.relname LIKE 'events%' AND r.relnamespace = 'public'::regnamespace AND NOT tgisinternal
	   UNION ALL
	   SELECT 'column ' || r.relname || '.' || attname || ': ' || format_type(atttypid, atttypmod)
	          || ' notnull=' || attnotnull
	     FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
	    WHERE r.relname LIKE 'events%' AND r.relnamespace = 'public'::regnamespace AND r.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
	   ORDER BY 1"
}

ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\"' >/dev/null 2>&1"
PGDATABASE=$ORACLE mk 10
PGDATABASE=$ORACLE q "ALTER TABLE public.events RENAME COLUMN name TO label" >/dev/null
PGDATABASE=$ORACLE trigger label
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"

N=6000
mk $N
trigger name
sm_writers_setup
P=$IT_TMP/plan.json
cat >"$P" <<'EOF'
{ "format": "ecplan/v1", "name": "events-label", "table": "public.events",
  "change": { "column": "name", "new_column": "label" },
  "backfill": { "batch_size": 500 } }
EOF

# The old-code writer: inserts into every partition and renames rows, until
# contract begins; each committed write is logged in its own transaction.
writer() {
	local k
	for ((k = 1; k <= 100000; k++)); do
		printf "BEGIN;\nSELECT count(*) FROM public.events WHERE id = 1 \\\\gset\n"
		printf "SELECT public.it_old_code_ok('events-label') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
		printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
		printf "INSERT INTO public.events VALUES (%d, date '2024-01-01' + %d, 'New %d');\n" $((N + k)) $((k * 37 % 1000)) "$k"
		printf "UPDATE public.events SET name = 'Renamed %d' WHERE id = %d;\n" "$k" $((k * 13 % N + 1))
		printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'update', %d, 'name', 'Renamed %d');\n" $((k * 13 % N + 1)) "$k"
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

# Rolling back from backfill leaves no index behind.
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq 8 "$(q "SELECT count(*) FROM pg_class WHERE relkind IN ('i', 'I') AND relname LIKE 'events%ecplan'")" \
	"backfill built each of the two indexes on the table and on its three partitions"
assert_eq 0 "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE c.relname LIKE 'events%ecplan' AND NOT i.indisvalid")" "every copy is valid (all partitions attached)"
assert_exit 0 ecplan rollback "$P" --to synced
assert_eq 0 "$(q "SELECT count(*) FROM pg_class WHERE relkind IN ('i', 'I') AND relname LIKE '%ecplan%'")" \
	"undoing backfill drops every copy"
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state events-label)" "contracted under traffic"
wrc=0
wait $wpid || wrc=$?
assert_eq 0 "$wrc" "the writer exited 0 (stderr: $(cat "$IT_TMP/w.err"))"
assert_not_contains "$(cat "$IT_TMP/w.err")" ERROR "the writer had no errors"

snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "partitioned schema after contract differs from PostgreSQL's own RENAME (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
assert_eq 0 "$(q "WITH last AS (SELECT DISTINCT ON (id) id, value FROM it_write_log ORDER BY id, seq DESC)
	SELECT count(*) FROM last l LEFT JOIN public.events e USING (id) WHERE e.label IS DISTINCT FROM l.value")" \
	"every committed write is in label"
assert_eq 0 "$(q "SELECT count(*) FROM public.events WHERE label IS NULL")" "no row left unfilled"
assert_eq "$((N + $(q "SELECT count(*) FROM it_write_log")))" "$(q "SELECT count(*) FROM public.events")" \
	"no row lost (one insert per logged write)"

# Refused before anything changes.
refuse() { # refuse SQL COLUMN WHAT
	q "$1" >/dev/null
	printf '{"format": "ecplan/v1", "name": "refuse-%s", "table": "public.events",
	  "change": {"column": "%s", "new_column": "%s_new"}}\n' "$2" "$2" "$2" >"$IT_TMP/r.json"
	assert_exit 3 ecplan check "$IT_TMP/r.json"
	assert_contains "$(cat "$OUT")" "$3" "refused: $3"
	assert_exit 3 ecplan advance "$IT_TMP/r.json"
	assert_eq 0 "$(sm_col_exists public.events "${2}_new")" "refused: nothing added for $3"
}
refuse "ALTER TABLE public.events ADD CONSTRAINT events_note_key UNIQUE (note, at)" note "events_note_key"
refuse "SELECT 1" at "partition key"
refuse "CREATE TABLE public.codes (code text PRIMARY KEY); INSERT INTO public.codes SELECT DISTINCT label FROM public.events;
	ALTER TABLE public.events ADD CONSTRAINT events_label_fk FOREIGN KEY (label) REFERENCES public.codes (code)" label "events_label_fk"
pass
