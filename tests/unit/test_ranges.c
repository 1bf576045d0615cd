/* Unit tests for ranges.h: split points from a sample, sharing pieces among
 * ranges, the SQL texts (identifiers quoted, values as parameters), range
 * descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/plan.h"
#include "ecplan/ranges.h"

static void test_pick_quantiles(void **state)
{
	(void)state;
	size_t out[16];
	/* 100 keys in 4 pieces: the 25/50/75 quantiles. */
	assert_int_equal(ecplan_ranges_pick(100, 4, out), 3);
	assert_int_equal(out[0], 25);
	assert_int_equal(out[1], 50);
	assert_int_equal(out[2], 75);
	/* 2 pieces: the median. */
	assert_int_equal(ecplan_ranges_pick(9, 2, out), 1);
	assert_int_equal(out[0], 4);
	/* 1 piece: no point. */
	assert_int_equal(ecplan_ranges_pick(100, 1, out), 0);
	assert_int_equal(ecplan_ranges_pick(100, 0, out), 0);
}

static void test_pick_thin_sample(void **state)
{
	(void)state;
	size_t out[16];
	/* An empty sample gives no point; a small one at most one per key,
	 * strictly increasing, all inside the sample. */
	assert_int_equal(ecplan_ranges_pick(0, 8, out), 0);
	assert_int_equal(ecplan_ranges_pick(1, 8, out), 1);
	assert_int_equal(out[0], 0);
	size_t m = ecplan_ranges_pick(3, 16, out);
	assert_int_equal(m, 3);
	for (size_t i = 0; i < m; i++) {
		assert_true(out[i] < 3);
		if (i)
			assert_true(out[i] > out[i - 1]);
	}
	/* parts - 1 == nsample: every key is a point. */
	assert_int_equal(ecplan_ranges_pick(3, 4, out), 3);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[2], 2);
}

static size_t sum(const size_t *v, size_t n)
{
	size_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void test_apportion(void **state)
{
	(void)state;
	size_t parts[8];
	/* One range: all pieces. */
	size_t one[] = { 1000 };
	ecplan_ranges_apportion(one, 1, 4, parts);
	assert_int_equal(parts[0], 4);
	/* In proportion to the samples: 3000 / 1000 -> 3 + 1. */
	size_t two[] = { 3000, 1000 };
	ecplan_ranges_apportion(two, 2, 4, parts);
	assert_int_equal(parts[0], 3);
	assert_int_equal(parts[1], 1);
	/* Every range keeps at least one piece, even with an empty sample. */
	size_t three[] = { 0, 5000, 10 };
	ecplan_ranges_apportion(three, 3, 6, parts);
	assert_int_equal(parts[0], 1);
	assert_int_equal(parts[2], 1);
	assert_int_equal(parts[1], 4);
	assert_int_equal(sum(parts, 3), 6);
	/* Fewer wanted than ranges: one each, nothing merged. */
	ecplan_ranges_apportion(three, 3, 2, parts);
	assert_int_equal(sum(parts, 3), 3);
	/* A sample of s keys gives at most s + 1 pieces. */
	size_t tiny[] = { 1, 2 };
	ecplan_ranges_apportion(tiny, 2, 16, parts);
	assert_int_equal(parts[0], 2);
	assert_int_equal(parts[1], 3);
	/* Ties go to the lower index. */
	size_t even[] = { 100, 100 };
	ecplan_ranges_apportion(even, 2, 3, parts);
	assert_int_equal(parts[0], 2);
	assert_int_equal(parts[1], 1);
}

static void test_sample_sql(void **state)
{
	(void)state;
	char *key[] = { "tenant", "Order \"Id\"" };
	char *s = ecplan_ranges_sample_sql("my schema", "t", key, 2, false, false);
	assert_string_equal(s, "SELECT \"tenant\", \"Order \"\"Id\"\"\" FROM \"my schema\".\"t\" TABLESAMPLE SYSTEM ($1::real)"
			       " ORDER BY \"tenant\", \"Order \"\"Id\"\"\"");
	free(s);
	s = ecplan_ranges_sample_sql("public", "t", key, 2, true, true);
	assert_string_equal(s, "SELECT \"tenant\", \"Order \"\"Id\"\"\" FROM \"public\".\"t\" TABLESAMPLE SYSTEM ($1::real)"
			       " WHERE (\"tenant\", \"Order \"\"Id\"\"\") > ($2, $3) AND (\"tenant\", \"Order \"\"Id\"\"\") <= ($4, $5)"
			       " ORDER BY \"tenant\", \"Order \"\"Id\"\"\"");
	free(s);
	s = ecplan_ranges_sample_sql("public", "t", key, 1, false, true);
	assert_string_equal(s, "SELECT \"tenant\" FROM \"public\".\"t\" TABLESAMPLE SYSTEM ($1::real) WHERE (\"tenant\") <= ($2)"
			       " ORDER BY \"tenant\"");
	free(s);
}

static void test_clip_sql(void **state)
{
	(void)state;
	char *key[] = { "a", "B" };
	char *s = ecplan_ranges_clip_sql("SELECT a, \"B\" FROM t WHERE (a, \"B\") > ($1, $2) ORDER BY a, \"B\" OFFSET $3 LIMIT 1",
					 key, 2, 4);
	assert_string_equal(s, "SELECT b.\"a\", b.\"B\" FROM (SELECT a, \"B\" FROM t WHERE (a, \"B\") > ($1, $2) ORDER BY a, \"B\""
			       " OFFSET $3 LIMIT 1) AS b WHERE (b.\"a\", b.\"B\") <= ($4, $5)");
	free(s);
}

static void test_save_sql(void **state)
{
	(void)state;
	char *s = ecplan_ranges_save_sql(2, true);
	assert_non_null(strstr(s, "SET cursor = ARRAY[$8::text, $9::text]::text[]"));
	assert_non_null(strstr(s, "WHERE plan = $1 AND step = $2::int AND range = $3::int"));
	assert_non_null(strstr(s, "UPDATE ecplan.plans SET rows_done = rows_done + $4::bigint"));
	assert_non_null(strstr(s, "EXISTS (SELECT FROM r)"));
	free(s);
	s = ecplan_ranges_save_sql(2, false);
	assert_non_null(strstr(s, "SET cursor = cursor,"));
	assert_null(strstr(s, "$8"));
	free(s);
}

static void test_ranges_add_describe(void **state)
{
	(void)state;
	ecplan_ranges rs = { NULL, 0, 2 };
	char *lo[] = { "1", "a" }, *hi[] = { "5", "z" };
	ecplan_ranges_add(&rs, 0, NULL, lo, NULL);
	ecplan_range *r = ecplan_ranges_add(&rs, 1, lo, hi, lo);
	r->done = true;
	ecplan_ranges_add(&rs, 2, hi, NULL, NULL);
	assert_int_equal(rs.count, 3);
	assert_int_equal(ecplan_ranges_unfinished(&rs), 2);
	/* copies, not the caller's pointers */
	assert_ptr_not_equal(rs.items[1].lower, lo);
	assert_string_equal(rs.items[1].cursor[1], "a");
	char *d = ecplan_ranges_describe(&rs, &rs.items[0]);
	assert_string_equal(d, "range 0 (key from the start to <= (1, a))");
	free(d);
	d = ecplan_ranges_describe(&rs, &rs.items[1]);
	assert_string_equal(d, "range 1 (key > (1, a) and <= (5, z))");
	free(d);
	d = ecplan_ranges_describe(&rs, &rs.items[2]);
	assert_string_equal(d, "range 2 (key > (5, z) to the end)");
	free(d);
	ecplan_ranges_release(&rs);
	assert_int_equal(rs.count, 0);
}

/* backfill.workers: 1..16, default 1, a JSON-path error otherwise. */
static void test_plan_workers(void **state)
{
	(void)state;
#define BASE "{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\"," \
	     " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}%s}"
	char text[512];
	ecplan_plan *p = NULL;
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	snprintf(text, sizeof(text), BASE, "");
	assert_int_equal(ecplan_plan_parse(&p, text, strlen(text), "x", &d), 0);
	assert_int_equal(p->backfill.workers, 1);
	ecplan_plan_free(p);
	p = NULL;
	snprintf(text, sizeof(text), BASE, ", \"backfill\": {\"workers\": 16}");
	assert_int_equal(ecplan_plan_parse(&p, text, strlen(text), "x", &d), 0);
	assert_int_equal(p->backfill.workers, 16);
	ecplan_plan_free(p);
	static const char *const bad[] = { "0", "17", "-1", "2.5", "\"2\"", "true" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char b[64];
		p = NULL;
		snprintf(b, sizeof(b), ", \"backfill\": {\"workers\": %s}", bad[i]);
		snprintf(text, sizeof(text), BASE, b);
		assert_int_equal(ecplan_plan_parse(&p, text, strlen(text), "x", &d), ECPLAN_EINVALID);
		assert_null(p);
		assert_true(d.count >= 1);
		assert_string_equal(d.items[d.count - 1].path, "$.backfill.workers");
		ecplan_diags_release(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_quantiles),
		cmocka_unit_test(test_pick_thin_sample),
		cmocka_unit_test(test_apportion),
		cmocka_unit_test(test_sample_sql),
		cmocka_unit_test(test_clip_sql),
		cmocka_unit_test(test_save_sql),
		cmocka_unit_test(test_ranges_add_describe),
		cmocka_unit_test(test_plan_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
