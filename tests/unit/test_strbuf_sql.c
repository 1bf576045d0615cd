/* Unit tests for strbuf.h and sql.h: growth, detach and formatting of the
 * string builder; quoting of identifiers and literals; dollar-quote tags;
 * derived object names that stay within 63 bytes without cutting UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

/* ---- strbuf ---------------------------------------------------------- */

static void test_strbuf_init_empty(void **state)
{
	(void)state;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	/* Releasing an untouched buffer is fine, and so is doing it twice. */
	ecplan_strbuf_release(&sb);
	ecplan_strbuf_release(&sb);
	assert_string_equal(sb.buf, "");
	ecplan_strbuf_init(&sb);
	assert_string_equal(sb.buf, "");
	/* setlen/reset on an empty, unallocated buffer do nothing harmful. */
	ecplan_strbuf_reset(&sb);
	ecplan_strbuf_setlen(&sb, 0);
	assert_string_equal(sb.buf, "");
	/* The shared empty string is never written to. */
	assert_int_equal(ecplan_strbuf_empty[0], '\0');
}

static void test_strbuf_growth(void **state)
{
	(void)state;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	/* Many small appends: always NUL-terminated, len tracks content, alloc > len. */
	for (int i = 0; i < 10000; i++) {
		ecplan_strbuf_addch(&sb, (char)('a' + i % 26));
		assert_int_equal(sb.len, (size_t)i + 1);
		assert_true(sb.alloc > sb.len);
		assert_int_equal(sb.buf[sb.len], '\0');
	}
	for (int i = 0; i < 10000; i++)
		assert_int_equal(sb.buf[i], 'a' + i % 26);
	assert_int_equal(strlen(sb.buf), 10000);

	/* grow reserves room without changing the content. */
	size_t before = sb.len;
	ecplan_strbuf_grow(&sb, 100000);
	assert_true(sb.alloc >= before + 100000 + 1);
	assert_int_equal(sb.len, before);
	assert_int_equal(sb.buf[0], 'a');

	/* setlen truncates; reset empties but keeps it usable. */
	ecplan_strbuf_setlen(&sb, 3);
	assert_string_equal(sb.buf, "abc");
	ecplan_strbuf_reset(&sb);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	ecplan_strbuf_adds(&sb, "again");
	assert_string_equal(sb.buf, "again");
	ecplan_strbuf_release(&sb);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
}

static void test_strbuf_add_binary_and_empty(void **state)
{
	(void)state;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_add(&sb, "", 0);
	ecplan_strbuf_adds(&sb, "");
	assert_int_equal(sb.len, 0);
	ecplan_strbuf_add(&sb, "ab\0cd", 5);
	assert_int_equal(sb.len, 5);
	assert_memory_equal(sb.buf, "ab\0cd", 6); /* includes the terminating NUL */
	ecplan_strbuf_release(&sb);
}

static void test_strbuf_addf(void **state)
{
	(void)state;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sb, "%s=%d", "x", 42);
	ecplan_strbuf_addf(&sb, "%s", "");
	ecplan_strbuf_addf(&sb, ",%05.1f,%c", 3.14159, 'z');
	assert_string_equal(sb.buf, "x=42,003.1,z");
	/* A long formatted string (larger than any initial allocation). */
	char big[5000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ecplan_strbuf_addf(&sb, "[%s]", big);
	assert_int_equal(sb.len, strlen("x=42,003.1,z") + 2 + 4999);
	assert_int_equal(sb.buf[sb.len - 1], ']');
	assert_int_equal(strlen(sb.buf), sb.len);
	ecplan_strbuf_release(&sb);

	char *s = ecplan_xstrfmt("%s-%zu", "n", (size_t)7);
	assert_string_equal(s, "n-7");
	free(s);
	s = ecplan_xstrfmt("%s", "");
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void test_strbuf_detach(void **state)
{
	(void)state;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	/* Detaching an empty buffer gives a fresh, freeable "" (never the shared one). */
	char *e = ecplan_strbuf_detach(&sb);
	assert_non_null(e);
	assert_string_equal(e, "");
	assert_ptr_not_equal(e, ecplan_strbuf_empty);
	free(e);

	ecplan_strbuf_adds(&sb, "hello");
	char *h = ecplan_strbuf_detach(&sb);
	assert_string_equal(h, "hello");
	/* sb is reset and reusable; the detached buffer is independent. */
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	ecplan_strbuf_adds(&sb, "world");
	assert_string_equal(h, "hello");
	assert_string_equal(sb.buf, "world");
	free(h);
	ecplan_strbuf_release(&sb);
}

static void test_xalloc(void **state)
{
	(void)state;
	assert_null(ecplan_xstrdup(NULL));
	char *d = ecplan_xstrdup("abc");
	assert_string_equal(d, "abc");
	free(d);
	int *z = ecplan_xcalloc(16, sizeof(int));
	for (int i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);
	z = ecplan_xrealloc(z, 1024 * sizeof(int));
	z[1023] = 5;
	free(z);
	/* Zero sizes still give a freeable pointer. */
	void *p = ecplan_xcalloc(0, 0);
	assert_non_null(p);
	free(p);
}

/* ---- identifiers ------------------------------------------------------ */

static char *ident(const char *name)
{
	return ecplan_sql_ident_dup(name);
}

static void test_sql_ident(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "users", "\"users\"" },
		{ "Users", "\"Users\"" },
		{ "", "\"\"" },
		{ "a\"b", "\"a\"\"b\"" },
		{ "\"", "\"\"\"\"" },
		{ "Weird \"Table\"", "\"Weird \"\"Table\"\"\"" },
		{ "naïve col", "\"naïve col\"" },
		{ "x'y", "\"x'y\"" },
		{ "back\\slash", "\"back\\slash\"" },
		{ "new\nline", "\"new\nline\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = ident(cases[i][0]);
		assert_string_equal(got, cases[i][1]);
		free(got);
	}
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "x ");
	ecplan_sql_ident(&sb, "a\"");
	assert_string_equal(sb.buf, "x \"a\"\"\"");
	ecplan_strbuf_reset(&sb);
	ecplan_sql_qualified(&sb, "My Schema", "Weird \"Table\"");
	assert_string_equal(sb.buf, "\"My Schema\".\"Weird \"\"Table\"\"\"");
	ecplan_strbuf_release(&sb);
}

/* ---- literals --------------------------------------------------------- */

static char *literal(const char *text)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_sql_literal(&sb, text);
	return ecplan_strbuf_detach(&sb);
}

static void test_sql_literal(void **state)
{
	(void)state;
	/* Expected forms are what PQescapeLiteral returns with
	 * standard_conforming_strings on: a backslash switches to " E'...'" (with
	 * the leading space) and doubles backslashes. */
	static const char *const cases[][2] = {
		{ "plain", "'plain'" },
		{ "", "''" },
		{ "it's", "'it''s'" },
		{ "''", "''''''" },
		{ "a\\b", " E'a\\\\b'" },
		{ "\\", " E'\\\\'" },
		{ "it's a\\b", " E'it''s a\\\\b'" },
		{ "naïve", "'naïve'" },
		{ "two\nlines", "'two\nlines'" },
		{ "$ecplan$", "'$ecplan$'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = literal(cases[i][0]);
		assert_string_equal(got, cases[i][1]);
		free(got);
	}
}

/* ---- dollar quoting --------------------------------------------------- */

static char *dq(const char *body)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_sql_dollar_quote(&sb, body);
	return ecplan_strbuf_detach(&sb);
}

/*
 * Checks the way PostgreSQL's lexer reads a dollar-quoted string: the tag is
 * $[A-Za-z_][A-Za-z_0-9]*$ (or $$), and the string ends at the first
 * occurrence of the same tag after the opening one. The whole of `quoted` must
 * be that one string, and its content must be body. Returns NULL when it is,
 * else a description of the problem (static buffer).
 */
static const char *dollar_quote_problem(const char *quoted, const char *body)
{
	static char msg[512];
	if (quoted[0] != '$')
		return "does not start with $";
	const char *end_tag = strchr(quoted + 1, '$');
	if (!end_tag)
		return "no end of the opening tag";
	size_t taglen = (size_t)(end_tag - quoted) + 1;
	for (size_t i = 1; i + 1 < taglen; i++) {
		char c = quoted[i];
		bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (i > 1 && c >= '0' && c <= '9');
		if (!ok)
			return "bad character in the tag";
	}
	char tag[64];
	if (taglen >= sizeof(tag))
		return "tag too long";
	memcpy(tag, quoted, taglen);
	tag[taglen] = '\0';
	const char *close = strstr(quoted + taglen, tag);
	if (!close)
		return "no closing tag";
	/* The closing tag the lexer finds is the last thing in the string. */
	if ((size_t)(close - quoted) + taglen != strlen(quoted)) {
		snprintf(msg, sizeof(msg), "body [%s] quoted as [%s]: the string ends early, at offset %zu, leaving [%s]",
			 body, quoted, (size_t)(close - quoted), close + taglen);
		return msg;
	}
	if ((size_t)(close - quoted) - taglen != strlen(body) ||
	    memcmp(quoted + taglen, body, strlen(body)))
		return "the content is not the body";
	return NULL;
}

static void test_dollar_quote_tags(void **state)
{
	(void)state;
	char *q = dq("BEGIN RETURN NEW; END");
	assert_string_equal(q, "$ecplan$BEGIN RETURN NEW; END$ecplan$");
	free(q);

	q = dq("x := '$ecplan$';");
	assert_string_equal(q, "$ecplan1$x := '$ecplan$';$ecplan1$");
	free(q);

	q = dq("$ecplan$ $ecplan1$ $ecplan2$");
	assert_string_equal(q, "$ecplan3$$ecplan$ $ecplan1$ $ecplan2$$ecplan3$");
	free(q);

	/* $ecplan1$ alone does not force a longer tag than needed. */
	q = dq("$ecplan1$");
	assert_string_equal(q, "$ecplan$$ecplan1$$ecplan$");
	free(q);

	q = dq("");
	assert_string_equal(q, "$ecplan$$ecplan$");
	free(q);
}

static void test_dollar_quote_lexes_as_one_string(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"plain body",
		"$ecplan$",
		"a $ecplan$ b $ecplan1$ c",
		"$$ dollar $$",
		"ends with $",
		"starts$",
		"ecplan$ at the start",
		/* A body that ends in the tag without its closing $: followed by the
		 * closing tag, "$ecplan" + "$ecplan$" holds "$ecplan$" one character
		 * early, so the string would end there and "ecplan$" would be left
		 * over as SQL. */
		"x := 1; -- $ecplan",
		"$ecplan$ and then $ecplan1",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char *q = dq(bodies[i]);
		const char *problem = dollar_quote_problem(q, bodies[i]);
		free(q);
		if (problem)
			fail_msg("%s", problem);
	}
}

/* ---- object names ----------------------------------------------------- */

/* True when s is well-formed UTF-8. */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n;
		if (*p < 0x80)
			n = 0;
		else if ((*p & 0xE0) == 0xC0)
			n = 1;
		else if ((*p & 0xF0) == 0xE0)
			n = 2;
		else if ((*p & 0xF8) == 0xF0)
			n = 3;
		else
			return false;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return true;
}

static void test_object_name_short(void **state)
{
	(void)state;
	char *n = ecplan_sql_object_name("ecplan_sync_", "users-email", "");
	assert_string_equal(n, "ecplan_sync_users-email");
	free(n);
	n = ecplan_sql_object_name("", "users_email_key", "_ecplan");
	assert_string_equal(n, "users_email_key_ecplan");
	free(n);
	/* Exactly 63 bytes is kept as is. */
	char name[64];
	memset(name, 'a', 51);
	name[51] = '\0';
	n = ecplan_sql_object_name("ecplan_sync_", name, ""); /* 12 + 51 = 63 */
	assert_int_equal(strlen(n), 63);
	assert_int_equal(strncmp(n, "ecplan_sync_", 12), 0);
	assert_string_equal(n + 12, name);
	free(n);
}

static void test_object_name_long(void **state)
{
	(void)state;
	char a[64], b[64];
	memset(a, 'a', 63);
	a[63] = '\0';
	memcpy(b, a, sizeof(a));
	b[62] = 'b'; /* differs only at the very end, in the part that is cut */

	char *na = ecplan_sql_object_name("zz_ecplan_sync_", a, "");
	char *na2 = ecplan_sql_object_name("zz_ecplan_sync_", a, "");
	char *nb = ecplan_sql_object_name("zz_ecplan_sync_", b, "");
	assert_true(strlen(na) <= 63);
	assert_true(strlen(nb) <= 63);
	assert_string_equal(na, na2);   /* stable */
	assert_string_not_equal(na, nb); /* distinct */
	assert_int_equal(strncmp(na, "zz_ecplan_sync_", 15), 0); /* prefix kept */
	free(na);
	free(na2);
	free(nb);

	/* The suffix is kept too. */
	char *ix = ecplan_sql_object_name("", a, "_ecplan");
	assert_true(strlen(ix) <= 63);
	assert_int_equal(strcmp(ix + strlen(ix) - 7, "_ecplan"), 0);
	free(ix);

	/* 64 bytes (one too many) is shortened. */
	char c[53];
	memset(c, 'c', 52);
	c[52] = '\0';
	char *nc = ecplan_sql_object_name("ecplan_sync_", c, "");
	assert_true(strlen(nc) <= 63);
	free(nc);
}

static void test_object_name_utf8(void **state)
{
	(void)state;
	/* Two-, three- and four-byte characters at every alignment relative to the
	 * cut: the result is never split inside a character. */
	static const char *const chars[] = { "é", "€", "𝄞", "ï" };
	for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++) {
		for (size_t pad = 0; pad < 4; pad++) {
			ecplan_strbuf name = ECPLAN_STRBUF_INIT;
			for (size_t i = 0; i < pad; i++)
				ecplan_strbuf_addch(&name, 'x');
			while (name.len < 80)
				ecplan_strbuf_adds(&name, chars[c]);
			static const char *const affixes[][2] = {
				{ "ecplan_sync_", "" }, { "zz_ecplan_sync_", "" }, { "", "_ecplan" },
			};
			for (size_t a = 0; a < 3; a++) {
				char *n = ecplan_sql_object_name(affixes[a][0], name.buf, affixes[a][1]);
				assert_true(strlen(n) <= 63);
				assert_true(strlen(n) >= 40); /* not cut down to nothing */
				assert_true(utf8_valid(n));
				free(n);
			}
			ecplan_strbuf_release(&name);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_init_empty),
		cmocka_unit_test(test_strbuf_growth),
		cmocka_unit_test(test_strbuf_add_binary_and_empty),
		cmocka_unit_test(test_strbuf_addf),
		cmocka_unit_test(test_strbuf_detach),
		cmocka_unit_test(test_xalloc),
		cmocka_unit_test(test_sql_ident),
		cmocka_unit_test(test_sql_literal),
		cmocka_unit_test(test_dollar_quote_tags),
		cmocka_unit_test(test_dollar_quote_lexes_as_one_string),
		cmocka_unit_test(test_object_name_short),
		cmocka_unit_test(test_object_name_long),
		cmocka_unit_test(test_object_name_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
