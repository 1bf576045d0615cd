#!/usr/bin/env bash
# Support for the state-machine integration tests (tests/integration/sm_*.sh):
# table fixtures, plan editing, catalog probes, and application-like writers.
#
# Sourced (after tests/integration/lib.sh, which provides q/ecplan/fail):
#   source "$ECPLAN_SOURCE_DIR/tests/support/writers.sh"
# defines the sm_* functions below.
#
# Executed, it runs one writer (see "Writers" at the end):
#   writers.sh old PLAN TAG MOD REM NROWS     old code: UPDATE/INSERT email
#   writers.sh new PLAN TAG MOD REM NROWS     new code: UPDATE/INSERT email_normalized
#   writers.sh timed-updates STOPFILE SLEEP_S single-row UPDATEs of users.name
#                                             until STOPFILE exists; prints each
#                                             one's latency in ms
# Writers use only psql (PG* from the environment) and stop when
# public.it_writer_ctl.stop is true (old code also stops once the plan's
# contract has begun: old code is gone by then). Every committed write is
# logged in public.it_write_log in the same transaction as the write itself,
# so the log holds exactly the committed writes.

# The interpreter itself, resolved once: version-manager shims (pyenv) cost
# ~0.1 s per start, and the tests run python hundreds of times.
SM_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || SM_PY=python3
[[ -x "$SM_PY" ]] || SM_PY=python3

# ---------------------------------------------------------------------------
# Fixtures: the tables of plans/README.md, with N rows and an index on the
# column each example plan changes.

# sm_mk_users N: public.users as in plans/README.md, plus users_name_idx on
# name (users_email_key, the unique index on email, is in the README).
sm_mk_users() {
	local n=$1
	q "CREATE TABLE public.users (
	    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	    email       varchar(255) NOT NULL,
	    name        text,
	    created_at  timestamptz NOT NULL DEFAULT now(),
	    updated_at  timestamptz NOT NULL DEFAULT now()
	);
	CREATE UNIQUE INDEX users_email_key ON public.users (email);
	CREATE INDEX users_name_idx ON public.users (name);
	INSERT INTO public.users (email, name)
	SELECT 'User' || g || '@Example.COM', 'User ' || g FROM generate_series(1, $n) AS g;
	VACUUM ANALYZE public.users;" >/dev/null
}

# sm_mk_orders N: public.orders, plus orders_quantity_idx on quantity.
sm_mk_orders() {
	local n=$1
	q "CREATE TABLE public.orders (
	    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	    customer_id  bigint NOT NULL,
	    sku          text NOT NULL,
	    quantity     integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
	    unit_cents   bigint NOT NULL,
	    created_at   timestamptz NOT NULL DEFAULT now()
	);
	CREATE INDEX orders_customer_id_idx ON public.orders (customer_id);
	CREATE INDEX orders_quantity_idx ON public.orders (quantity);
	INSERT INTO public.orders (customer_id, sku, quantity, unit_cents)
	SELECT g % 5000, 'SKU-' || (g % 700), 1 + g % 12, 100 + g % 9900
	FROM generate_series(1, $n) AS g;
	VACUUM ANALYZE public.orders;" >/dev/null
}

# sm_mk_products N: public.products, plus products_price_idx on price.
sm_mk_products() {
	local n=$1
	q "CREATE TABLE public.products (
	    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	    sku         text NOT NULL UNIQUE,
	    title       text NOT NULL,
	    price       double precision NOT NULL,
	    created_at  timestamptz NOT NULL DEFAULT now()
	);
	CREATE INDEX products_price_idx ON public.products (price);
	INSERT INTO public.products (sku, title, price)
	SELECT 'SKU-' || g, 'Product ' || g, round((random() * 500)::numeric, 4)::float8
	FROM generate_series(1, $n) AS g;
	VACUUM ANALYZE public.products;" >/dev/null
}

# sm_mk_weird N: "My Schema"."Weird ""Table""", plus a unique constraint
# "Weird ""uniq""" on "naïve col".
sm_mk_weird() {
	local n=$1
	q "CREATE SCHEMA \"My Schema\";
	CREATE TABLE \"My Schema\".\"Weird \"\"Table\"\"\" (
	    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	    \"naïve col\" varchar(40),
	    created_at  timestamptz NOT NULL DEFAULT now()
	);
	ALTER TABLE \"My Schema\".\"Weird \"\"Table\"\"\" ADD CONSTRAINT \"Weird \"\"uniq\"\"\" UNIQUE (\"naïve col\");
	INSERT INTO \"My Schema\".\"Weird \"\"Table\"\"\" (\"naïve col\")
	SELECT 'Value ' || g FROM generate_series(1, $n) AS g;
	VACUUM ANALYZE \"My Schema\".\"Weird \"\"Table\"\"\";" >/dev/null
}

# sm_extra_db SUFFIX: creates database "${IT_DB}_SUFFIX" (dropped at exit) and
# prints its name. Use as PGDATABASE=$(sm_extra_db x) ... for one command.
sm_extra_db() {
	local db="${IT_DB}_$1"
	PGDATABASE=postgres q "CREATE DATABASE \"$db\"" >/dev/null
	it_defer "PGDATABASE=postgres psql -XAtq -c 'DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)' >/dev/null"
	echo "$db"
}

# ---------------------------------------------------------------------------
# Plans

# sm_plan SRC DST [PATH=JSON ...]: copies plan SRC to DST, setting each dotted
# PATH (e.g. backfill.batch_size) to the JSON value given (name='"x"',
# backfill.batch_size=500, webhooks=null deletes the key).
sm_plan() {
	local src=$1 dst=$2
	shift 2
	"$SM_PY" - "$src" "$dst" "$@" <<'PY'
import json, sys
src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(src, encoding="utf-8") as f:
    plan = json.load(f)
for e in edits:
    path, _, value = e.partition("=")
    keys = path.split(".")
    obj = plan
    for k in keys[:-1]:
        obj = obj.setdefault(k, {})
    v = json.loads(value)
    if v is None and keys[-1] in ("webhooks", "checks", "contract", "backfill", "safety"):
        obj.pop(keys[-1], None)
    else:
        obj[keys[-1]] = v
with open(dst, "w", encoding="utf-8") as f:
    json.dump(plan, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY
}

# ---------------------------------------------------------------------------
# State and catalog probes (all read the database directly, never ecplan).

# sm_state NAME: ecplan.plans.state of plan NAME ("" when not registered).
sm_state() {
	q "SELECT state FROM ecplan.plans WHERE name = :'n'" -v n="$1"
}

# sm_col_exists TABLE COLUMN: 1 or 0. TABLE is SQL text for regclass.
sm_col_exists() {
	q "SELECT count(*) FROM pg_attribute WHERE attrelid = :'t'::regclass AND attname = :'c'
	   AND attnum > 0 AND NOT attisdropped" -v t="$1" -v c="$2"
}

# sm_col_type TABLE COLUMN: format_type of the column.
sm_col_type() {
	q "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = :'t'::regclass
	   AND attname = :'c' AND NOT attisdropped" -v t="$1" -v c="$2"
}

# sm_col_notnull TABLE COLUMN: t or f.
sm_col_notnull() {
	q "SELECT attnotnull FROM pg_attribute WHERE attrelid = :'t'::regclass
	   AND attname = :'c' AND NOT attisdropped" -v t="$1" -v c="$2"
}

# sm_trigger_exists TABLE TRIGGER: 1 or 0 (enabled, non-internal).
sm_trigger_exists() {
	q "SELECT count(*) FROM pg_trigger WHERE tgrelid = :'t'::regclass AND tgname = :'g'
	   AND NOT tgisinternal AND tgenabled <> 'D'" -v t="$1" -v g="$2"
}

# sm_function_exists SCHEMA NAME: number of functions of that name in SCHEMA.
sm_function_exists() {
	q "SELECT count(*) FROM pg_proc WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = :'s')
	   AND proname = :'f'" -v s="$1" -v f="$2"
}

# sm_index_info SCHEMA INDEX: "valid|unique|column list" of the index, "" when absent.
sm_index_info() {
	q "SELECT i.indisvalid || '|' || i.indisunique || '|' ||
	          (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(att, ord)
	           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att)
	   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	   WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :'s') AND c.relname = :'i'" \
		-v s="$1" -v i="$2"
}

# sm_check_constraint TABLE NAME: "validated" t/f of the CHECK constraint, "" when absent.
sm_check_constraint() {
	q "SELECT convalidated FROM pg_constraint WHERE conrelid = :'t'::regclass AND conname = :'n'
	   AND contype = 'c'" -v t="$1" -v n="$2"
}

# sm_catalog TABLE: a text snapshot of everything ecplan may touch on TABLE
# (columns with type/not null/default/comment, indexes with definition and
# validity, constraints, user triggers, and functions in the table's schema),
# for comparing before and after.
sm_catalog() {
	q "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	   SELECT 'column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
	          || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	          || ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '-') AS x
	     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE a.attrelid = :'t'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	   UNION ALL
	   SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid || ' ready=' || i.indisready
	     FROM pg_index i WHERE i.indrelid = :'t'::regclass
	   UNION ALL
	   SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) || ' validated=' || convalidated
	     FROM pg_constraint WHERE conrelid = :'t'::regclass
	   UNION ALL
	   SELECT 'trigger ' || tgname || ' enabled=' || tgenabled::text FROM pg_trigger
	    WHERE tgrelid = :'t'::regclass AND NOT tgisinternal
	   UNION ALL
	   SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
	    WHERE p.pronamespace = (SELECT relnamespace FROM pg_class WHERE oid = :'t'::regclass)
	   UNION ALL
	   SELECT 'table comment=' || coalesce(obj_description(:'t'::regclass, 'pg_class'), '-')
	   ) s" -v t="$1"
}

# sm_json FILE EXPR: evaluates the python expression EXPR with d = the JSON in
# FILE and prints the result (json.dumps for non-strings). Fails when FILE is
# not JSON.
sm_json() {
	"$SM_PY" - "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
r = eval(sys.argv[2], {"d": d})
print(r if isinstance(r, str) else json.dumps(r))
PY
}

# sm_check_status_json FILE NAME STATE NEXT: checks the fields of a
# `status --json` object for plan NAME; NEXT is a phase or "null". Prints
# problems on stdout (nothing when all is well).
sm_check_status_json() {
	"$SM_PY" - "$@" <<'PY'
import json, re, sys
path, name, state, nxt = sys.argv[1:5]
problems = []
try:
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
except Exception as e:  # noqa: BLE001
    print(f"not JSON: {e}")
    sys.exit(0)
if isinstance(d, list):
    d = [x for x in d if isinstance(x, dict) and x.get("name") == name]
    if len(d) != 1:
        print(f"array has {len(d)} objects named {name}")
        sys.exit(0)
    d = d[0]
if not isinstance(d, dict):
    print(f"not an object: {type(d).__name__}")
    sys.exit(0)
def want(key, types):
    if key not in d:
        problems.append(f"missing field {key}")
        return None
    if not isinstance(d[key], types) or isinstance(d[key], bool):
        problems.append(f"field {key} has type {type(d[key]).__name__}: {d[key]!r}")
    return d[key]
num = (int, float)
if want("name", str) != name:
    problems.append(f"name is {d.get('name')!r}, expected {name!r}")
want("table", str)
want("column", str)
want("new_column", str)
if want("phase", str) != state:
    problems.append(f"phase is {d.get('phase')!r}, expected {state!r}")
if "next" not in d:
    problems.append("missing field next")
elif nxt == "null":
    if d["next"] is not None:
        problems.append(f"next is {d['next']!r}, expected null")
elif d["next"] != nxt:
    problems.append(f"next is {d['next']!r}, expected {nxt!r}")
if "running" not in d or not isinstance(d["running"], bool):
    problems.append(f"running missing or not a boolean: {d.get('running')!r}")
bf = d.get("backfill")
if not isinstance(bf, dict):
    problems.append(f"backfill is not an object: {bf!r}")
else:
    for k in ("rows_done", "rows_total", "percent", "rows_per_second", "eta_seconds"):
        if k not in bf:
            problems.append(f"missing field backfill.{k}")
        elif bf[k] is not None and (isinstance(bf[k], bool) or not isinstance(bf[k], num)):
            problems.append(f"backfill.{k} is not a number or null: {bf[k]!r}")
pw = d.get("pending_webhooks", "missing")
if isinstance(pw, bool) or not isinstance(pw, int):
    problems.append(f"pending_webhooks is not an integer: {pw!r}")
if "last_error" not in d or not (d["last_error"] is None or isinstance(d["last_error"], str)):
    problems.append(f"last_error missing or not null/text: {d.get('last_error', 'missing')!r}")
ua = d.get("updated_at")
if not isinstance(ua, str) or not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:?\d\d)?)$", ua):
    problems.append(f"updated_at is not ISO 8601: {ua!r}")
for p in problems:
    print(p)
PY
}

# sm_wait_no_runner [SECONDS]: waits (default 5 s) until no session holds an
# advisory lock and no application_name=ecplan session is left in this
# database; returns 1 on timeout.
sm_wait_no_runner() {
	local limit=${1:-5} i n
	for ((i = 0; i < limit * 10; i++)); do
		n=$(q "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		                AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
		            + (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan'
		                AND datname = current_database())")
		[[ "$n" == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}

# sm_rand_sleep MIN MAX: sleeps a random time in [MIN, MAX] seconds.
sm_rand_sleep() {
	sleep "$("$SM_PY" -c "import random; print(round(random.uniform($1, $2), 3))")"
}

# ---------------------------------------------------------------------------
# Writers: application-like sessions for users-email-lower style plans.

# sm_writers_setup: creates the write log, the control table and the helper
# functions the writers use, in the current database.
sm_writers_setup() {
	q "CREATE TABLE public.it_write_log (
	    seq bigserial PRIMARY KEY,
	    writer text NOT NULL,
	    op text NOT NULL,
	    id bigint NOT NULL,
	    col text NOT NULL,
	    value text NOT NULL,
	    at timestamptz NOT NULL DEFAULT clock_timestamp());
	CREATE TABLE public.it_writer_ctl (stop boolean NOT NULL);
	INSERT INTO public.it_writer_ctl VALUES (false);
	-- Old code may write while the plan is before contract. Reads ecplan's
	-- state with a fresh snapshot (the schema may not exist yet).
	CREATE FUNCTION public.it_old_code_ok(p text) RETURNS boolean LANGUAGE plpgsql AS \$\$
	DECLARE s text; rp text;
	BEGIN
	  IF to_regclass('ecplan.plans') IS NULL THEN RETURN true; END IF;
	  EXECUTE 'SELECT state, running_phase FROM ecplan.plans WHERE name = \$1' INTO s, rp USING p;
	  RETURN coalesce(s, 'planned') IN ('planned', 'expanded', 'synced', 'backfilled', 'switched')
	         AND rp IS DISTINCT FROM 'contract';
	END \$\$;
	-- New code is deployed once the sync trigger is in place.
	CREATE FUNCTION public.it_new_code_ok(p text) RETURNS boolean LANGUAGE plpgsql AS \$\$
	DECLARE s text; rp text;
	BEGIN
	  IF to_regclass('ecplan.plans') IS NULL THEN RETURN false; END IF;
	  EXECUTE 'SELECT state, running_phase FROM ecplan.plans WHERE name = \$1' INTO s, rp USING p;
	  RETURN s IN ('synced', 'backfilled', 'switched', 'contracted')
	         OR rp IN ('backfill', 'switch', 'contract');
	END \$\$;" >/dev/null
}

# sm_writers_stop: tells every writer to stop after its current write.
sm_writers_stop() {
	q "UPDATE public.it_writer_ctl SET stop = true" >/dev/null
}

# --- executed part ---------------------------------------------------------

_sm_writer_script() {
	# Prints the writer's psql script on stdout, forever (psql stops reading
	# when the script says \q; this generator then dies of SIGPIPE).
	local role=$1 plan=$2 tag=$3 mod=$4 rem=$5 nrows=$6 k=0 id val
	local planlit=${plan//\'/\'\'}
	printf '\\set ON_ERROR_STOP 1\n\\set QUIET 1\nSET application_name = %s;\n' "'it-writer-$tag'"
	while :; do
		k=$((k + 1))
		# An id of this writer's partition (id % mod = rem) within 1..nrows.
		id=$(((RANDOM * 32768 + RANDOM) % nrows + 1))
		id=$((id - (id % mod) + rem))
		((id < 1)) && id=$((id + mod))
		((id > nrows)) && id=$((id - mod))
		if [[ $role == old ]]; then
			val="o-$tag-$k@Old.Example"
			# ACCESS SHARE on users first: contract cannot drop the old column
			# between the state check and the write.
			printf 'BEGIN;\nSELECT count(*) AS it_lock FROM public.users WHERE id = %d \\gset\n' "$id"
			printf "SELECT public.it_old_code_ok('%s') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\gset\n" "$planlit"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			if ((k % 5 == 0)); then
				printf "INSERT INTO public.users (email, name) VALUES ('%s', '%s') RETURNING id AS new_id \\gset\n" "$val" "$tag"
				printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('%s', 'insert', :new_id, 'email', '%s');\n" "$tag" "$val"
			else
				printf "UPDATE public.users SET email = '%s' WHERE id = %d;\n" "$val" "$id"
				printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('%s', 'update', %d, 'email', '%s');\n" "$tag" "$id" "$val"
			fi
			printf 'COMMIT;\n\\else\nROLLBACK;\n\\q\n\\endif\n'
		else
			val="n-$tag-$k@New.Example"
			printf "BEGIN;\nSELECT public.it_new_code_ok('%s') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\gset\n" "$planlit"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			if ((k % 5 == 0)); then
				printf "INSERT INTO public.users (email_normalized, name) VALUES ('%s', '%s') RETURNING id AS new_id \\gset\n" "$val" "$tag"
				printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('%s', 'insert', :new_id, 'email_normalized', '%s');\n" "$tag" "$val"
			else
				printf "UPDATE public.users SET email_normalized = '%s' WHERE id = %d;\n" "$val" "$id"
				printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('%s', 'update', %d, 'email_normalized', '%s');\n" "$tag" "$id" "$val"
			fi
			printf 'COMMIT;\n\\else\nROLLBACK;\nSELECT pg_sleep(0.02) \\gset\n\\endif\n'
		fi
		printf 'SELECT pg_sleep(0.002) \\gset\n'
	done
}

_sm_timed_updates() {
	# One UPDATE every SLEEP_S seconds (paced here, so psql never has more than
	# a statement or two queued) until STOPFILE exists; prints each UPDATE's
	# latency in ms, as psql's \timing measured it. Each UPDATE runs with
	# lock_timeout 30 s: an UPDATE queued that long behind ecplan's DDL fails
	# (and the writer exits non-zero), a bound the server enforces, far above
	# any plan's lock_timeout_ms and independent of the machine's load.
	local stopfile=$1 pause=$2 i id
	{
		printf "SET lock_timeout = '30s';\n"
		printf '\\timing on\n'
		for ((i = 1; i <= 100000; i++)); do
			[[ -e "$stopfile" ]] && break
			id=$((RANDOM % 1000 + 1))
			printf 'UPDATE public.users SET name = name WHERE id = %d;\n' "$id"
			sleep "$pause"
		done
	} | psql -X -At -v ON_ERROR_STOP=1 | awk '/^UPDATE / { u = 1; next } u && /^Time:/ { print $2; u = 0; fflush() }'
	return "${PIPESTATUS[1]}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -uo pipefail
	case ${1:-} in
	old | new)
		[[ $# -eq 6 ]] || { echo "usage: $0 old|new PLAN TAG MOD REM NROWS" >&2; exit 2; }
		_sm_writer_script "$@" | psql -X -q
		rc=${PIPESTATUS[1]}
		exit "$rc"
		;;
	timed-updates)
		[[ $# -eq 3 ]] || { echo "usage: $0 timed-updates STOPFILE SLEEP_S" >&2; exit 2; }
		_sm_timed_updates "$2" "$3"
		exit $?
		;;
	*)
		echo "usage: $0 old|new PLAN TAG MOD REM NROWS | timed-updates STOPFILE SLEEP_S" >&2
		exit 2
		;;
	esac
fi

# An old-code and a new-code writer, each the script the scenario's own
# `writer old` / `writer new` prints, piped into psql in the background
# (outputs in $IT_TMP/wo.* and wn.*).
sm_writer_pair_start() {
	q "UPDATE public.it_writer_ctl SET stop = false" >/dev/null
	writer old | psql -X -q -v ON_ERROR_STOP=1 >"$IT_TMP/wo.out" 2>"$IT_TMP/wo.err" &
	wo=$!
	writer new | psql -X -q -v ON_ERROR_STOP=1 >"$IT_TMP/wn.out" 2>"$IT_TMP/wn.err" &
	wn=$!
}
# Stops both and fails unless each ended cleanly without an error. psql ends
# at \q; the script generator feeding it then dies of SIGPIPE (141).
sm_writer_pair_stop() {
	sm_writers_stop
	local rc w
	for w in wo wn; do
		rc=0
		wait "${!w}" || rc=$?
		((rc == 0 || rc == 141)) || fail "the $w writer exited $rc (stderr: $(cat "$IT_TMP/$w.err"))"
		assert_eq "" "$(cat "$IT_TMP/$w.err")" "the $w writer had no error"
	done
}
