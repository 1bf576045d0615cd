/* Unit tests for state.h's pure part: comparing a plan file with the
 * registered plan (ecplan_state_compare): identical, operational settings
 * only (registered, with every changed path and its old and new values,
 * header values hidden), and drift of a defining field (only those paths
 * listed). No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ecplan/plan.h"
#include "ecplan/state.h"

#define BASE(extra) \
	"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\"," \
	" \"change\": {\"column\": \"a\", \"new_column\": \"b\", \"up\": \"lower(a)\"}" extra "}"

static ecplan_plan *parse(const char *text)
{
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	assert_int_equal(ecplan_plan_parse(&plan, text, strlen(text), "p.json", &d), 0);
	ecplan_diags_release(&d);
	return plan;
}

/* Compares file text against registered text. */
static int compare(char **changes, ecplan_error *err, const char *registered, const char *file)
{
	ecplan_plan *reg = parse(registered), *p = parse(file);
	ecplan_plan_row row;
	memset(&row, 0, sizeof(row));
	row.plan_json = reg->canonical;
	ecplan_error_clear(err);
	int rc = ecplan_state_compare(changes, p, &row, err);
	ecplan_plan_free(reg);
	ecplan_plan_free(p);
	return rc;
}

static void test_same(void **state)
{
	(void)state;
	char *changes = (char *)1;
	ecplan_error err;
	/* key order, spacing and $schema are not differences */
	assert_int_equal(compare(&changes, &err, BASE(", \"backfill\": {\"pause_ms\": 5, \"batch_size\": 9}"),
				 "{\"$schema\": \"./schema.json\", \"backfill\": {\"batch_size\": 9, \"pause_ms\": 5},"
				 " \"change\": {\"up\": \"lower(a)\", \"new_column\": \"b\", \"column\": \"a\"},"
				 " \"table\": \"users\", \"name\": \"p\", \"format\": \"ecplan/v1\"}"),
			 0);
	assert_null(changes);
	assert_int_equal(err.code, 0);
}

static void test_operational(void **state)
{
	(void)state;
	char *changes = NULL;
	ecplan_error err;
	int rc = compare(&changes, &err,
		BASE(", \"backfill\": {\"batch_size\": 20}, \"safety\": {\"lock_retries\": 3},"
		     " \"webhooks\": [{\"name\": \"w\", \"url\": \"http://h/x\", \"events\": [\"failed\"],"
		     " \"headers\": {\"Authorization\": \"Bearer s3cret\"}}]"),
		BASE(", \"backfill\": {\"batch_size\": 2000, \"throttle\": {\"query\": \"SELECT false\"}},"
		     " \"description\": \"d\","
		     " \"webhooks\": [{\"name\": \"w\", \"url\": \"http://h/y\", \"events\": [\"failed\"],"
		     " \"headers\": {\"Authorization\": \"Bearer n3w\"}}],"
		     " \"contract\": {\"min_soak_s\": 60}, \"checks\": []"));
	assert_int_equal(rc, 1);
	assert_int_equal(err.code, 0);
	assert_non_null(changes);
	json_t *a = json_loads(changes, 0, NULL);
	assert_non_null(a);
	/* every changed leaf, with its values */
	const char *want[][3] = {
		{ "$.backfill.batch_size", "20", "2000" },
		{ "$.backfill.throttle.query", "null", "\"SELECT false\"" },
		{ "$.safety.lock_retries", "3", "null" },
		{ "$.webhooks[0].url", "\"http://h/x\"", "\"http://h/y\"" },
		{ "$.webhooks[0].headers.Authorization", "\"(hidden)\"", "\"(hidden)\"" },
		{ "$.description", "null", "\"d\"" },
		{ "$.contract.min_soak_s", "null", "60" },
		{ "$.checks", "null", "[]" },
	};
	size_t found = 0;
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		size_t i;
		json_t *e;
		json_array_foreach(a, i, e) {
			if (strcmp(json_string_value(json_object_get(e, "path")), want[k][0]))
				continue;
			char *r = json_dumps(json_object_get(e, "registered"), JSON_ENCODE_ANY | JSON_COMPACT);
			char *f = json_dumps(json_object_get(e, "file"), JSON_ENCODE_ANY | JSON_COMPACT);
			assert_string_equal(r, want[k][1]);
			assert_string_equal(f, want[k][2]);
			assert_true(json_is_true(json_object_get(e, "operational")));
			free(r);
			free(f);
			found++;
		}
	}
	assert_int_equal(found, sizeof(want) / sizeof(want[0]));
	assert_int_equal(json_array_size(a), found);
	/* secrets never appear, in the array nor in the lines */
	assert_null(strstr(changes, "s3cret"));
	assert_null(strstr(changes, "n3w"));
	char *lines = ecplan_state_describe_changes(changes);
	assert_non_null(strstr(lines, "$.backfill.batch_size: registered 20, file 2000"));
	assert_null(strstr(lines, "s3cret"));
	free(lines);
	json_decref(a);
	free(changes);
}

static void test_whole_webhooks_hidden(void **state)
{
	(void)state;
	char *changes = NULL;
	ecplan_error err;
	/* a webhook added: the array differs in length, its values are hidden */
	int rc = compare(&changes, &err, BASE(""),
		BASE(", \"webhooks\": [{\"name\": \"w\", \"url\": \"http://h/x\", \"events\": [\"failed\"],"
		     " \"headers\": {\"X-Token\": \"t0ken\"}}]"));
	assert_int_equal(rc, 1);
	assert_null(strstr(changes, "t0ken"));
	assert_non_null(strstr(changes, "\"$.webhooks\""));
	free(changes);
}

static void test_drift(void **state)
{
	(void)state;
	char *changes = NULL;
	ecplan_error err;
	int rc = compare(&changes, &err, BASE(", \"backfill\": {\"batch_size\": 20}"),
			 "{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
			 " \"change\": {\"column\": \"a\", \"new_column\": \"b\", \"up\": \"upper(a)\"},"
			 " \"backfill\": {\"batch_size\": 30}, \"contract\": {\"archive\": false}}");
	assert_int_equal(rc, ECPLAN_EDRIFT);
	assert_int_equal(err.code, ECPLAN_EDRIFT);
	assert_null(changes);
	assert_non_null(strstr(err.detail, "$.change.up: registered \"lower(a)\", file \"upper(a)\""));
	assert_non_null(strstr(err.detail, "$.contract.archive: registered (absent), file false"));
	assert_null(strstr(err.detail, "$.backfill.batch_size"));
	assert_non_null(strstr(err.hint, "define the change"));
	/* check_drift: the same answer, 0 for operational changes */
	ecplan_plan *reg = parse(BASE("")), *p = parse(BASE(", \"backfill\": {\"pause_ms\": 1}"));
	ecplan_plan_row row;
	memset(&row, 0, sizeof(row));
	row.plan_json = reg->canonical;
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_state_check_drift(p, &row, &err), 0);
	ecplan_plan_free(reg);
	ecplan_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_operational),
		cmocka_unit_test(test_whole_webhooks_hidden),
		cmocka_unit_test(test_drift),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
