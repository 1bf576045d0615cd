/* Unit tests for rewrite.c: column renames by token, never by substring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/rewrite.h"

static void check(const char *in, const char *old, const char *nw, int mode, bool fold,
		  const char *want, int want_n)
{
	int n = -1;
	char *got = ecplan_rewrite_column(in, 0, (size_t)-1, old, nw, mode, fold, &n);
	assert_string_equal(got, want);
	assert_int_equal(n, want_n);
	free(got);
}

static void test_bare_check(void **state)
{
	(void)state;
	check("CHECK ((char_length(x) <= 255))", "x", "x2", ECPLAN_REWRITE_BARE, false,
	      "CHECK ((char_length(\"x2\") <= 255))", 1);
	/* substrings, strings, qualified names and casts stay */
	check("CHECK (((xx > 0) AND (x <> 'x'::text) AND (t.x = 1)))", "x", "y", ECPLAN_REWRITE_BARE, false,
	      "CHECK (((xx > 0) AND (\"y\" <> 'x'::text) AND (t.x = 1)))", 1);
	check("CHECK ((num_nonnulls(a, x) = 2))", "x", "new x", ECPLAN_REWRITE_BARE, false,
	      "CHECK ((num_nonnulls(a, \"new x\") = 2))", 1);
}

static void test_function_named_like_column(void **state)
{
	(void)state;
	/* a column named lower: the call stays, the argument changes */
	check("CREATE INDEX i ON public.t USING btree (lower(lower))", "lower", "lc", ECPLAN_REWRITE_BARE,
	      false, "CREATE INDEX i ON public.t USING btree (lower(\"lc\"))", 1);
	/* a column named text: the type name after :: stays */
	check("((text)::text = 'a'::text)", "text", "body", ECPLAN_REWRITE_BARE, false,
	      "((\"body\")::text = 'a'::text)", 1);
}

static void test_keywords_are_upper_case(void **state)
{
	(void)state;
	/* deparsed keywords are upper case: a column named "at" is only the lower one */
	check("((at AT TIME ZONE 'UTC'::text) > now())", "at", "at2", ECPLAN_REWRITE_BARE, false,
	      "((\"at2\" AT TIME ZONE 'UTC'::text) > now())", 1);
}

static void test_quoted(void **state)
{
	(void)state;
	check("CHECK ((\"Weird \"\"col\"\"\" > 0))", "Weird \"col\"", "n", ECPLAN_REWRITE_BARE, false,
	      "CHECK ((\"n\" > 0))", 1);
	check("CHECK ((\"Weird\" > 0))", "weird", "n", ECPLAN_REWRITE_BARE, true, "CHECK ((\"Weird\" > 0))", 0);
}

static void test_strings_and_comments(void **state)
{
	(void)state;
	check("x || $$ x $$ || $a$ x $a$ || E'\\' x' || 'it''s x' -- x\n /* x /* x */ x */ x", "x", "y",
	      ECPLAN_REWRITE_BARE, false,
	      "\"y\" || $$ x $$ || $a$ x $a$ || E'\\' x' || 'it''s x' -- x\n /* x /* x */ x */ \"y\"", 2);
	check("$1 + x", "x", "y", ECPLAN_REWRITE_BARE, false, "$1 + \"y\"", 1);
}

static void test_row_mode(void **state)
{
	(void)state;
	const char *def = "CREATE TRIGGER t BEFORE UPDATE OF x ON public.t FOR EACH ROW WHEN "
			  "((old.x IS DISTINCT FROM new.x)) EXECUTE FUNCTION f()";
	check(def, "x", "y", ECPLAN_REWRITE_ROW, false,
	      "CREATE TRIGGER t BEFORE UPDATE OF x ON public.t FOR EACH ROW WHEN "
	      "((old.\"y\" IS DISTINCT FROM new.\"y\")) EXECUTE FUNCTION f()", 2);
	/* function bodies: folded, NEW.X is the column */
	assert_int_equal(ecplan_rewrite_count("BEGIN NEW.Email := lower(NEW.email); END", "email",
					      ECPLAN_REWRITE_ROW, true), 2);
	assert_int_equal(ecplan_rewrite_count("BEGIN s.new.email := 1; END", "email", ECPLAN_REWRITE_ROW, true), 0);
}

static void test_ranges_and_keywords(void **state)
{
	(void)state;
	const char *def = "CREATE TRIGGER x BEFORE UPDATE OF a, x ON public.x FOR EACH ROW EXECUTE FUNCTION x()";
	size_t of = ecplan_rewrite_find_keyword(def, 0, "OF");
	size_t on = ecplan_rewrite_find_keyword(def, of, "ON");
	assert_true(of != (size_t)-1 && on != (size_t)-1 && of < on);
	int n = 0;
	char *got = ecplan_rewrite_column(def, of, on, "x", "y", ECPLAN_REWRITE_BARE, false, &n);
	assert_string_equal(got, "CREATE TRIGGER x BEFORE UPDATE OF a, \"y\" ON public.x FOR EACH ROW "
				 "EXECUTE FUNCTION x()");
	assert_int_equal(n, 1);
	free(got);
	size_t off, len;
	assert_true(ecplan_rewrite_token(def, 2, &off, &len));
	assert_int_equal(off, 15);
	assert_int_equal(len, 1);
	assert_false(ecplan_rewrite_token("a b", 2, &off, &len));
	assert_true(ecplan_rewrite_find_keyword("'OF' of", 0, "OF") == 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_check),
		cmocka_unit_test(test_function_named_like_column),
		cmocka_unit_test(test_keywords_are_upper_case),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_strings_and_comments),
		cmocka_unit_test(test_row_mode),
		cmocka_unit_test(test_ranges_and_keywords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
