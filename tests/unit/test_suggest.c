/* Unit tests for suggest.h: the edit distance and the "did you mean" choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/suggest.h"

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(ecplan_suggest_distance("", ""), 0);
	assert_int_equal(ecplan_suggest_distance("abc", ""), 3);
	assert_int_equal(ecplan_suggest_distance("", "abc"), 3);
	assert_int_equal(ecplan_suggest_distance("advance", "advance"), 0);
	assert_int_equal(ecplan_suggest_distance("advnce", "advance"), 1);   /* deletion */
	assert_int_equal(ecplan_suggest_distance("advancee", "advance"), 1); /* insertion */
	assert_int_equal(ecplan_suggest_distance("advanse", "advance"), 1);  /* substitution */
	assert_int_equal(ecplan_suggest_distance("avdance", "advance"), 1);  /* swap */
	assert_int_equal(ecplan_suggest_distance("kitten", "sitting"), 3);
	assert_int_equal(ecplan_suggest_distance("ca", "abc"), 3);          /* OSA, not Damerau */
	assert_int_equal(ecplan_suggest_distance("Status", "status"), 1);   /* case counts */
	/* Symmetric. */
	assert_int_equal(ecplan_suggest_distance("rollbak", "rollback"),
			 ecplan_suggest_distance("rollback", "rollbak"));
	/* Long strings are cut at 64 bytes, never overflow. */
	char a[200], b[200];
	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = 0;
	memset(b, 'y', sizeof(b) - 1);
	b[sizeof(b) - 1] = 0;
	assert_int_equal(ecplan_suggest_distance(a, b), 64);
	assert_int_equal(ecplan_suggest_distance(a, a), 0);
}

static void test_suggest(void **state)
{
	(void)state;
	static const char *const cmds[] = { "validate", "render", "advance", "check", "status", "wait",
					    "rollback", "history", "verify", "webhook", "forget", "help",
					    NULL };
	assert_string_equal(ecplan_suggest("advnace", cmds), "advance");
	assert_string_equal(ecplan_suggest("stauts", cmds), "status");
	assert_string_equal(ecplan_suggest("rollbak", cmds), "rollback");
	assert_string_equal(ecplan_suggest("veryfy", cmds), "verify");
	assert_string_equal(ecplan_suggest("hist", cmds), "history");  /* a prefix */
	assert_string_equal(ecplan_suggest("wiat", cmds), "wait");
	assert_null(ecplan_suggest("deploy", cmds));
	assert_null(ecplan_suggest("xy", cmds));
	assert_null(ecplan_suggest("", cmds));
	assert_null(ecplan_suggest(NULL, cmds));
	assert_null(ecplan_suggest("advance", NULL));
	/* The word itself is never suggested. */
	assert_null(ecplan_suggest("status", (const char *const[]){ "status", NULL }));

	static const char *const keys[] = { "column", "new_column", "type", "up", "down", "not_null",
					    "default", NULL };
	assert_null(ecplan_suggest("nullable", keys)); /* too far from "not_null" */
	assert_string_equal(ecplan_suggest("new_colum", keys), "new_column");
	assert_string_equal(ecplan_suggest("defualt", keys), "default");
	assert_string_equal(ecplan_suggest("notnull", keys), "not_null");
	assert_null(ecplan_suggest("description", keys));
	/* Short words need a close match: "upp" -> "up", "dn" -> nothing. */
	assert_string_equal(ecplan_suggest("upp", keys), "up");
	assert_null(ecplan_suggest("dn", keys));

	static const char *const flags[] = { "--to", "--all", "--db", "--quiet", "--json", NULL };
	assert_string_equal(ecplan_suggest("--jsno", flags), "--json");
	assert_string_equal(ecplan_suggest("--quite", flags), "--quiet");
	assert_string_equal(ecplan_suggest("--al", flags), "--all");
	/* First of equals wins. */
	assert_string_equal(ecplan_suggest("abc", (const char *const[]){ "abx", "aby", NULL }), "abx");
	assert_null(ecplan_suggest("ab", (const char *const[]){ "ax", NULL })); /* half of it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_suggest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
