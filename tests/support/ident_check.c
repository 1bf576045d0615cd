/*
 * ident_check: checks the project rule "every identifier that reaches SQL is
 * quoted exactly as libpq's PQescapeIdentifier would" against libpq itself,
 * and that the quoted names survive a round trip through a real server.
 *
 * For each hostile name:
 *   1. ecplan_sql_ident() == PQescapeIdentifier(), byte for byte (and
 *      ecplan_sql_ident_dup(), ecplan_sql_qualified() agree);
 *   2. CREATE TABLE <qualified>(<ident> int) works, the table and its column
 *      are found in pg_class/pg_attribute by the raw name passed as a query
 *      parameter (never spliced into SQL), and DROP TABLE <ident> removes it.
 * Literals get the same treatment against PQescapeLiteral, since
 * include/ecplan/sql.h promises the same for them.
 *
 * Connects with PQconnectdb("") (the PG* environment: scripts/pg.sh) to the
 * database it is given, normally a fresh one made by the integration test
 * tests/integration/ident_quoting.sh. Prints one line per case.
 * Exit status: 0 all passed, 1 some check failed, 2 could not run.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

static int failures;
static int checks;

/* Prints s with non-printable bytes escaped so names with newlines stay on one line. */
static void print_escaped(FILE *f, const char *s)
{
	fputc('[', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\\')
			fputs("\\\\", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f); /* UTF-8 bytes >= 0x80 print as themselves */
	}
	fputc(']', f);
}

/* Counts a check; a failing one is printed at once, passing ones are summed up
 * per case by case_done(). */
static int case_failures;
static void report(int ok, const char *what, const char *label, const char *detail)
{
	checks++;
	if (ok)
		return;
	failures++;
	case_failures++;
	printf("FAIL %-10s %-16s %s\n", what, label, detail ? detail : "");
}

static void case_begin(void)
{
	case_failures = 0;
}

/* One line per case: what was checked and the quoted form, escaped. */
static void case_done(const char *what, const char *label, const char *quoted, const char *note)
{
	if (case_failures)
		return;
	printf("ok   %-10s %-16s ", what, label);
	print_escaped(stdout, quoted);
	printf("%s%s\n", note ? "  " : "", note ? note : "");
}

static void report_mismatch(const char *what, const char *label, const char *name,
			    const char *ours, const char *libpq)
{
	report(0, what, label, "");
	printf("     name:   ");
	print_escaped(stdout, name);
	printf("\n     ecplan: ");
	print_escaped(stdout, ours);
	printf("\n     libpq:  ");
	print_escaped(stdout, libpq ? libpq : "(NULL)");
	printf("\n");
}

/* Runs a command with no result rows; on error records a failure unless expect_error. */
static int exec_ok(PGconn *conn, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok && errbuf)
		snprintf(errbuf, errlen, "%s", PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

struct ident_case {
	const char *label;
	const char *name;
	/* What the server stores: NULL = name itself; differs when a name is longer
	 * than 63 bytes (NAMEDATALEN - 1) and the server truncates it. */
	const char *stored;
	/* 0: the server must reject the name (the empty identifier). */
	int creatable;
};

static char *repeat(const char *unit, int n, const char *tail)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (int i = 0; i < n; i++)
		ecplan_strbuf_adds(&sb, unit);
	ecplan_strbuf_adds(&sb, tail);
	return ecplan_strbuf_detach(&sb);
}

static void check_ident(PGconn *conn, const char *schema, const struct ident_case *c)
{
	const char *stored = c->stored ? c->stored : c->name;
	char err[1024];

	const char *note = NULL;
	case_begin();
	/* 1. Byte-for-byte against libpq. */
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_sql_ident(&sb, c->name);
	char *libpq = PQescapeIdentifier(conn, c->name, strlen(c->name));
	if (!libpq) {
		report(0, "ident", c->label, PQerrorMessage(conn));
		ecplan_strbuf_release(&sb);
		return;
	}
	if (strcmp(sb.buf, libpq) == 0)
		report(1, "ident", c->label, NULL);
	else
		report_mismatch("ident", c->label, c->name, sb.buf, libpq);

	char *dup = ecplan_sql_ident_dup(c->name);
	if (strcmp(dup, libpq) == 0)
		report(1, "ident_dup", c->label, "");
	else
		report_mismatch("ident_dup", c->label, c->name, dup, libpq);
	free(dup);

	char *libpq_schema = PQescapeIdentifier(conn, schema, strlen(schema));
	ecplan_strbuf want = ECPLAN_STRBUF_INIT, qual = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&want, "%s.%s", libpq_schema ? libpq_schema : "(NULL)", libpq);
	ecplan_sql_qualified(&qual, schema, c->name);
	if (strcmp(qual.buf, want.buf) == 0)
		report(1, "qualified", c->label, "");
	else
		report_mismatch("qualified", c->label, c->name, qual.buf, want.buf);
	PQfreemem(libpq_schema);

	/* 2. Round trip through the server, always with ecplan's quoting. */
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sql, "CREATE TABLE %s (%s int)", qual.buf, sb.buf);
	int created = exec_ok(conn, sql.buf, err, sizeof(err));
	if (!c->creatable) {
		report(!created, "roundtrip", c->label, "server accepted a name it must reject");
		note = "(server rejects it, as it must)";
		if (created) {
			ecplan_strbuf_reset(&sql);
			ecplan_strbuf_addf(&sql, "DROP TABLE %s", qual.buf);
			exec_ok(conn, sql.buf, NULL, 0);
		}
		goto out;
	}
	if (!created) {
		report(0, "roundtrip", c->label, err);
		goto out;
	}

	const char *params[2] = { schema, stored };
	PGresult *res = PQexecParams(conn,
		"SELECT c.relname::text, a.attname::text"
		"  FROM pg_catalog.pg_class c"
		"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		"  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1"
		" WHERE n.nspname = $1 AND c.relname = $2",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		report(0, "roundtrip", c->label, PQresultErrorMessage(res));
	} else if (PQntuples(res) != 1) {
		char msg[128];
		snprintf(msg, sizeof(msg), "found %d tables by name in pg_class, want 1", PQntuples(res));
		report(0, "roundtrip", c->label, msg);
	} else if (strcmp(PQgetvalue(res, 0, 0), stored) != 0 || strcmp(PQgetvalue(res, 0, 1), stored) != 0) {
		report_mismatch("roundtrip", c->label, stored, PQgetvalue(res, 0, 1), stored);
	} else {
		report(1, "roundtrip", c->label, NULL);
		note = c->stored ? "(created, found truncated to 63 bytes)" : "(created, found by name)";
	}
	PQclear(res);

	/* Dropping by the same quoted name must find the table again. */
	ecplan_strbuf_reset(&sql);
	ecplan_strbuf_addf(&sql, "DROP TABLE %s", qual.buf);
	if (!exec_ok(conn, sql.buf, err, sizeof(err)))
		report(0, "drop", c->label, err);
out:
	case_done("ident", c->label, sb.buf, note);
	ecplan_strbuf_release(&sql);
	ecplan_strbuf_release(&want);
	ecplan_strbuf_release(&qual);
	ecplan_strbuf_release(&sb);
	PQfreemem(libpq);
}

static void check_literal(PGconn *conn, const char *label, const char *text)
{
	case_begin();
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_sql_literal(&sb, text);
	char *libpq = PQescapeLiteral(conn, text, strlen(text));
	if (!libpq) {
		report(0, "literal", label, PQerrorMessage(conn));
		ecplan_strbuf_release(&sb);
		return;
	}
	if (strcmp(sb.buf, libpq) == 0)
		report(1, "literal", label, NULL);
	else
		report_mismatch("literal", label, text, sb.buf, libpq);

	/* The server reads the literal back as the original text. */
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sql, "SELECT (%s)::text = $1", sb.buf);
	const char *params[1] = { text };
	PGresult *res = PQexecParams(conn, sql.buf, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		report(0, "lit_trip", label, PQresultErrorMessage(res));
	else
		report(strcmp(PQgetvalue(res, 0, 0), "t") == 0, "lit_trip", label,
		       "server reads back different text");
	PQclear(res);
	case_done("literal", label, sb.buf, "(server reads back the same text)");
	ecplan_strbuf_release(&sql);
	ecplan_strbuf_release(&sb);
	PQfreemem(libpq);
}

int main(void)
{
	PGconn *conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "ident_check: cannot connect (PG* environment): %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 2;
	}
	/* PQescapeIdentifier checks multibyte characters against the client encoding;
	 * ecplan talks UTF-8, so compare under UTF-8 whatever the environment says. */
	if (PQsetClientEncoding(conn, "UTF8") != 0) {
		fprintf(stderr, "ident_check: cannot set client_encoding UTF8: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 2;
	}
	/* The 64-byte names draw a truncation NOTICE per statement: noise here. */
	exec_ok(conn, "SET client_min_messages = warning", NULL, 0);
	/* The literal round trip below assumes this (as sql.h does). */
	if (!exec_ok(conn, "SET standard_conforming_strings = on", NULL, 0)) {
		fprintf(stderr, "ident_check: cannot set standard_conforming_strings\n");
		PQfinish(conn);
		return 2;
	}
	/* Canary: a name like `x;DROP TABLE y` must not drop it. */
	char err[1024];
	if (!exec_ok(conn, "CREATE TABLE public.y (canary int)", err, sizeof(err))) {
		fprintf(stderr, "ident_check: cannot create the canary table (run in a fresh database): %s", err);
		PQfinish(conn);
		return 2;
	}

	char *a63 = repeat("a", 63, "");            /* exactly NAMEDATALEN - 1 */
	char *a70 = repeat("b", 70, "");            /* truncated by the server */
	char *b63 = repeat("b", 63, "");
	char *e63 = repeat("\xc3\xa9", 31, "x");    /* é x31 + x: 63 bytes of UTF-8 */
	char *e64 = repeat("\xc3\xa9", 32, "");     /* 64 bytes: cut at a character boundary */
	char *e62 = repeat("\xc3\xa9", 31, "");
	const struct ident_case cases[] = {
		{ "plain", "users", NULL, 1 },
		{ "upper case", "Users", NULL, 1 },
		{ "keyword", "select", NULL, 1 },
		{ "embedded quotes", "Weird \"Table\"", NULL, 1 },
		{ "accented", "na\xc3\xafve col", NULL, 1 },
		{ "doubled quotes", "a\"\"b", NULL, 1 },
		{ "one quote", "\"", NULL, 1 },
		{ "two quotes", "\"\"", NULL, 1 },
		{ "empty", "", NULL, 0 },
		{ "injection", "x;DROP TABLE y", NULL, 1 },
		{ "injection 2", "x\"; DROP TABLE y; --", NULL, 1 },
		{ "63 bytes", a63, NULL, 1 },
		{ "70 bytes", a70, b63, 1 },
		{ "63 bytes UTF-8", e63, NULL, 1 },
		{ "64 bytes UTF-8", e64, e62, 1 },
		{ "CJK", "\xe5\x88\x97\xe5\x90\x8d", NULL, 1 },
		{ "emoji", "\xf0\x9f\x98\x80 col", NULL, 1 },
		{ "backslash", "a\\b", NULL, 1 },
		{ "newline", "a\nb", NULL, 1 },
		{ "tab", "a\tb", NULL, 1 },
		{ "single quote", "it's", NULL, 1 },
		{ "dollar param", "$1", NULL, 1 },
		{ "dollar quote", "$$x$$", NULL, 1 },
		{ "percent", "%s", NULL, 1 },
		{ "spaces", " lead and trail ", NULL, 1 },
		{ "dot", "a.b", NULL, 1 },
	};
	const char *schemas[] = { "public", "Sch \"1\".x" };

	for (size_t s = 0; s < sizeof(schemas) / sizeof(schemas[0]); s++) {
		if (strcmp(schemas[s], "public") != 0) {
			char *qs = ecplan_sql_ident_dup(schemas[s]);
			char *sql = ecplan_xstrfmt("CREATE SCHEMA %s", qs);
			case_begin();
			if (!exec_ok(conn, sql, err, sizeof(err)))
				report(0, "schema", schemas[s], err);
			free(sql);
			free(qs);
		}
		printf("-- schema ");
		print_escaped(stdout, schemas[s]);
		printf("\n");
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			check_ident(conn, schemas[s], &cases[i]);
	}

	PGresult *res = PQexec(conn, "SELECT count(*) FROM pg_catalog.pg_class WHERE oid = 'public.y'::regclass");
	case_begin();
	report(PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "1") == 0,
	       "canary", "table y", "gone after the injection names");
	case_done("canary", "table y", "y", "(still there after the injection names)");
	PQclear(res);

	printf("-- literals\n");
	const char *literals[][2] = {
		{ "plain", "hello" },
		{ "empty", "" },
		{ "single quote", "it's" },
		{ "two quotes", "''" },
		{ "backslash", "a\\b" },
		{ "quote+backslash", "\\'; DROP TABLE y; --" },
		{ "double quote", "say \"hi\"" },
		{ "newline", "a\nb" },
		{ "UTF-8", "na\xc3\xafve \xe5\x88\x97" },
		{ "dollar", "$ecplan$" },
	};
	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
		check_literal(conn, literals[i][0], literals[i][1]);

	free(a63);
	free(a70);
	free(b63);
	free(e63);
	free(e64);
	free(e62);
	PQfinish(conn);
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
