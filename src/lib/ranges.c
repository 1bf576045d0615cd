/*
 * Key ranges of a parallel backfill: split points from a sample of the key,
 * and the ranges' rows in ecplan.backfill_ranges. See ranges.h.
 */
#include "ecplan/ranges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecplan/db.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

static char **dup_values(char *const *v, size_t n)
{
	if (!v)
		return NULL;
	char **out = ecplan_xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = ecplan_xstrdup(v[i]);
	return out;
}

static void free_values(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ecplan_ranges_release(ecplan_ranges *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->count; i++) {
		free_values(rs->items[i].lower, rs->nkey);
		free_values(rs->items[i].upper, rs->nkey);
		free_values(rs->items[i].cursor, rs->nkey);
	}
	free(rs->items);
	rs->items = NULL;
	rs->count = 0;
}

size_t ecplan_ranges_unfinished(const ecplan_ranges *rs)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->count; i++)
		n += !rs->items[i].done;
	return n;
}

ecplan_range *ecplan_ranges_add(ecplan_ranges *rs, int id, char *const *lower, char *const *upper,
				char *const *cursor)
{
	rs->items = ecplan_xrealloc(rs->items, (rs->count + 1) * sizeof(*rs->items));
	ecplan_range *r = &rs->items[rs->count++];
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->lower = dup_values(lower, rs->nkey);
	r->upper = dup_values(upper, rs->nkey);
	r->cursor = dup_values(cursor, rs->nkey);
	return r;
}

static void add_tuple(ecplan_strbuf *sb, char *const *v, size_t n)
{
	ecplan_strbuf_addch(sb, '(');
	for (size_t i = 0; i < n; i++)
		ecplan_strbuf_addf(sb, "%s%s", i ? ", " : "", v[i]);
	ecplan_strbuf_addch(sb, ')');
}

char *ecplan_ranges_describe(const ecplan_ranges *rs, const ecplan_range *r)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sb, "range %d (key ", r->id);
	if (r->lower) {
		ecplan_strbuf_adds(&sb, "> ");
		add_tuple(&sb, r->lower, rs->nkey);
	} else {
		ecplan_strbuf_adds(&sb, "from the start");
	}
	if (r->upper) {
		ecplan_strbuf_adds(&sb, r->lower ? " and <= " : " to <= ");
		add_tuple(&sb, r->upper, rs->nkey);
	} else {
		ecplan_strbuf_adds(&sb, r->lower ? " to the end" : " to the end: the whole table");
	}
	ecplan_strbuf_addch(&sb, ')');
	return ecplan_strbuf_detach(&sb);
}

size_t ecplan_ranges_pick(size_t nsample, size_t parts, size_t *out)
{
	size_t m = 0;
	for (size_t i = 1; i < parts; i++) {
		size_t idx = (size_t)((unsigned long long)i * nsample / parts);
		if (idx >= nsample || (m > 0 && idx <= out[m - 1]))
			continue;
		out[m++] = idx;
	}
	return m;
}

void ecplan_ranges_apportion(const size_t *sizes, size_t n, size_t want, size_t *parts)
{
	for (size_t i = 0; i < n; i++)
		parts[i] = 1;
	for (size_t given = n; given < want; given++) {
		/* the range with the most sample keys per piece, that can take one more */
		size_t best = n;
		for (size_t i = 0; i < n; i++) {
			if (parts[i] > sizes[i])
				continue;
			/* sizes[i] / parts[i] > sizes[best] / parts[best], in integers */
			if (best == n || (unsigned long long)sizes[i] * parts[best] >
						 (unsigned long long)sizes[best] * parts[i])
				best = i;
		}
		if (best == n)
			break;
		parts[best]++;
	}
}

static void key_list(ecplan_strbuf *sb, const char *prefix, char *const *key, size_t nkey)
{
	for (size_t i = 0; i < nkey; i++) {
		ecplan_strbuf_adds(sb, i ? ", " : "");
		if (prefix)
			ecplan_strbuf_adds(sb, prefix);
		ecplan_sql_ident(sb, key[i]);
	}
}

static void params_list(ecplan_strbuf *sb, int first, size_t n)
{
	ecplan_strbuf_addch(sb, '(');
	for (size_t i = 0; i < n; i++)
		ecplan_strbuf_addf(sb, "%s$%d", i ? ", " : "", first + (int)i);
	ecplan_strbuf_addch(sb, ')');
}

char *ecplan_ranges_sample_sql(const char *schema, const char *table, char *const *key, size_t nkey,
			       bool has_lower, bool has_upper)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	int next = 2;
	ecplan_strbuf_adds(&sb, "SELECT ");
	key_list(&sb, NULL, key, nkey);
	ecplan_strbuf_adds(&sb, " FROM ");
	ecplan_sql_qualified(&sb, schema, table);
	ecplan_strbuf_adds(&sb, " TABLESAMPLE SYSTEM ($1::real)");
	if (has_lower) {
		ecplan_strbuf_adds(&sb, " WHERE (");
		key_list(&sb, NULL, key, nkey);
		ecplan_strbuf_adds(&sb, ") > ");
		params_list(&sb, next, nkey);
		next += (int)nkey;
	}
	if (has_upper) {
		ecplan_strbuf_adds(&sb, has_lower ? " AND (" : " WHERE (");
		key_list(&sb, NULL, key, nkey);
		ecplan_strbuf_adds(&sb, ") <= ");
		params_list(&sb, next, nkey);
	}
	ecplan_strbuf_adds(&sb, " ORDER BY ");
	key_list(&sb, NULL, key, nkey);
	return ecplan_strbuf_detach(&sb);
}

char *ecplan_ranges_clip_sql(const char *bound_sql, char *const *key, size_t nkey, int first_param)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "SELECT ");
	key_list(&sb, "b.", key, nkey);
	ecplan_strbuf_addf(&sb, " FROM (%s) AS b WHERE (", bound_sql);
	key_list(&sb, "b.", key, nkey);
	ecplan_strbuf_adds(&sb, ") <= ");
	params_list(&sb, first_param, nkey);
	return ecplan_strbuf_detach(&sb);
}

char *ecplan_ranges_save_sql(size_t nkey, bool has_cursor)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "WITH r AS (UPDATE ecplan.backfill_ranges SET cursor = ");
	if (has_cursor) {
		ecplan_strbuf_adds(&sb, "ARRAY[");
		for (size_t i = 0; i < nkey; i++)
			ecplan_strbuf_addf(&sb, "%s$%d::text", i ? ", " : "",
					   ECPLAN_RANGES_SAVE_FIXED_PARAMS + 1 + (int)i);
		ecplan_strbuf_adds(&sb, "]::text[]");
	} else {
		ecplan_strbuf_adds(&sb, "cursor");
	}
	ecplan_strbuf_adds(&sb, ", rows_done = rows_done + $4::bigint, done = $5::boolean, cursor_settings = $6,"
		" updated_at = now() WHERE plan = $1 AND step = $2::int AND range = $3::int RETURNING 1)"
		" UPDATE ecplan.plans SET rows_done = rows_done + $4::bigint,"
		" backfill_seconds = backfill_seconds + $7::float8, updated_at = now()"
		" WHERE name = $1 AND EXISTS (SELECT FROM r)");
	return ecplan_strbuf_detach(&sb);
}

/* ---- the state table -------------------------------------------------- */

/* A JSON array of nkey strings (to_json(text[])) as values; NULL for null. */
static int parse_values(char ***out, const char *json, size_t nkey, ecplan_error *err)
{
	*out = NULL;
	if (!json)
		return 0;
	json_t *a = json_loads(json, 0, NULL);
	if (!a || json_is_null(a)) {
		json_decref(a);
		return 0;
	}
	if (!json_is_array(a) || json_array_size(a) != nkey) {
		json_decref(a);
		ecplan_error_set(err, ECPLAN_EPRECONDITION,
				 "a saved backfill range does not match the table's key (%zu columns)", nkey);
		ecplan_error_hint(err, "the table's key changed since the backfill started: roll the plan back "
				       "to expanded (\"ecplan rollback --to expanded\") and advance again");
		return ECPLAN_EPRECONDITION;
	}
	char **v = ecplan_xcalloc(nkey, sizeof(char *));
	for (size_t i = 0; i < nkey; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		v[i] = ecplan_xstrdup(s ? s : "");
	}
	json_decref(a);
	*out = v;
	return 0;
}

int ecplan_ranges_load(ecplan_ranges *out, bool *same_settings, PGconn *conn, const char *plan,
		       int step, size_t nkey, ecplan_error *err)
{
	PGresult *res = NULL;
	char s[16];
	snprintf(s, sizeof(s), "%d", step);
	const char *params[3] = { plan, s, ecplan_db_value_settings() };
	memset(out, 0, sizeof(*out));
	out->nkey = nkey;
	*same_settings = true;
	int rc = ecplan_db_query(&res, conn,
		"SELECT range, rows_done, done, cursor_settings IS NOT DISTINCT FROM $3,"
		" to_json(lower)::text, to_json(upper)::text, to_json(cursor)::text"
		" FROM ecplan.backfill_ranges WHERE plan = $1 AND step = $2::int ORDER BY range",
		3, params, err);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		ecplan_range *r = ecplan_ranges_add(out, atoi(PQgetvalue(res, i, 0)), NULL, NULL, NULL);
		r->rows_done = atoll(PQgetvalue(res, i, 1));
		r->done = !strcmp(PQgetvalue(res, i, 2), "t");
		*same_settings &= !strcmp(PQgetvalue(res, i, 3), "t");
		for (int c = 0; rc == 0 && c < 3; c++) {
			char ***dst = c == 0 ? &r->lower : c == 1 ? &r->upper : &r->cursor;
			rc = parse_values(dst, PQgetisnull(res, i, 4 + c) ? NULL : PQgetvalue(res, i, 4 + c),
					  nkey, err);
		}
	}
	PQclear(res);
	if (rc < 0)
		ecplan_ranges_release(out);
	return rc;
}

/* The sample of r's part still to do (after its cursor), sorted by the key. */
static int sample_range(PGresult **out, PGconn *conn, const char *schema, const char *table,
			char *const *key, size_t nkey, const ecplan_range *r, double pct, ecplan_error *err)
{
	char *const *lower = r->cursor ? r->cursor : r->lower;
	char *sql = ecplan_ranges_sample_sql(schema, table, key, nkey, lower != NULL, r->upper != NULL);
	const char **params = ecplan_xcalloc(2 * nkey + 1, sizeof(char *));
	char p[32];
	int np = 0;
	snprintf(p, sizeof(p), "%.6f", pct);
	params[np++] = p;
	for (size_t i = 0; lower && i < nkey; i++)
		params[np++] = lower[i];
	for (size_t i = 0; r->upper && i < nkey; i++)
		params[np++] = r->upper[i];
	int rc = ecplan_db_query(out, conn, sql, np, params, err);
	free(params);
	free(sql);
	return rc;
}

static char **row_values(const PGresult *res, int row, size_t nkey)
{
	char **v = ecplan_xcalloc(nkey, sizeof(char *));
	for (size_t i = 0; i < nkey; i++)
		v[i] = ecplan_xstrdup(PQgetvalue(res, row, (int)i));
	return v;
}

int ecplan_ranges_split(ecplan_ranges *rs, PGconn *conn, const char *schema, const char *table,
			char *const *key, double sample_percent, size_t want, long long *samples,
			ecplan_error *err)
{
	size_t n = ecplan_ranges_unfinished(rs), k = 0;
	int rc = 0, next_id = 0;
	if (samples)
		*samples = 0;
	if (n == 0 || n >= want)
		return 0;
	size_t *which = ecplan_xcalloc(n, sizeof(size_t)), *sizes = ecplan_xcalloc(n, sizeof(size_t));
	size_t *parts = ecplan_xcalloc(n, sizeof(size_t)), *idx = ecplan_xcalloc(want, sizeof(size_t));
	PGresult **res = ecplan_xcalloc(n, sizeof(PGresult *));
	for (size_t i = 0; i < rs->count; i++) {
		if (rs->items[i].id >= next_id)
			next_id = rs->items[i].id + 1;
		if (!rs->items[i].done)
			which[k++] = i;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* A thin sample (a range that is a small part of the table, or
		 * a small table) is taken again at ten times the rate. */
		for (double pct = sample_percent;; pct *= 10) {
			if (pct > 100)
				pct = 100;
			PQclear(res[i]);
			res[i] = NULL;
			if ((rc = sample_range(&res[i], conn, schema, table, key, rs->nkey, &rs->items[which[i]],
					       pct, err)) < 0 ||
			    (size_t)PQntuples(res[i]) >= 16 * want || pct >= 100)
				break;
		}
		if (rc == 0) {
			sizes[i] = (size_t)PQntuples(res[i]);
			if (samples)
				*samples += (long long)sizes[i];
		}
	}
	if (rc == 0)
		ecplan_ranges_apportion(sizes, n, want, parts);
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t m = ecplan_ranges_pick(sizes[i], parts[i], idx);
		if (m == 0)
			continue;
		/* The range keeps its id and cursor and ends at the first point;
		 * each new piece runs from one point to the next, the last one
		 * to the range's old upper bound. */
		size_t at = which[i];
		char **old_upper = rs->items[at].upper;
		rs->items[at].upper = row_values(res[i], (int)idx[0], rs->nkey);
		rs->items[at].upper_changed = true;
		for (size_t j = 0; j < m; j++) {
			char **lo = row_values(res[i], (int)idx[j], rs->nkey);
			char **hi = j + 1 < m ? row_values(res[i], (int)idx[j + 1], rs->nkey) : old_upper;
			ecplan_range *r = ecplan_ranges_add(rs, next_id++, lo, hi, NULL);
			r->is_new = true;
			free_values(lo, rs->nkey);
			if (j + 1 < m)
				free_values(hi, rs->nkey);
		}
		free_values(old_upper, rs->nkey);
	}
	for (size_t i = 0; i < n; i++)
		PQclear(res[i]);
	free(res);
	free(which);
	free(sizes);
	free(parts);
	free(idx);
	return rc;
}

/* Appends ARRAY[$n::text, ...]::text[] (or NULL::text[]) and its parameters. */
static void add_array(ecplan_strbuf *sb, const char **params, int *np, char *const *v, size_t nkey)
{
	if (!v) {
		ecplan_strbuf_adds(sb, "NULL::text[]");
		return;
	}
	ecplan_strbuf_adds(sb, "ARRAY[");
	for (size_t i = 0; i < nkey; i++) {
		params[*np] = v[i];
		ecplan_strbuf_addf(sb, "%s$%d::text", i ? ", " : "", ++*np);
	}
	ecplan_strbuf_adds(sb, "]::text[]");
}

int ecplan_ranges_store(PGconn *conn, const char *plan, int step, ecplan_ranges *rs, ecplan_error *err)
{
	char s[16], id[16];
	int rc = 0;
	const char **params = ecplan_xcalloc(3 * rs->nkey + 4, sizeof(char *));
	snprintf(s, sizeof(s), "%d", step);
	for (size_t i = 0; i < rs->count && rc == 0; i++) {
		ecplan_range *r = &rs->items[i];
		if (!r->is_new && !r->upper_changed)
			continue;
		ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
		int np = 4;
		snprintf(id, sizeof(id), "%d", r->id);
		params[0] = plan;
		params[1] = s;
		params[2] = id;
		params[3] = ecplan_db_value_settings();
		if (r->is_new) {
			ecplan_strbuf_adds(&sql, "INSERT INTO ecplan.backfill_ranges (plan, step, range, cursor_settings,"
					   " lower, upper, cursor) VALUES ($1, $2::int, $3::int, $4, ");
			add_array(&sql, params, &np, r->lower, rs->nkey);
			ecplan_strbuf_adds(&sql, ", ");
			add_array(&sql, params, &np, r->upper, rs->nkey);
			ecplan_strbuf_adds(&sql, ", ");
			add_array(&sql, params, &np, r->cursor, rs->nkey);
			ecplan_strbuf_adds(&sql, ")");
		} else {
			ecplan_strbuf_adds(&sql, "UPDATE ecplan.backfill_ranges SET cursor_settings = $4, upper = ");
			add_array(&sql, params, &np, r->upper, rs->nkey);
			ecplan_strbuf_adds(&sql, ", updated_at = now() WHERE plan = $1 AND step = $2::int AND range = $3::int");
		}
		rc = ecplan_db_query(NULL, conn, sql.buf, np, params, err);
		ecplan_strbuf_release(&sql);
		if (rc == 0)
			r->is_new = r->upper_changed = false;
	}
	free(params);
	return rc;
}

int ecplan_ranges_clear(PGconn *conn, const char *plan, ecplan_error *err)
{
	const char *params[1] = { plan };
	return ecplan_db_query(NULL, conn, "DELETE FROM ecplan.backfill_ranges WHERE plan = $1", 1, params, err);
}
