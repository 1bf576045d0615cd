/* Unit tests for db.h that need no server: target descriptions never show a
 * password, bad connection strings are reported without echoing secrets,
 * connection resolution order, SQLSTATE helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/db.h"

static void check_describe(const char *conninfo, const char *expected)
{
	char *d = ecplan_db_describe_target(conninfo);
	assert_non_null(d);
	assert_string_equal(d, expected);
	assert_null(strstr(d, "sekret"));
	assert_null(strstr(d, "password"));
	free(d);
}

static void test_describe_keywords(void **state)
{
	(void)state;
	check_describe(NULL, "");
	check_describe("", "");
	check_describe("host=/tmp/x port=5433 dbname=app user=bob password=sekret",
		       "host=/tmp/x port=5433 dbname=app user=bob");
	check_describe("password=sekret host=h", "host=h");
	check_describe("  password = 'sek ret'  host = h  ", "host=h");
	check_describe("host=h password='se\\'kret' sslpassword=sekret2 user=u", "host=h user=u");
	/* Order is always host, hostaddr, port, dbname, user. */
	check_describe("user=u dbname=d port=1 hostaddr=127.0.0.1 host=h",
		       "host=h hostaddr=127.0.0.1 port=1 dbname=d user=u");
	check_describe("host=a,b port=1,2 dbname=d", "host=a,b port=1,2 dbname=d");
	/* Values that need quoting are quoted as in a conninfo string. */
	check_describe("dbname='my app' user='o\\'brien'", "dbname='my app' user='o\\'brien'");
	/* Other options are left out. */
	check_describe("host=h sslmode=require application_name=x options='-c a=b'", "host=h");
}

static void test_describe_bare_name(void **state)
{
	(void)state;
	check_describe("mydb", "dbname=mydb");
	check_describe("my db", "dbname='my db'");
}

static void test_describe_uri(void **state)
{
	(void)state;
	check_describe("postgresql://bob:sekret@db.example.com:5433/app?sslmode=require",
		       "host=db.example.com port=5433 dbname=app user=bob");
	check_describe("postgres://bob:sek%40ret@h/app?password=sekret", "host=h dbname=app user=bob");
	check_describe("postgresql:///app?host=/tmp/x&password=sekret", "host=/tmp/x dbname=app");
	check_describe("postgresql://bob:sekret@[::1]:5432/app", "host=::1 port=5432 dbname=app user=bob");
	check_describe("postgresql://", "");
	check_describe("postgresql://h1:1,h2:2/d", "host=h1,h2 port=1,2 dbname=d");
}

static void test_describe_invalid(void **state)
{
	(void)state;
	check_describe("host=x password=se kret", "(invalid connection string)");
	check_describe("postgresql://u:sekret@[::1/db", "(invalid connection string)");
	check_describe("postgresql://u:sek%zzret@h/db", "(invalid connection string)");
	check_describe("nosuchoption=1", "(invalid connection string)");
}

/* A connection string libpq cannot parse: EINVALID, no secret in any field. */
static void check_invalid(const char *conninfo, const char *must_contain, const char *secret)
{
	ecplan_error err;
	PGconn *conn = (PGconn *)&err; /* must be reset to NULL */

	ecplan_error_clear(&err);
	assert_int_equal(ecplan_db_connect(&conn, conninfo, &err), ECPLAN_EINVALID);
	assert_null(conn);
	assert_int_equal(err.code, ECPLAN_EINVALID);
	assert_non_null(strstr(err.message, "invalid connection string from --db"));
	if (must_contain && !strstr(err.message, must_contain))
		fail_msg("message [%s] lacks [%s]", err.message, must_contain);
	if (strstr(err.message, secret) || strstr(err.detail, secret) || strstr(err.hint, secret))
		fail_msg("secret [%s] leaked: [%s] [%s] [%s]", secret, err.message, err.detail, err.hint);
	assert_true(err.hint[0] != '\0');
}

static void test_connect_invalid_never_echoes_password(void **state)
{
	(void)state;
	/* libpq itself would quote the whole URI, or the word after the space. */
	check_invalid("postgresql://u:sekret@[::1/db", "IPv6", "sekret");
	check_invalid("host=x password=se kret", "missing \"=\"", "kret");
	check_invalid("postgresql://u:sek%zzret@h/db", "percent-encoded", "zzret");
	check_invalid("host=x password='sekret", "unterminated", "sekret");
	/* Keywords are not secrets: they stay, so typos are easy to spot. */
	check_invalid("hostt=x", "\"hostt\"", "\x01");
	check_invalid("postgresql://u:sekret@h/db?foo=bar", "\"foo\"", "sekret");
	check_invalid("postgresql://u:sekret@h/db?host", "\"host\"", "sekret");
	/* A keyword-looking piece of a password is blanked, not echoed. */
	check_invalid("host=x password=a secret", "\"...\"", "secret");
}

static void test_connect_failure_names_target_not_password(void **state)
{
	ecplan_error err;
	PGconn *conn = NULL;
	(void)state;

	setenv("PGPASSWORD", "sekret-from-env", 1);
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_db_connect(&conn,
					   "host=/nonexistent-ecplan-dir port=1 dbname=app user=bob "
					   "password=sekret",
					   &err),
			 ECPLAN_ERR);
	unsetenv("PGPASSWORD");
	assert_null(conn);
	assert_non_null(strstr(err.message, "could not connect to the database"));
	assert_non_null(strstr(err.message, "host=/nonexistent-ecplan-dir port=1 dbname=app user=bob"));
	assert_non_null(strstr(err.detail, "/nonexistent-ecplan-dir"));
	assert_non_null(strstr(err.hint, "--db"));
	assert_null(strstr(err.message, "sekret"));
	assert_null(strstr(err.detail, "sekret"));
	assert_null(strstr(err.hint, "sekret"));
}

static void test_connect_first_error_wins(void **state)
{
	ecplan_error err;
	PGconn *conn = NULL;
	(void)state;

	ecplan_error_clear(&err);
	ecplan_error_set(&err, ECPLAN_EGATE, "earlier");
	assert_int_equal(ecplan_db_connect(&conn, "hostt=x", &err), ECPLAN_EINVALID);
	assert_int_equal(err.code, ECPLAN_EGATE);
	assert_string_equal(err.message, "earlier");
	assert_string_equal(err.hint, "");
	/* NULL err is allowed. */
	assert_int_equal(ecplan_db_connect(&conn, "hostt=x", NULL), ECPLAN_EINVALID);
}

static void test_resolve(void **state)
{
	ecplan_db_source src;
	(void)state;

	unsetenv("ECPLAN_DB");
	unsetenv("DATABASE_URL");
	assert_string_equal(ecplan_db_resolve(NULL, &src), "");
	assert_int_equal(src, ECPLAN_DB_FROM_DEFAULTS);
	assert_string_equal(ecplan_db_source_name(src), "the PG* environment variables");

	setenv("DATABASE_URL", "postgresql:///fromurl", 1);
	assert_string_equal(ecplan_db_resolve(NULL, &src), "postgresql:///fromurl");
	assert_int_equal(src, ECPLAN_DB_FROM_DATABASE_URL);
	assert_string_equal(ecplan_db_source_name(src), "DATABASE_URL");

	setenv("ECPLAN_DB", "dbname=fromecplan", 1);
	assert_string_equal(ecplan_db_resolve(NULL, &src), "dbname=fromecplan");
	assert_int_equal(src, ECPLAN_DB_FROM_ECPLAN_DB);

	assert_string_equal(ecplan_db_resolve("dbname=opt", &src), "dbname=opt");
	assert_int_equal(src, ECPLAN_DB_FROM_OPTION);
	assert_string_equal(ecplan_db_source_name(src), "--db");
	/* --db "" is explicit: libpq defaults, but chosen by the option. */
	assert_string_equal(ecplan_db_resolve("", &src), "");
	assert_int_equal(src, ECPLAN_DB_FROM_OPTION);

	/* Empty variables count as unset. */
	setenv("ECPLAN_DB", "", 1);
	assert_string_equal(ecplan_db_resolve(NULL, NULL), "postgresql:///fromurl");
	setenv("DATABASE_URL", "", 1);
	assert_string_equal(ecplan_db_resolve(NULL, &src), "");
	assert_int_equal(src, ECPLAN_DB_FROM_DEFAULTS);
	unsetenv("ECPLAN_DB");
	unsetenv("DATABASE_URL");
}

static void test_sqlstate_helpers(void **state)
{
	ecplan_error err;
	(void)state;

	ecplan_error_clear(&err);
	assert_false(ecplan_db_error_is_lock_timeout(&err));
	assert_false(ecplan_db_error_is_lock_timeout(NULL));
	ecplan_error_set(&err, ECPLAN_ERR, "canceling statement due to lock timeout");
	strcpy(err.sqlstate, ECPLAN_SQLSTATE_LOCK_NOT_AVAILABLE);
	assert_true(ecplan_db_error_is_lock_timeout(&err));
	assert_true(ecplan_db_error_is(&err, "55P03"));
	assert_false(ecplan_db_error_is(&err, ECPLAN_SQLSTATE_QUERY_CANCELED));
	assert_false(ecplan_db_error_is(&err, NULL));
}

static void check_mask(const char *in, const char *expected)
{
	char *m = ecplan_db_mask_password(in);
	if (!expected) {
		assert_null(m);
		return;
	}
	assert_non_null(m);
	assert_string_equal(m, expected);
	assert_null(strstr(m, "sekret"));
	free(m);
}

/* --db as the process list shows it once ecplan masked it. */
static void test_mask_password(void **state)
{
	(void)state;
	check_mask("postgresql://app:sekret@db1/app", "postgresql://app:***@db1/app");
	check_mask("postgres://app:sekret@db1:5432/app?sslmode=require",
		   "postgres://app:***@db1:5432/app?sslmode=require");
	check_mask("postgresql://app:se@kret@db1/app", "postgresql://app:***@db1/app");
	check_mask("postgresql://app:sekret@/app?host=/tmp&password=sekret2&port=5",
		   "postgresql://app:***@/app?host=/tmp&password=***&port=5");
	check_mask("postgresql://app@db1/app?sslpassword=sekret", "postgresql://app@db1/app?sslpassword=***");
	check_mask("postgresql://app@db1/app", NULL);
	check_mask("postgresql://db1/app?user=x", NULL);
	check_mask("host=db1 password=sekret dbname=app", "host=db1 password=*** dbname=app");
	check_mask("host=db1 password = 'se kret\\' x' dbname=app", "host=db1 password = *** dbname=app");
	check_mask("password=sekret", "password=***");
	check_mask("sslpassword=sekret host=h", "sslpassword=*** host=h");
	check_mask("host=db1 user=password dbname=app", NULL);
	check_mask("host=db1 dbname=app", NULL);
	check_mask("app", NULL);
	check_mask("", NULL);
	check_mask(NULL, NULL);
}

/* Retryable: the transaction left nothing and running it again can work. */
static void test_retryable(void **state)
{
	static const struct { const char *sqlstate; bool retryable; } cases[] = {
		{ "55P03", true },  /* lock_timeout */
		{ "40001", true },  /* serialization_failure */
		{ "40P01", true },  /* deadlock_detected */
		{ "57014", false }, /* statement_timeout / cancel */
		{ "40002", false }, /* integrity constraint violation at commit */
		{ "23505", false }, /* unique_violation */
		{ "42501", false }, /* insufficient_privilege */
		{ "", false },
	};
	ecplan_error err;
	(void)state;

	ecplan_error_clear(&err);
	assert_false(ecplan_db_error_is_retryable(&err));
	assert_false(ecplan_db_error_is_retryable(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecplan_error_clear(&err);
		ecplan_error_set(&err, ECPLAN_ERR, "some error");
		strcpy(err.sqlstate, cases[i].sqlstate);
		if (ecplan_db_error_is_retryable(&err) != cases[i].retryable)
			fail_msg("SQLSTATE \"%s\": expected retryable = %d", cases[i].sqlstate,
				 (int)cases[i].retryable);
	}
	/* No error at all, even with a SQLSTATE left in it, is not retryable. */
	ecplan_error_clear(&err);
	strcpy(err.sqlstate, "40P01");
	assert_false(ecplan_db_error_is_retryable(&err));
}

static void test_error_without_connection(void **state)
{
	ecplan_error err;
	(void)state;

	ecplan_error_clear(&err);
	assert_int_equal(ecplan_db_error_from_result(&err, NULL, NULL), ECPLAN_ERR);
	assert_int_equal(err.code, ECPLAN_ERR);
	assert_string_equal(err.message, "connection to the database was lost");
	assert_int_equal(ecplan_db_server_version(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_keywords),
		cmocka_unit_test(test_describe_bare_name),
		cmocka_unit_test(test_describe_uri),
		cmocka_unit_test(test_describe_invalid),
		cmocka_unit_test(test_connect_invalid_never_echoes_password),
		cmocka_unit_test(test_connect_failure_names_target_not_password),
		cmocka_unit_test(test_connect_first_error_wins),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_sqlstate_helpers),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_mask_password),
		cmocka_unit_test(test_error_without_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
