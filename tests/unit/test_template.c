/* Unit tests for template.h: every variable, escaping rules, and the
 * up-front check (unset env, unknown names, secret_env) without leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/template.h"

#define SECRET_VALUE "s3cr3t-t0ken-value"

/* A fake environment, so the tests do not depend on the real one. */
static const char *fake_env(const char *name, void *ctx)
{
	static const char *const env[][2] = {
		{ "TOKEN", SECRET_VALUE },
		{ "HOOK_URL", "https://hooks.example.com/services/T0/B0/" SECRET_VALUE },
		{ "EMPTY", "" },
		{ "MULTI", "a\r\nX-Injected: 1" },
		{ "SIGNING", "whsec_" SECRET_VALUE },
		{ "QUOTE", "say \"hi\"" },
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (!strcmp(name, env[i][0]))
			return env[i][1];
	return NULL;
}

static ecplan_template_vars vars(void)
{
	ecplan_template_vars v = {
		.plan_name = "users-email", .event = "backfill.before", .phase = "backfill",
		.table = "users", .column = "email", .new_column = "email_new",
		.env = fake_env,
	};
	return v;
}

static char *render_ok(const char *tmpl, const ecplan_template_vars *v, unsigned flags)
{
	char *out = (char *)1;
	ecplan_error err;
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_template_render(&out, tmpl, v, flags, &err), 0);
	assert_int_equal(err.code, 0);
	assert_non_null(out);
	return out;
}

#define ASSERT_RENDERS(tmpl, v, flags, want) do { \
	char *got_ = render_ok(tmpl, v, flags); \
	assert_string_equal(got_, want); \
	free(got_); \
} while (0)

static void render_fails(const char *tmpl, const ecplan_template_vars *v, unsigned flags,
			 const char *want_in_message)
{
	char *out = (char *)1;
	ecplan_error err;
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_template_render(&out, tmpl, v, flags, &err), ECPLAN_EINVALID);
	assert_null(out);
	assert_int_equal(err.code, ECPLAN_EINVALID);
	if (!strstr(err.message, want_in_message))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, want_in_message);
	assert_true(err.hint[0] != '\0');
	assert_null(strstr(err.message, SECRET_VALUE));
	assert_null(strstr(err.hint, SECRET_VALUE));
}

static void test_all_variables(void **state)
{
	ecplan_template_vars v = vars();
	(void)state;
	ASSERT_RENDERS("${plan.name}|${event}|${phase}|${table}|${column}|${new_column}|${env.TOKEN}",
		       &v, ECPLAN_TEMPLATE_RAW,
		       "users-email|backfill.before|backfill|users|email|email_new|" SECRET_VALUE);
	ASSERT_RENDERS("Bearer ${env.TOKEN}", &v, ECPLAN_TEMPLATE_RAW, "Bearer " SECRET_VALUE);
	ASSERT_RENDERS("", &v, ECPLAN_TEMPLATE_RAW, "");
	ASSERT_RENDERS("no references", &v, ECPLAN_TEMPLATE_RAW, "no references");
	ASSERT_RENDERS("${event}${event}", &v, ECPLAN_TEMPLATE_RAW, "backfill.beforebackfill.before");
	/* set but empty is "" */
	ASSERT_RENDERS("[${env.EMPTY}]", &v, ECPLAN_TEMPLATE_RAW, "[]");
	/* NULL values are "" */
	v.phase = NULL;
	ASSERT_RENDERS("[${phase}]", &v, ECPLAN_TEMPLATE_RAW, "[]");
	ASSERT_RENDERS("[${table}]", NULL, ECPLAN_TEMPLATE_RAW, "[]");
}

static void test_escapes(void **state)
{
	ecplan_template_vars v = vars();
	(void)state;
	ASSERT_RENDERS("$${event}", &v, ECPLAN_TEMPLATE_RAW, "${event}");
	ASSERT_RENDERS("$${env.UNSET_THING}", &v, ECPLAN_TEMPLATE_RAW, "${env.UNSET_THING}");
	ASSERT_RENDERS("costs $5, $$ and a$b", &v, ECPLAN_TEMPLATE_RAW, "costs $5, $$ and a$b");
	ASSERT_RENDERS("$", &v, ECPLAN_TEMPLATE_RAW, "$");
	ASSERT_RENDERS("trailing $$", &v, ECPLAN_TEMPLATE_RAW, "trailing $$");
	ASSERT_RENDERS("$$${event}", &v, ECPLAN_TEMPLATE_RAW, "$${event}");
	ASSERT_RENDERS("{event} }", &v, ECPLAN_TEMPLATE_RAW, "{event} }");
}

static void test_json_and_url_encoding(void **state)
{
	ecplan_template_vars v = vars();
	(void)state;
	v.table = "Weird \"Table\"";
	v.column = "naïve col\\\n";
	ASSERT_RENDERS("{\"t\":\"${table}\",\"c\":\"${column}\",\"q\":\"${env.QUOTE}\"}",
		       &v, ECPLAN_TEMPLATE_JSON,
		       "{\"t\":\"Weird \\\"Table\\\"\",\"c\":\"naïve col\\\\\\n\",\"q\":\"say \\\"hi\\\"\"}");
	/* url: plan values percent-encoded, env verbatim (a whole url may come from it) */
	ASSERT_RENDERS("https://x.example/${table}?c=${column}", &v, ECPLAN_TEMPLATE_URL,
		       "https://x.example/Weird%20%22Table%22?c=na%C3%AFve%20col%5C%0A");
	ASSERT_RENDERS("${env.HOOK_URL}?e=${event}", &v, ECPLAN_TEMPLATE_URL,
		       "https://hooks.example.com/services/T0/B0/" SECRET_VALUE "?e=backfill.before");
	/* raw: as is */
	ASSERT_RENDERS("${table}", &v, ECPLAN_TEMPLATE_RAW, "Weird \"Table\"");
}

static void test_keep_env(void **state)
{
	ecplan_template_vars v = vars();
	(void)state;
	ASSERT_RENDERS("${env.HOOK_URL}/${table}", &v, ECPLAN_TEMPLATE_KEEP_ENV | ECPLAN_TEMPLATE_URL,
		       "${env.HOOK_URL}/users");
	/* unset variables are no error when kept */
	ASSERT_RENDERS("${env.NOT_SET_ANYWHERE}", &v, ECPLAN_TEMPLATE_KEEP_ENV,
		       "${env.NOT_SET_ANYWHERE}");
	assert_true(ecplan_template_uses_env("x ${env.A} y"));
	assert_false(ecplan_template_uses_env("x $${env.A} ${event}"));
	assert_false(ecplan_template_uses_env(NULL));
}

static void test_errors(void **state)
{
	ecplan_template_vars v = vars();
	(void)state;
	render_fails("Bearer ${env.NOT_SET_ANYWHERE}", &v, 0,
		     "environment variable \"NOT_SET_ANYWHERE\" is not set");
	render_fails("${evnet}", &v, 0, "unknown variable \"${evnet}\"");
	render_fails("${}", &v, 0, "unknown variable \"${}\"");
	render_fails("${ event }", &v, 0, "unknown variable \"${ event }\"");
	render_fails("${plan.table}", &v, 0, "unknown variable \"${plan.table}\"");
	render_fails("${env.}", &v, 0, "unknown variable \"${env.}\"");
	render_fails("${env.1ABC}", &v, 0, "invalid environment variable name");
	render_fails("${env.A-B}", &v, 0, "invalid environment variable name");
	render_fails("abc ${event", &v, 0, "unterminated \"${\" at offset 4");
	/* the first problem wins */
	render_fails("${nope} ${env.NOT_SET_ANYWHERE}", &v, 0, "unknown variable \"${nope}\"");
	/* err may be NULL */
	char *out = NULL;
	assert_int_equal(ecplan_template_render(&out, "${nope}", &v, 0, NULL), ECPLAN_EINVALID);
	assert_null(out);
}

static void test_real_getenv(void **state)
{
	ecplan_template_vars v = vars();
	(void)state;
	v.env = NULL;
	setenv("ECPLAN_TEST_TEMPLATE_VAR", "from-env", 1);
	unsetenv("ECPLAN_TEST_TEMPLATE_UNSET");
	ASSERT_RENDERS("${env.ECPLAN_TEST_TEMPLATE_VAR}", &v, 0, "from-env");
	render_fails("${env.ECPLAN_TEST_TEMPLATE_UNSET}", &v, 0, "\"ECPLAN_TEST_TEMPLATE_UNSET\" is not set");
}

static bool diags_has(const ecplan_diags *d, const char *path, const char *msg_part)
{
	for (size_t i = 0; i < d->count; i++)
		if (!strcmp(d->items[i].path, path) && strstr(d->items[i].message, msg_part))
			return true;
	return false;
}

static void assert_no_secret(const ecplan_diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		assert_null(strstr(d->items[i].message, SECRET_VALUE));
		assert_null(strstr(d->items[i].detail, SECRET_VALUE));
		assert_null(strstr(d->items[i].hint, SECRET_VALUE));
	}
}

static void test_check_webhook_ok(void **state)
{
	ecplan_header headers[] = {
		{ (char *)"Authorization", (char *)"Bearer ${env.TOKEN}" },
		{ (char *)"X-Plan", (char *)"${plan.name}/${phase}" },
	};
	ecplan_webhook_spec spec = {
		.name = (char *)"flags", .url = (char *)"${env.HOOK_URL}",
		.body = (char *)"{\"e\":\"${event}\",\"t\":\"${table}\"}",
		.secret_env = (char *)"SIGNING", .headers = headers, .nheaders = 2,
	};
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	(void)state;
	assert_int_equal(ecplan_template_check_webhook(&spec, 0, "p.json", fake_env, NULL, &d), 0);
	assert_int_equal(d.count, 0);
	ecplan_diags_release(&d);
}

static void test_check_webhook_problems(void **state)
{
	ecplan_header headers[] = {
		{ (char *)"Authorization", (char *)"Bearer ${env.TOKEN_UNSET}" },
		{ (char *)"X-Multi", (char *)"${env.MULTI}" },
		{ (char *)"X-Ecplan-Event", (char *)"mine" },
		{ (char *)"Bad Name", (char *)"x" },
		{ (char *)"X-Token", (char *)"${env.TOKEN}" },
	};
	ecplan_webhook_spec spec = {
		.name = (char *)"flags", .url = (char *)"ftp://${env.TOKEN}@x/${tabel}",
		.body = (char *)"{\"a\":\"${env.ALSO_UNSET}\",\"b\":\"${eventt}\"}",
		.secret_env = (char *)"SECRET_UNSET", .headers = headers, .nheaders = 5,
	};
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	(void)state;
	assert_int_equal(ecplan_template_check_webhook(&spec, 2, "plans/p.json", fake_env, NULL, &d),
			 ECPLAN_EINVALID);
	/* every problem, each naming webhook and variable, with its path */
	assert_true(diags_has(&d, "$.webhooks[2].url", "webhook \"flags\": unknown variable \"${tabel}\""));
	assert_true(diags_has(&d, "$.webhooks[2].headers.Authorization",
			      "webhook \"flags\": environment variable \"TOKEN_UNSET\" is not set"));
	assert_true(diags_has(&d, "$.webhooks[2].headers.X-Multi", "contains a line break"));
	assert_true(diags_has(&d, "$.webhooks[2].headers.X-Ecplan-Event", "is set by ecplan"));
	assert_true(diags_has(&d, "$.webhooks[2].headers.Bad Name", "invalid header name"));
	assert_true(diags_has(&d, "$.webhooks[2].body", "\"ALSO_UNSET\" is not set"));
	assert_true(diags_has(&d, "$.webhooks[2].body", "unknown variable \"${eventt}\""));
	assert_true(diags_has(&d, "$.webhooks[2].secret_env",
			      "environment variable \"SECRET_UNSET\" named by secret_env is not set"));
	assert_int_equal(d.count, 8);
	for (size_t i = 0; i < d.count; i++) {
		assert_int_equal(d.items[i].code, ECPLAN_EINVALID);
		assert_string_equal(d.items[i].source, "plans/p.json");
		assert_true(d.items[i].hint[0] != '\0');
	}
	assert_no_secret(&d);
	ecplan_diags_release(&d);
}

static void test_check_scheme_empty_secret(void **state)
{
	ecplan_webhook_spec spec = {
		.name = (char *)"w", .url = (char *)"${env.TOKEN}", .secret_env = (char *)"EMPTY",
	};
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	(void)state;
	assert_int_equal(ecplan_template_check_webhook(&spec, 0, NULL, fake_env, NULL, &d),
			 ECPLAN_EINVALID);
	assert_true(diags_has(&d, "$.webhooks[0].url", "must start with http:// or https://"));
	assert_true(diags_has(&d, "$.webhooks[0].secret_env", "is empty"));
	assert_int_equal(d.count, 2);
	assert_string_equal(d.items[0].source, "");
	assert_no_secret(&d);
	ecplan_diags_release(&d);
}

static void test_check_plan(void **state)
{
	ecplan_webhook_spec hooks[] = {
		{ .name = (char *)"ok", .url = (char *)"https://a.example/${table}" },
		{ .name = (char *)"bad", .url = (char *)"https://b.example/?k=${env.NOPE_NOT_SET}" },
	};
	ecplan_plan plan = { .source = (char *)"plans/x.json", .webhooks = hooks, .nwebhooks = 2 };
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	(void)state;
	assert_int_equal(ecplan_template_check_plan(&plan, fake_env, NULL, &d), ECPLAN_EINVALID);
	assert_int_equal(d.count, 1);
	assert_string_equal(d.items[0].path, "$.webhooks[1].url");
	assert_string_equal(d.items[0].source, "plans/x.json");
	assert_string_equal(d.items[0].message,
			    "webhook \"bad\": environment variable \"NOPE_NOT_SET\" is not set");
	ecplan_diags_release(&d);

	plan.nwebhooks = 1;
	assert_int_equal(ecplan_template_check_plan(&plan, fake_env, NULL, &d), 0);
	assert_int_equal(d.count, 0);
	ecplan_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_variables),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_json_and_url_encoding),
		cmocka_unit_test(test_keep_env),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_real_getenv),
		cmocka_unit_test(test_check_webhook_ok),
		cmocka_unit_test(test_check_webhook_problems),
		cmocka_unit_test(test_check_scheme_empty_secret),
		cmocka_unit_test(test_check_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
