/*
 * catalog_dump: prints what ecplan_catalog_load() reads, as JSON, so that
 * tests/integration/catalog.sh can check it against tables it made. Also
 * exposes the db.h helpers the shell cannot reach otherwise.
 *
 *   catalog_dump [--db CONNINFO] PLAN.json            the catalog
 *   catalog_dump [--db CONNINFO] --long-tx SECS PLAN.json
 *                                                     ecplan_catalog_long_transactions
 *   catalog_dump [--db CONNINFO] --lock KEY           try the advisory lock, describe holder
 *   catalog_dump [--db CONNINFO] [--lock-timeout MS] --query SQL
 *                                                     run SQL, print the rows or the error
 *   catalog_dump --describe CONNINFO                  ecplan_db_describe_target
 *
 * Without --db the connection is resolved like ecplan does (ECPLAN_DB,
 * DATABASE_URL, PG*). Errors go to stderr as ecplan_error_format() prints
 * them, except for --query, which prints the error as JSON on stdout.
 * Exit status: 0 success, 1 error, 2 usage.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/catalog.h"
#include "ecplan/db.h"
#include "ecplan/plan.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *strings(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *char_or_null(char c)
{
	char s[2] = { c, '\0' };
	return c ? json_string(s) : json_null();
}

static json_t *column_json(bool exists, const ecplan_column_info *c)
{
	json_t *o;

	if (!exists)
		return json_null();
	o = json_object();
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "attnum", json_integer(c->attnum));
	json_object_set_new(o, "type", str_or_null(c->type));
	json_object_set_new(o, "not_null", json_boolean(c->not_null));
	json_object_set_new(o, "default", str_or_null(c->default_expr));
	json_object_set_new(o, "default_volatile", json_boolean(c->default_volatile));
	json_object_set_new(o, "identity", char_or_null(c->identity));
	json_object_set_new(o, "generated", json_boolean(c->generated));
	json_object_set_new(o, "generation_expr", str_or_null(c->generation_expr));
	json_object_set_new(o, "collation", str_or_null(c->collation));
	json_object_set_new(o, "inherited", json_boolean(c->inherited));
	json_object_set_new(o, "owned_sequence", str_or_null(c->owned_sequence));
	json_object_set_new(o, "comment", str_or_null(c->comment));
	return o;
}

static json_t *index_json(const ecplan_index_info *ix)
{
	json_t *o = json_object(), *keys = json_array();
	size_t i;

	json_object_set_new(o, "name", json_string(ix->name));
	json_object_set_new(o, "method", str_or_null(ix->method));
	json_object_set_new(o, "definition", str_or_null(ix->definition));
	json_object_set_new(o, "unique", json_boolean(ix->unique));
	json_object_set_new(o, "primary", json_boolean(ix->primary));
	json_object_set_new(o, "valid", json_boolean(ix->valid));
	json_object_set_new(o, "nulls_not_distinct", json_boolean(ix->nulls_not_distinct));
	json_object_set_new(o, "constraint_name", str_or_null(ix->constraint_name));
	json_object_set_new(o, "constraint_type", char_or_null(ix->constraint_type));
	for (i = 0; i < ix->nkeys; i++) {
		const ecplan_index_column *k = &ix->keys[i];
		json_t *ko = json_object();
		json_object_set_new(ko, "name", str_or_null(k->name));
		json_object_set_new(ko, "expression", str_or_null(k->expression));
		json_object_set_new(ko, "opclass", str_or_null(k->opclass));
		json_object_set_new(ko, "collation", str_or_null(k->collation));
		json_object_set_new(ko, "desc", json_boolean(k->desc));
		json_object_set_new(ko, "nulls_first", json_boolean(k->nulls_first));
		json_array_append_new(keys, ko);
	}
	json_object_set_new(o, "keys", keys);
	json_object_set_new(o, "include", strings(ix->include, ix->ninclude));
	json_object_set_new(o, "predicate", str_or_null(ix->predicate));
	json_object_set_new(o, "uses_column_in_expression", json_boolean(ix->uses_column_in_expression));
	return o;
}

static json_t *catalog_json(const ecplan_catalog *cat)
{
	json_t *o = json_object(), *ixs = json_array();
	size_t i;

	json_object_set_new(o, "server_version_num", json_integer(cat->server_version_num));
	json_object_set_new(o, "table_exists", json_boolean(cat->table_exists));
	json_object_set_new(o, "relkind", char_or_null(cat->relkind));
	json_object_set_new(o, "has_oid", json_boolean(cat->table_oid != 0));
	json_object_set_new(o, "column", column_json(cat->column_exists, &cat->column));
	json_object_set_new(o, "new_column", column_json(cat->new_column_exists, &cat->new_col));
	json_object_set_new(o, "new_column_is_ours", json_boolean(cat->new_column_is_ours));
	json_object_set_new(o, "key_columns", strings(cat->key_columns, cat->nkey));
	json_object_set_new(o, "key_types", strings(cat->key_types, cat->nkey));
	json_object_set_new(o, "key_source", str_or_null(cat->key_source));
	json_object_set_new(o, "key_index", str_or_null(cat->key_index));
	for (i = 0; i < cat->nindexes; i++)
		json_array_append_new(ixs, index_json(&cat->indexes[i]));
	json_object_set_new(o, "indexes", ixs);
	json_object_set_new(o, "dependents", strings(cat->dependents, cat->ndependents));
	json_object_set_new(o, "check_constraints", strings(cat->check_constraints, cat->nchecks));
	json_object_set_new(o, "reltuples", json_real(cat->reltuples));
	json_object_set_new(o, "relation_bytes", json_integer(cat->relation_bytes));
	return o;
}

static json_t *error_json(const ecplan_error *err)
{
	json_t *o = json_object();

	json_object_set_new(o, "code", json_integer(err->code));
	json_object_set_new(o, "message", json_string(err->message));
	json_object_set_new(o, "detail", json_string(err->detail));
	json_object_set_new(o, "hint", json_string(err->hint));
	json_object_set_new(o, "sqlstate", json_string(err->sqlstate));
	json_object_set_new(o, "lock_timeout", json_boolean(ecplan_db_error_is_lock_timeout(err)));
	return o;
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	json_decref(j);
	if (!s)
		return 1;
	puts(s);
	free(s);
	return 0;
}

static int fail(const ecplan_error *err)
{
	char *s = ecplan_error_format(err);

	fprintf(stderr, "catalog_dump: %s", s);
	free(s);
	return 1;
}

static int load_plan(ecplan_plan **plan, const char *path)
{
	ecplan_diags diags = ECPLAN_DIAGS_INIT;
	size_t i;

	if (ecplan_plan_load_file(plan, path, &diags) == 0) {
		ecplan_diags_release(&diags);
		return 0;
	}
	for (i = 0; i < diags.count; i++)
		fail(&diags.items[i]);
	ecplan_diags_release(&diags);
	return 1;
}

static int run_query(PGconn *conn, const char *sql, long lock_timeout_ms)
{
	ecplan_error err;
	PGresult *res = NULL;
	json_t *o = json_object(), *rows;
	int r, c;

	ecplan_error_clear(&err);
	if (lock_timeout_ms >= 0 &&
	    ecplan_db_set_session_timeouts(conn, lock_timeout_ms, -1, &err) < 0)
		return fail(&err);
	if (ecplan_db_query(&res, conn, sql, 0, NULL, &err) < 0) {
		json_object_set_new(o, "error", error_json(&err));
		print_json(o);
		return 1;
	}
	rows = json_array();
	for (r = 0; r < PQntuples(res); r++) {
		json_t *row = json_array();
		for (c = 0; c < PQnfields(res); c++)
			json_array_append_new(row, PQgetisnull(res, r, c) ? json_null()
									  : json_string(PQgetvalue(res, r, c)));
		json_array_append_new(rows, row);
	}
	PQclear(res);
	json_object_set_new(o, "rows", rows);
	return print_json(o);
}

static int run_lock(PGconn *conn, const char *key)
{
	ecplan_error err;
	bool got = false;
	char *holder = NULL;
	json_t *o;

	ecplan_error_clear(&err);
	if (ecplan_db_try_advisory_lock(conn, key, &got, &err) < 0 ||
	    ecplan_db_advisory_lock_holder(&holder, conn, key, &err) < 0)
		return fail(&err);
	o = json_object();
	json_object_set_new(o, "got", json_boolean(got));
	json_object_set_new(o, "holder", str_or_null(holder));
	json_object_set_new(o, "own_pid", json_integer(PQbackendPID(conn)));
	free(holder);
	return print_json(o);
}

static int run_long_tx(PGconn *conn, const ecplan_plan *plan, long secs)
{
	ecplan_error err;
	ecplan_long_txn *txns = NULL;
	size_t n = 0, i;
	json_t *a;

	ecplan_error_clear(&err);
	if (ecplan_catalog_long_transactions(&txns, &n, conn, plan->schema, plan->table, secs, &err) < 0)
		return fail(&err);
	a = json_array();
	for (i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "pid", json_integer(txns[i].pid));
		json_object_set_new(o, "application_name", str_or_null(txns[i].application_name));
		json_object_set_new(o, "state", str_or_null(txns[i].state));
		json_object_set_new(o, "xact_age_s", json_real(txns[i].xact_age_s));
		json_object_set_new(o, "query", str_or_null(txns[i].query));
		json_array_append_new(a, o);
	}
	ecplan_long_txns_free(txns, n);
	return print_json(a);
}

static void usage(void)
{
	fputs("usage: catalog_dump [--db CONNINFO] PLAN.json\n"
	      "       catalog_dump [--db CONNINFO] --long-tx SECONDS PLAN.json\n"
	      "       catalog_dump [--db CONNINFO] --lock KEY\n"
	      "       catalog_dump [--db CONNINFO] [--lock-timeout MS] --query SQL\n"
	      "       catalog_dump --describe CONNINFO\n",
	      stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "long-tx", required_argument, NULL, 't' },
		{ "lock", required_argument, NULL, 'l' },
		{ "lock-timeout", required_argument, NULL, 'T' },
		{ "query", required_argument, NULL, 'q' },
		{ "describe", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *lock_key = NULL, *query = NULL;
	long long_tx = -1, lock_timeout = -1;
	ecplan_error err;
	ecplan_plan *plan = NULL;
	ecplan_catalog *cat = NULL;
	PGconn *conn = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 't':
			long_tx = strtol(optarg, NULL, 10);
			break;
		case 'l':
			lock_key = optarg;
			break;
		case 'T':
			lock_timeout = strtol(optarg, NULL, 10);
			break;
		case 'q':
			query = optarg;
			break;
		case 'D': {
			char *d = ecplan_db_describe_target(optarg);
			puts(d);
			free(d);
			return 0;
		}
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (!lock_key && !query && optind != argc - 1) {
		usage();
		return 2;
	}
	if (!lock_key && !query && load_plan(&plan, argv[optind]) != 0)
		return 1;

	ecplan_error_clear(&err);
	if (ecplan_db_connect(&conn, db, &err) < 0) {
		ecplan_plan_free(plan);
		return fail(&err);
	}
	if (query)
		rc = run_query(conn, query, lock_timeout);
	else if (lock_key)
		rc = run_lock(conn, lock_key);
	else if (long_tx >= 0)
		rc = run_long_tx(conn, plan, long_tx);
	else if (ecplan_catalog_load(&cat, conn, plan, &err) < 0)
		rc = fail(&err);
	else
		rc = print_json(catalog_json(cat));
	ecplan_catalog_free(cat);
	ecplan_plan_free(plan);
	ecplan_db_close(conn);
	return rc;
}
