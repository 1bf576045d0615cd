/*
 * The state store in schema ecplan of the target database. Every value goes
 * through query parameters; the schema's DDL is fixed text.
 */
#include "ecplan/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecplan/db.h"
#include "ecplan/render.h"
#include "ecplan/strbuf.h"
#include "ecplan/webhook.h"

/* Migrations, applied in order; never edit one that has shipped. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE ecplan.plans ("
	"  name text PRIMARY KEY,"
	"  plan_json text NOT NULL,"
	"  sha256 text NOT NULL,"
	"  state text NOT NULL DEFAULT 'planned',"
	"  running_phase text,"
	"  rolling_back boolean NOT NULL DEFAULT false,"
	"  step integer NOT NULL DEFAULT 0,"
	"  attempts integer[] NOT NULL DEFAULT '{0,0,0,0,0}',"
	"  rollback_attempts integer NOT NULL DEFAULT 0,"
	"  failures integer NOT NULL DEFAULT 0,"
	"  cursor text[],"
	"  rows_done bigint NOT NULL DEFAULT 0,"
	"  rows_total bigint NOT NULL DEFAULT -1,"
	"  backfill_seconds double precision NOT NULL DEFAULT 0,"
	"  switched_at timestamptz,"
	"  last_error text,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  updated_at timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE ecplan.events ("
	"  id bigserial PRIMARY KEY,"
	"  plan text NOT NULL,"
	"  at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  kind text NOT NULL,"
	"  phase text,"
	"  message text NOT NULL,"
	"  data jsonb);"
	"CREATE INDEX events_plan_idx ON ecplan.events (plan, id);"
	"CREATE TABLE ecplan.deliveries ("
	"  id text PRIMARY KEY,"
	"  plan text NOT NULL,"
	"  event text NOT NULL,"
	"  webhook text NOT NULL,"
	"  phase_attempt integer NOT NULL,"
	"  gate boolean NOT NULL,"
	"  delivered boolean NOT NULL DEFAULT false,"
	"  attempts integer NOT NULL DEFAULT 0,"
	"  last_status integer,"
	"  last_error text,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  UNIQUE (plan, event, webhook, phase_attempt));",
	/* 2: the value settings (DateStyle, ...) the cursor's text was written
	 * under; NULL for a cursor saved by a release before 2 */
	"ALTER TABLE ecplan.plans ADD COLUMN cursor_settings text;",
	/* 3: pause/resume and throttling (ecplan pause, backfill.throttle) */
	"ALTER TABLE ecplan.plans ADD COLUMN paused boolean NOT NULL DEFAULT false,"
	" ADD COLUMN throttled text,"
	" ADD COLUMN throttled_seconds double precision NOT NULL DEFAULT 0;",
	/* 4: the key ranges of a parallel backfill (backfill.workers, ranges.h),
	 * per backfill step, each with its own cursor */
	"CREATE TABLE ecplan.backfill_ranges ("
	"  plan text NOT NULL,"
	"  step integer NOT NULL,"
	"  range integer NOT NULL,"
	"  lower text[],"
	"  upper text[],"
	"  cursor text[],"
	"  cursor_settings text,"
	"  rows_done bigint NOT NULL DEFAULT 0,"
	"  done boolean NOT NULL DEFAULT false,"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (plan, step, range));"
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int ecplan_state_schema_exists(PGconn *conn, bool *out, ecplan_error *err)
{
	char *v = NULL;
	int rc = ecplan_db_query_value(&v, conn,
		"SELECT (to_regclass('ecplan.schema_version') IS NOT NULL)::text", 0, NULL, err);
	*out = rc == 0 && v && !strcmp(v, "true");
	free(v);
	return rc;
}

int ecplan_state_schema_version(int *out, PGconn *conn, ecplan_error *err)
{
	char *v = NULL;
	bool exists = false;
	int rc;
	*out = -1;
	if ((rc = ecplan_state_schema_exists(conn, &exists, err)) < 0 || !exists)
		return rc;
	if ((rc = ecplan_db_query_value(&v, conn,
		"SELECT coalesce(max(version), 0)::text FROM ecplan.schema_version", 0, NULL, err)) < 0)
		return rc;
	*out = v ? atoi(v) : 0;
	free(v);
	return 0;
}

/* Creates the schema when missing and applies the missing migrations, under
 * a transaction-level advisory lock; every check reads the catalog after the
 * lock is granted, so concurrent first runs never collide. */
static int migrate(PGconn *conn, ecplan_error *err)
{
	char *v = NULL;
	int rc;
	if ((rc = ecplan_db_begin(conn, err)) < 0)
		return rc;
	/* Serialise concurrent first runs; released at commit. Each statement
	 * after the lock takes a new snapshot, so it sees what the holder
	 * committed. CREATE SCHEMA only when missing: CREATE SCHEMA IF NOT EXISTS
	 * needs CREATE on the database even when the schema exists. */
	if ((rc = ecplan_db_exec(conn,
		"SELECT pg_advisory_xact_lock(hashtextextended('ecplan:schema', 0))", err)) < 0 ||
	    (rc = ecplan_db_query_value(&v, conn,
		"SELECT count(*)::text FROM pg_catalog.pg_namespace WHERE nspname = 'ecplan'", 0, NULL, err)) < 0)
		goto fail;
	if (v && !strcmp(v, "0") && (rc = ecplan_db_exec(conn, "CREATE SCHEMA ecplan", err)) < 0)
		goto fail;
	free(v);
	v = NULL;
	if ((rc = ecplan_db_query_value(&v, conn,
		"SELECT count(*)::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
		" ON n.oid = c.relnamespace WHERE n.nspname = 'ecplan' AND c.relname = 'schema_version'",
		0, NULL, err)) < 0)
		goto fail;
	if (v && !strcmp(v, "0") &&
	    (rc = ecplan_db_exec(conn, "CREATE TABLE ecplan.schema_version ("
		"  version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", err)) < 0)
		goto fail;
	free(v);
	v = NULL;
	if ((rc = ecplan_db_query_value(&v, conn,
		"SELECT coalesce(max(version), 0)::text FROM ecplan.schema_version", 0, NULL, err)) < 0)
		goto fail;
	int have = atoi(v);
	free(v);
	v = NULL;
	if (have > NMIGRATIONS) {
		rc = ecplan_error_set(err, ECPLAN_EIMPOSSIBLE,
			"the ecplan schema is version %d, newer than this ecplan (%d)", have, NMIGRATIONS);
		ecplan_error_hint(err, "upgrade ecplan to the release that wrote this database");
		goto fail;
	}
	for (int i = have; i < NMIGRATIONS; i++) {
		char num[16];
		const char *params[1] = { num };
		snprintf(num, sizeof(num), "%d", i + 1);
		if ((rc = ecplan_db_exec(conn, migrations[i], err)) < 0 ||
		    (rc = ecplan_db_query(NULL, conn, "INSERT INTO ecplan.schema_version (version) VALUES ($1::int)",
					  1, params, err)) < 0)
			goto fail;
	}
	return ecplan_db_commit(conn, err);
fail:
	free(v);
	if (err && ecplan_db_error_is(err, "42501"))
		ecplan_error_hint(err, "schema ecplan must be created or upgraded to version %d, which this role "
				  "may not do: run \"ecplan init\" as its owner or an admin (\"ecplan init "
				  "--print-sql\" prints the SQL and the GRANTs a table owner needs)", NMIGRATIONS);
	ecplan_db_rollback(conn, NULL);
	return rc;
}

int ecplan_state_ensure_schema(PGconn *conn, ecplan_error *err)
{
	int have, rc;
	/* Read first: when the schema is there and current, nothing is created
	 * or locked, and the role needs no privilege beyond using the tables. */
	if ((rc = ecplan_state_schema_version(&have, conn, err)) < 0)
		return rc;
	if (have == NMIGRATIONS)
		return 0;
	if (have > NMIGRATIONS) {
		ecplan_error_set(err, ECPLAN_EIMPOSSIBLE,
			"the ecplan schema is version %d, newer than this ecplan (%d)", have, NMIGRATIONS);
		ecplan_error_hint(err, "upgrade ecplan to the release that wrote this database");
		return ECPLAN_EIMPOSSIBLE;
	}
	return migrate(conn, err);
}

int ecplan_state_init(PGconn *conn, ecplan_error *err)
{
	int rc;
	if ((rc = ecplan_state_ensure_schema(conn, err)) < 0)
		return rc;
	return ecplan_db_exec(conn, ECPLAN_ARCHIVE_SCHEMA_SQL, err);
}

char *ecplan_state_init_sql(void)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "BEGIN;\nCREATE SCHEMA IF NOT EXISTS ecplan;\n"
			   "CREATE TABLE IF NOT EXISTS ecplan.schema_version ("
			   "  version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n");
	for (int i = 0; i < NMIGRATIONS; i++) {
		/* Each migration once: DO blocks keyed on the recorded version. */
		ecplan_strbuf_addf(&sb, "DO $ecplan_init$BEGIN IF NOT EXISTS (SELECT FROM ecplan.schema_version"
				   " WHERE version = %d) THEN\n  ", i + 1);
		for (const char *p = migrations[i]; *p; p++) {
			ecplan_strbuf_addch(&sb, *p);
			if (*p == ';' && p[1])
				ecplan_strbuf_adds(&sb, "\n ");
		}
		ecplan_strbuf_addf(&sb, "\n  INSERT INTO ecplan.schema_version (version) VALUES (%d);\n"
				   "END IF; END$ecplan_init$;\n", i + 1);
	}
	ecplan_strbuf_adds(&sb, "CREATE SCHEMA IF NOT EXISTS ecplan_archive;\nCOMMIT;\n");
	return ecplan_strbuf_detach(&sb);
}

#define ROW_COLUMNS \
	"name, plan_json, sha256, state, running_phase, rolling_back, step, array_to_string(attempts, ',')," \
	" cursor::text, rows_done, rows_total, backfill_seconds," \
	" to_char(switched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
	" coalesce(extract(epoch FROM now() - switched_at), -1)::float8, last_error," \
	" to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), rollback_attempts, failures," \
	/* schema 3's columns, read so that a database still at 2 (not migrated \
	 * yet: read-only commands do not migrate) reads as not paused */ \
	" coalesce((to_jsonb(plans) ->> 'paused')::boolean, false), to_jsonb(plans) ->> 'throttled'," \
	" coalesce((to_jsonb(plans) ->> 'throttled_seconds')::float8, 0)"

static char *dupval(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : ecplan_xstrdup(PQgetvalue(res, row, col));
}

static ecplan_plan_row *row_from(const PGresult *res, int r)
{
	ecplan_plan_row *row = ecplan_xcalloc(1, sizeof(*row));
	row->name = dupval(res, r, 0);
	row->plan_json = dupval(res, r, 1);
	row->sha256 = dupval(res, r, 2);
	row->state = ecplan_state_parse(PQgetvalue(res, r, 3));
	row->running = PQgetisnull(res, r, 4) ? ECPLAN_PHASE_NONE
					      : ecplan_phase_parse(PQgetvalue(res, r, 4));
	row->rolling_back = !strcmp(PQgetvalue(res, r, 5), "t");
	row->step = atoi(PQgetvalue(res, r, 6));
	{
		const char *p = PQgetvalue(res, r, 7);
		for (int i = 0; i < ECPLAN_PHASE_COUNT && *p; i++) {
			row->attempts[i] = atoi(p);
			p = strchr(p, ',');
			if (!p)
				break;
			p++;
		}
	}
	row->phase_attempt = row->running != ECPLAN_PHASE_NONE ? row->attempts[row->running] : 0;
	row->rollback_attempts = atoi(PQgetvalue(res, r, 16));
	row->failures = atoi(PQgetvalue(res, r, 17));
	row->cursor = dupval(res, r, 8);
	row->rows_done = atoll(PQgetvalue(res, r, 9));
	row->rows_total = atoll(PQgetvalue(res, r, 10));
	row->backfill_seconds = atof(PQgetvalue(res, r, 11));
	row->switched_at = dupval(res, r, 12);
	row->seconds_since_switch = atof(PQgetvalue(res, r, 13));
	row->last_error = dupval(res, r, 14);
	row->updated_at = dupval(res, r, 15);
	row->paused = !strcmp(PQgetvalue(res, r, 18), "t");
	row->throttled = dupval(res, r, 19);
	row->throttled_seconds = atof(PQgetvalue(res, r, 20));
	/* What status shows comes from the registered plan, not from a file. */
	json_t *j = json_loads(row->plan_json ? row->plan_json : "{}", 0, NULL);
	json_t *change = json_object_get(j, "change"), *changes = json_object_get(j, "changes");
	const char *table = json_string_value(json_object_get(j, "table"));
	/* "changes": the single-change fields hold its only change; with
	 * several they stay NULL (status lists them in "changes"). */
	if (!change && json_array_size(changes) == 1)
		change = json_array_get(changes, 0);
	if (change && json_string_value(json_object_get(change, "table")))
		table = json_string_value(json_object_get(change, "table"));
	if (!table && json_array_size(changes) > 0)
		table = json_string_value(json_object_get(json_array_get(changes, 0), "table"));
	row->table_name = ecplan_xstrdup(table);
	row->column = ecplan_xstrdup(json_string_value(json_object_get(change, "column")));
	row->new_column = ecplan_xstrdup(json_string_value(json_object_get(change, "new_column")));
	json_decref(j);
	return row;
}

int ecplan_state_load(ecplan_plan_row **out, PGconn *conn, const char *name, ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[1] = { name };
	*out = NULL;
	int rc = ecplan_db_query(&res, conn, "SELECT " ROW_COLUMNS " FROM ecplan.plans WHERE name = $1",
				 1, params, err);
	if (rc == 0 && PQntuples(res) == 1)
		*out = row_from(res, 0);
	PQclear(res);
	return rc;
}

int ecplan_state_load_all(ecplan_plan_row ***out, size_t *count, PGconn *conn, ecplan_error *err)
{
	PGresult *res = NULL;
	*out = NULL;
	*count = 0;
	int rc = ecplan_db_query(&res, conn, "SELECT " ROW_COLUMNS " FROM ecplan.plans ORDER BY name",
				 0, NULL, err);
	if (rc == 0) {
		*count = (size_t)PQntuples(res);
		*out = ecplan_xcalloc(*count, sizeof(**out));
		for (size_t i = 0; i < *count; i++)
			(*out)[i] = row_from(res, (int)i);
	}
	PQclear(res);
	return rc;
}

void ecplan_plan_row_free(ecplan_plan_row *row)
{
	if (!row)
		return;
	free(row->name);
	free(row->plan_json);
	free(row->sha256);
	free(row->cursor);
	free(row->switched_at);
	free(row->last_error);
	free(row->updated_at);
	free(row->throttled);
	free(row->table_name);
	free(row->column);
	free(row->new_column);
	free(row);
}

void ecplan_plan_rows_free(ecplan_plan_row **rows, size_t count)
{
	for (size_t i = 0; i < count; i++)
		ecplan_plan_row_free(rows[i]);
	free(rows);
}

int ecplan_state_register(PGconn *conn, const ecplan_plan *plan, ecplan_error *err)
{
	const char *params[2] = { plan->name, plan->canonical };
	return ecplan_db_query(NULL, conn,
		"INSERT INTO ecplan.plans (name, plan_json, sha256)"
		" VALUES ($1, $2, encode(sha256(convert_to($2, 'UTF8')), 'hex'))",
		2, params, err);
}

static int update_plan(PGconn *conn, const char *sql, int n, const char *const *params,
		       ecplan_error *err);

/* True when v holds webhook headers anywhere (their values may be secrets). */
static bool has_headers(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, key, m)
			if (!strcmp(key, "headers") || has_headers(m))
				return true;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if (has_headers(m))
				return true;
	}
	return false;
}

/* Appends {path, registered, file} to out for every leaf that differs
 * (objects by key, arrays of equal length by index). Values that are or hold
 * header values are "(hidden)". */
static void json_diff(json_t *out, const char *path, json_t *a, json_t *b)
{
	if (json_equal(a, b))
		return;
	/* Objects by key, also against an absent side: a section added or
	 * removed is told leaf by leaf ("$.contract.min_soak_s", operational),
	 * not as the whole section. */
	if ((json_is_object(a) || !a) && (json_is_object(b) || !b)) {
		const char *key;
		json_t *v;
		json_object_foreach(a, key, v) {
			char *p = ecplan_xstrfmt("%s.%s", path, key);
			json_diff(out, p, v, json_object_get(b, key));
			free(p);
		}
		json_object_foreach(b, key, v) {
			if (json_object_get(a, key))
				continue;
			char *p = ecplan_xstrfmt("%s.%s", path, key);
			json_diff(out, p, NULL, v);
			free(p);
		}
		return;
	}
	if (a && b && json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			char *p = ecplan_xstrfmt("%s[%zu]", path, i);
			json_diff(out, p, json_array_get(a, i), json_array_get(b, i));
			free(p);
		}
		return;
	}
	bool secret = strstr(path, ".headers") != NULL || has_headers(a) || has_headers(b);
	json_t *e = json_object();
	json_object_set_new(e, "path", json_string(path));
	json_object_set_new(e, "registered", secret && a ? json_string("(hidden)") : a ? json_incref(a) : json_null());
	json_object_set_new(e, "file", secret && b ? json_string("(hidden)") : b ? json_incref(b) : json_null());
	json_object_set_new(e, "operational", json_boolean(ecplan_plan_path_is_operational(path)));
	json_array_append_new(out, e);
}

/* "path: registered a, file b" lines for the entries whose operational flag is
 * `operational`; returns how many. */
static int diff_lines(ecplan_strbuf *sb, json_t *diffs, bool operational, int max)
{
	size_t i;
	json_t *e;
	int n = 0;
	json_array_foreach(diffs, i, e) {
		if (json_is_true(json_object_get(e, "operational")) != operational)
			continue;
		if (++n > max)
			continue;
		json_t *a = json_object_get(e, "registered"), *b = json_object_get(e, "file");
		char *sa = json_is_null(a) ? NULL : json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
		char *sb2 = json_is_null(b) ? NULL : json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
		ecplan_strbuf_addf(sb, "\n  %s: registered %.120s, file %.120s",
				   json_string_value(json_object_get(e, "path")), sa ? sa : "(absent)",
				   sb2 ? sb2 : "(absent)");
		free(sa);
		free(sb2);
	}
	if (n > max)
		ecplan_strbuf_addf(sb, "\n  ... and %d more", n - max);
	return n;
}

int ecplan_state_compare(char **changes, const ecplan_plan *plan, const ecplan_plan_row *row,
			 ecplan_error *err)
{
	if (changes)
		*changes = NULL;
	if (row->plan_json && !strcmp(row->plan_json, plan->canonical))
		return 0;
	json_t *a = json_loads(row->plan_json ? row->plan_json : "{}", 0, NULL);
	json_t *b = json_loads(plan->canonical, 0, NULL);
	json_t *diffs = json_array();
	json_diff(diffs, "$", a, b);
	json_decref(a);
	json_decref(b);
	ecplan_strbuf d = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&d, "what differs:");
	int defining = diff_lines(&d, diffs, false, 20);
	int rc = 1;
	if (defining > 0) {
		ecplan_error_set(err, ECPLAN_EDRIFT,
			"plan file %s differs from plan \"%s\" registered in the database", plan->source,
			plan->name);
		ecplan_error_detail(err, "%s", d.buf);
		ecplan_error_hint(err, "these fields define the change and cannot change once a phase has "
				       "started: run the plan file that was registered, or give the changed plan "
				       "a new name (and roll the old one back first)");
		rc = ECPLAN_EDRIFT;
	} else if (json_array_size(diffs) == 0) {
		rc = 0; /* the same JSON, written differently */
	} else if (changes) {
		*changes = json_dumps(diffs, JSON_COMPACT);
	}
	ecplan_strbuf_release(&d);
	json_decref(diffs);
	return rc;
}

int ecplan_state_check_drift(const ecplan_plan *plan, const ecplan_plan_row *row,
			     ecplan_error *err)
{
	int rc = ecplan_state_compare(NULL, plan, row, err);
	return rc < 0 ? rc : 0;
}

char *ecplan_state_describe_changes(const char *changes)
{
	json_t *diffs = json_loads(changes ? changes : "[]", 0, NULL);
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	diff_lines(&sb, diffs, true, 20);
	json_decref(diffs);
	return ecplan_strbuf_detach(&sb);
}

int ecplan_state_register_settings(PGconn *conn, const ecplan_plan *plan, const char *changes,
				   ecplan_error *err)
{
	int rc;
	char *lines = ecplan_state_describe_changes(changes);
	char *msg = ecplan_xstrfmt("operational settings changed from %s (sha256 %s):%s", plan->source,
				   plan->sha256, lines);
	json_t *src = json_string(plan->source);
	char *srcj = json_dumps(src, JSON_ENCODE_ANY);
	char *data = ecplan_xstrfmt("{\"source\": %s, \"sha256\": \"%s\", \"changes\": %s}", srcj, plan->sha256,
			      changes ? changes : "[]");
	free(srcj);
	json_decref(src);
	if ((rc = ecplan_db_begin(conn, err)) < 0)
		goto done;
	if ((rc = ecplan_state_reregister(conn, plan, err)) < 0 ||
	    (rc = ecplan_state_log(conn, plan->name, "settings", NULL, msg, data, err)) < 0)
		goto done;
	rc = ecplan_db_commit(conn, err);
done:
	if (rc < 0 && ecplan_db_in_transaction(conn))
		ecplan_db_rollback(conn, NULL);
	free(lines);
	free(msg);
	free(data);
	return rc;
}

int ecplan_state_set_paused(bool *changed, PGconn *conn, const char *name, bool paused,
			    const char *who, ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[2] = { name, paused ? "true" : "false" };
	int rc;
	*changed = false;
	if ((rc = ecplan_db_begin(conn, err)) < 0)
		return rc;
	if ((rc = ecplan_db_query(&res, conn,
		"SELECT state, paused FROM ecplan.plans WHERE name = $1 FOR UPDATE", 1, params, err)) < 0)
		goto done;
	if (PQntuples(res) != 1) {
		rc = ecplan_error_set(err, ECPLAN_ENOTFOUND, "plan \"%s\" is not registered in this database", name);
		ecplan_error_hint(err, "\"ecplan status\" lists the registered plans; check --db");
		goto done;
	}
	bool was = !strcmp(PQgetvalue(res, 0, 1), "t");
	ecplan_state st = ecplan_state_parse(PQgetvalue(res, 0, 0));
	if (paused && !was && ecplan_state_next(st) == ECPLAN_PHASE_NONE) {
		rc = ecplan_error_set(err, ECPLAN_EIMPOSSIBLE, "plan \"%s\" is %s: it has no phase left to "
				      "pause", name, ecplan_state_name(st));
		goto done;
	}
	if (was != paused) {
		char *msg = ecplan_xstrfmt("%s requested by %s", paused ? "pause" : "resume", who ? who : "ecplan");
		if ((rc = ecplan_db_query(NULL, conn,
			"UPDATE ecplan.plans SET paused = $2::boolean, updated_at = now() WHERE name = $1", 2,
			params, err)) == 0)
			rc = ecplan_state_log(conn, name, paused ? "pause" : "resume", NULL, msg, NULL, err);
		free(msg);
		if (rc < 0)
			goto done;
		*changed = true;
	}
	rc = ecplan_db_commit(conn, err);
done:
	PQclear(res);
	if (rc < 0 && ecplan_db_in_transaction(conn))
		ecplan_db_rollback(conn, NULL);
	return rc;
}

int ecplan_state_poll(ecplan_state_live *out, PGconn *conn, const char *name, const char *have_sha256,
		      ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[2] = { name, have_sha256 };
	memset(out, 0, sizeof(*out));
	int rc = ecplan_db_query(&res, conn,
		"SELECT paused, sha256, CASE WHEN sha256 IS DISTINCT FROM $2 THEN plan_json END"
		" FROM ecplan.plans WHERE name = $1", 2, params, err);
	if (rc == 0 && PQntuples(res) != 1)
		rc = ecplan_error_set(err, ECPLAN_ERR, "plan \"%s\" is not registered", name);
	if (rc == 0) {
		out->paused = !strcmp(PQgetvalue(res, 0, 0), "t");
		out->plan_json = dupval(res, 0, 2);
	}
	PQclear(res);
	return rc;
}

int ecplan_state_set_throttled(PGconn *conn, const char *name, const char *reason, double add_seconds,
			       ecplan_error *err)
{
	char s[32];
	snprintf(s, sizeof(s), "%.3f", add_seconds > 0 ? add_seconds : 0.0);
	const char *params[3] = { name, reason, s };
	return update_plan(conn,
		"UPDATE ecplan.plans SET throttled = $2, throttled_seconds = throttled_seconds + $3::float8"
		" WHERE name = $1", 3, params, err);
}

static int update_plan(PGconn *conn, const char *sql, int n, const char *const *params,
		       ecplan_error *err)
{
	PGresult *res = NULL;
	int rc = ecplan_db_query(&res, conn, sql, n, params, err);
	if (rc == 0 && atoi(PQcmdTuples(res)) != 1)
		rc = ecplan_error_set(err, ECPLAN_ERR, "plan \"%s\" is not registered", params[0]);
	PQclear(res);
	return rc;
}

int ecplan_state_begin_phase(PGconn *conn, const char *name, ecplan_phase phase, bool rollback,
			     ecplan_error *err)
{
	char idx[16];
	snprintf(idx, sizeof(idx), "%d", (int)phase + 1);
	const char *params[4] = { name, ecplan_phase_name(phase), rollback ? "true" : "false", idx };
	/* Only a forward start counts as an attempt of the phase. */
	return update_plan(conn,
		"UPDATE ecplan.plans SET running_phase = $2, rolling_back = $3::boolean, step = 0,"
		" attempts[$4::int] = attempts[$4::int] + CASE WHEN $3::boolean THEN 0 ELSE 1 END,"
		" last_error = NULL, updated_at = now() WHERE name = $1", 4, params, err);
}

static int bump(int *out, PGconn *conn, const char *name, const char *sql, ecplan_error *err)
{
	char *v = NULL;
	const char *params[1] = { name };
	int rc = ecplan_db_query_value(&v, conn, sql, 1, params, err);
	*out = v ? atoi(v) : 0;
	free(v);
	return rc;
}

int ecplan_state_begin_rollback(int *out, PGconn *conn, const char *name, ecplan_error *err)
{
	return bump(out, conn, name,
		"UPDATE ecplan.plans SET rollback_attempts = rollback_attempts + 1, updated_at = now()"
		" WHERE name = $1 RETURNING rollback_attempts::text", err);
}

int ecplan_state_next_failure(int *out, PGconn *conn, const char *name, ecplan_error *err)
{
	return bump(out, conn, name,
		"UPDATE ecplan.plans SET failures = failures + 1 WHERE name = $1 RETURNING failures::text", err);
}

int ecplan_state_reregister(PGconn *conn, const ecplan_plan *plan, ecplan_error *err)
{
	const char *params[2] = { plan->name, plan->canonical };
	return update_plan(conn,
		"UPDATE ecplan.plans SET plan_json = $2, sha256 = encode(sha256(convert_to($2, 'UTF8')), 'hex'),"
		" updated_at = now() WHERE name = $1", 2, params, err);
}

int ecplan_state_set_step(PGconn *conn, const char *name, int step, ecplan_error *err)
{
	char s[16];
	snprintf(s, sizeof(s), "%d", step);
	const char *params[2] = { name, s };
	return update_plan(conn,
		"UPDATE ecplan.plans SET step = $2::int, updated_at = now() WHERE name = $1", 2, params,
		err);
}

int ecplan_state_finish_phase(PGconn *conn, const char *name, ecplan_state state, ecplan_error *err)
{
	/* What entering the state resets comes from the transition table. */
	const char *params[4] = { name, ecplan_state_name(state),
				  ecplan_state_resets_progress(state) ? "true" : "false",
				  ecplan_phase_reached(state, ECPLAN_PHASE_SWITCH) ? "false" : "true" };
	/* The ranges of a parallel backfill go with the cursor. */
	return update_plan(conn,
		"WITH ranges AS (DELETE FROM ecplan.backfill_ranges WHERE plan = $1 AND $3::bool)"
		" UPDATE ecplan.plans SET state = $2, running_phase = NULL, rolling_back = false,"
		" step = 0, last_error = NULL, updated_at = now(),"
		" switched_at = CASE WHEN $2 = 'switched' THEN now()"
		"   WHEN $4::bool THEN NULL ELSE switched_at END,"
		" cursor = CASE WHEN $3::bool THEN NULL ELSE cursor END,"
		" rows_done = CASE WHEN $3::bool THEN 0 ELSE rows_done END,"
		" backfill_seconds = CASE WHEN $3::bool THEN 0 ELSE backfill_seconds END"
		" WHERE name = $1", 4, params, err);
}

int ecplan_state_set_error(PGconn *conn, const char *name, const char *error, ecplan_error *err)
{
	const char *params[2] = { name, error };
	return update_plan(conn,
		"UPDATE ecplan.plans SET last_error = $2, updated_at = now() WHERE name = $1", 2, params,
		err);
}

int ecplan_state_save_batch(PGconn *conn, const char *name, char *const *cursor, size_t ncursor,
			    long long rows, double seconds, ecplan_error *err)
{
	char r[32], s[32];
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	const char **params = ecplan_xcalloc(ncursor + 4, sizeof(char *));
	snprintf(r, sizeof(r), "%lld", rows);
	snprintf(s, sizeof(s), "%.6f", seconds);
	params[0] = name;
	params[1] = r;
	params[2] = s;
	params[3] = ecplan_db_value_settings();
	ecplan_strbuf_adds(&sql, "UPDATE ecplan.plans SET cursor = ARRAY[");
	for (size_t i = 0; i < ncursor; i++) {
		ecplan_strbuf_addf(&sql, "%s$%zu::text", i ? ", " : "", i + 5);
		params[i + 4] = cursor[i];
	}
	ecplan_strbuf_adds(&sql, "]::text[], cursor_settings = $4, rows_done = rows_done + $2::bigint,"
		" backfill_seconds = backfill_seconds + $3::float8, updated_at = now() WHERE name = $1");
	int rc = update_plan(conn, sql.buf, (int)ncursor + 4, params, err);
	free(params);
	ecplan_strbuf_release(&sql);
	return rc;
}

int ecplan_state_load_cursor(char ***out, size_t *ncursor, bool *same_settings, PGconn *conn,
			     const char *name, ecplan_error *err)
{
	PGresult *res = NULL;
	const char *params[2] = { name, ecplan_db_value_settings() };
	*out = NULL;
	*ncursor = 0;
	*same_settings = false;
	int rc = ecplan_db_query(&res, conn,
		"SELECT u.v, p.cursor_settings IS NOT DISTINCT FROM $2"
		" FROM ecplan.plans p, unnest(p.cursor) WITH ORDINALITY AS u(v, i)"
		" WHERE p.name = $1 ORDER BY u.i", 2, params, err);
	if (rc == 0 && PQntuples(res) > 0)
		*same_settings = !strcmp(PQgetvalue(res, 0, 1), "t");
	if (rc == 0 && PQntuples(res) > 0) {
		*ncursor = (size_t)PQntuples(res);
		*out = ecplan_xcalloc(*ncursor, sizeof(char *));
		for (size_t i = 0; i < *ncursor; i++)
			(*out)[i] = ecplan_xstrdup(PQgetvalue(res, (int)i, 0));
	}
	PQclear(res);
	return rc;
}

int ecplan_state_set_rows_total(PGconn *conn, const char *name, long long total,
				bool reset_progress, ecplan_error *err)
{
	char t[32];
	snprintf(t, sizeof(t), "%lld", total);
	const char *params[3] = { name, t, reset_progress ? "true" : "false" };
	return update_plan(conn,
		"UPDATE ecplan.plans SET rows_total = $2::bigint,"
		" rows_done = CASE WHEN $3::boolean THEN 0 ELSE rows_done END,"
		" backfill_seconds = CASE WHEN $3::boolean THEN 0 ELSE backfill_seconds END,"
		" cursor = CASE WHEN $3::boolean THEN NULL ELSE cursor END,"
		" updated_at = now() WHERE name = $1", 3, params, err);
}

int ecplan_state_log(PGconn *conn, const char *name, const char *kind, const char *phase,
		     const char *message, const char *data_json, ecplan_error *err)
{
	const char *params[5] = { name, kind, phase, message, data_json };
	return ecplan_db_query(NULL, conn,
		"INSERT INTO ecplan.events (plan, kind, phase, message, data)"
		" VALUES ($1, $2, $3, $4, $5::jsonb)", 5, params, err);
}

int ecplan_state_delivery(ecplan_delivery *out, PGconn *conn, const char *name, const char *event,
			  const char *webhook, int phase_attempt, bool gate, ecplan_error *err)
{
	char id[ECPLAN_WEBHOOK_DELIVERY_ID_SIZE], pa[16];
	PGresult *res = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = ecplan_webhook_new_delivery_id(id, sizeof(id), err)) < 0)
		return rc;
	snprintf(pa, sizeof(pa), "%d", phase_attempt);
	const char *params[6] = { id, name, event, webhook, pa, gate ? "true" : "false" };
	rc = ecplan_db_query(&res, conn,
		"WITH ins AS (INSERT INTO ecplan.deliveries (id, plan, event, webhook, phase_attempt, gate)"
		" VALUES ($1, $2, $3, $4, $5::int, $6::boolean) ON CONFLICT DO NOTHING RETURNING id, delivered, attempts)"
		" SELECT id, delivered, attempts FROM ins UNION ALL"
		" SELECT id, delivered, attempts FROM ecplan.deliveries"
		" WHERE plan = $2 AND event = $3 AND webhook = $4 AND phase_attempt = $5::int",
		6, params, err);
	if (rc == 0 && PQntuples(res) >= 1) {
		snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(res, 0, 0));
		out->delivered = !strcmp(PQgetvalue(res, 0, 1), "t");
		out->attempts = atoi(PQgetvalue(res, 0, 2));
	} else if (rc == 0) {
		rc = ecplan_error_set(err, ECPLAN_ERR, "could not record webhook delivery");
	}
	PQclear(res);
	return rc;
}

int ecplan_state_delivery_done(PGconn *conn, const char *id, bool delivered, int attempts,
			       long http_status, const char *error, ecplan_error *err)
{
	char a[16], s[16];
	snprintf(a, sizeof(a), "%d", attempts);
	snprintf(s, sizeof(s), "%ld", http_status);
	const char *params[5] = { id, delivered ? "true" : "false", a, http_status ? s : NULL, error };
	return ecplan_db_query(NULL, conn,
		"UPDATE ecplan.deliveries SET delivered = $2::boolean, attempts = attempts + $3::int,"
		" last_status = $4::int, last_error = $5, updated_at = now() WHERE id = $1",
		5, params, err);
}

int ecplan_state_pending_webhooks(long long *out, PGconn *conn, const char *name, ecplan_error *err)
{
	char *v = NULL;
	const char *params[1] = { name };
	*out = 0;
	int rc = ecplan_db_query_value(&v, conn,
		"SELECT count(*)::text FROM ecplan.deliveries d JOIN ecplan.plans p ON p.name = d.plan"
		" WHERE d.plan = $1 AND NOT d.delivered AND d.gate", 1, params, err);
	if (rc == 0 && v)
		*out = atoll(v);
	free(v);
	return rc;
}

int ecplan_state_forget(PGconn *conn, const char *name, ecplan_error *err)
{
	ecplan_plan_row *row = NULL;
	char *v = NULL;
	const char *params[1] = { name };
	int rc;
	if ((rc = ecplan_db_begin(conn, err)) < 0)
		return rc;
	/* The runner's session lock and this transaction lock share a key: no
	 * runner can hold the plan while it is forgotten. */
	if ((rc = ecplan_db_query_value(&v, conn,
		"SELECT pg_try_advisory_xact_lock(hashtextextended('ecplan:plan:' || $1, 0))::text", 1, params,
		err)) < 0)
		goto done;
	if (!v || strcmp(v, "true")) {
		rc = ecplan_error_set(err, ECPLAN_ELOCKED, "a runner holds plan \"%s\"; not forgetting it", name);
		ecplan_error_hint(err, "\"ecplan status %s\" shows the runner; let it finish first", name);
		goto done;
	}
	if ((rc = ecplan_state_load(&row, conn, name, err)) < 0)
		goto done;
	if (!row) {
		rc = ecplan_error_set(err, ECPLAN_ENOTFOUND, "plan \"%s\" is not registered in this database", name);
		ecplan_error_hint(err, "\"ecplan status\" lists the registered plans; check --db");
		goto done;
	}
	ecplan_strbuf started = ECPLAN_STRBUF_INIT;
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++)
		if (row->attempts[i] > 0)
			ecplan_strbuf_addf(&started, "%s%s", started.len ? ", " : "", ecplan_phase_name((ecplan_phase)i));
	if (started.len || row->running != ECPLAN_PHASE_NONE || row->rollback_attempts > 0 ||
	    row->state != ECPLAN_STATE_PLANNED) {
		rc = ecplan_error_set(err, ECPLAN_EIMPOSSIBLE, "plan \"%s\" has started phases; forget removes only "
				      "a plan that never started one", name);
		ecplan_error_detail(err, "state %s; phases started: %s", ecplan_state_name(row->state),
				    started.len ? started.buf : "none (a rollback was started)");
		ecplan_error_hint(err, row->state == ECPLAN_STATE_CONTRACTED
			? "a contracted plan is the record of a finished change; it stays"
			: "its changes are in the database: \"ecplan rollback PLAN.json\" undoes them (the plan "
			  "stays registered as rolled_back and can be advanced again)");
		ecplan_strbuf_release(&started);
		goto done;
	}
	ecplan_strbuf_release(&started);
	if ((rc = ecplan_db_query(NULL, conn, "DELETE FROM ecplan.deliveries WHERE plan = $1", 1, params, err)) < 0 ||
	    (rc = ecplan_db_query(NULL, conn, "DELETE FROM ecplan.events WHERE plan = $1", 1, params, err)) < 0 ||
	    (rc = ecplan_db_query(NULL, conn, "DELETE FROM ecplan.backfill_ranges WHERE plan = $1", 1, params,
				  err)) < 0 ||
	    (rc = ecplan_db_query(NULL, conn, "DELETE FROM ecplan.plans WHERE name = $1", 1, params, err)) < 0)
		goto done;
	rc = ecplan_db_commit(conn, err);
done:
	if (rc < 0)
		ecplan_db_rollback(conn, NULL);
	ecplan_plan_row_free(row);
	free(v);
	return rc;
}
