/*
 * Unit tests for webhook.h. Rendering, url redaction and the curl classifier
 * are checked without a network; delivery is checked against
 * tests/support/hook_server.py, started here on 127.0.0.1 with a script per
 * path. The injected sleep records the delays instead of waiting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ecplan/sign.h"
#include "ecplan/webhook.h"

#define SECRET_VALUE "s3cr3t-t0ken-value"
#define SIGNING_SECRET "whsec_signing-key-42"
#define NOW 1795578137LL /* 2026-11-25T03:42:17Z */

static const char *fake_env(const char *name, void *ctx)
{
	static const char *const env[][2] = {
		{ "TOKEN", SECRET_VALUE },
		{ "SIGNING", SIGNING_SECRET },
		{ "MULTI", "a\r\nX-Injected: 1" },
		{ "STDSIG", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (!strcmp(name, env[i][0]))
			return env[i][1];
	return NULL;
}

/* --- recording hooks ---------------------------------------------------- */

#define MAX_REC 16

typedef struct rec_attempt {
	int attempt, max_attempts;
	long status, delay_ms, duration_ms;
	bool ok, will_retry;
	char error[512], url[512], method[16], webhook[64], event[64], delivery[64];
} rec_attempt;

typedef struct recorder {
	uint64_t rng_state;
	long sleeps[MAX_REC];
	int nsleeps;
	rec_attempt attempts[MAX_REC];
	int nattempts;
	int stop_after;  /* > 0: ask to stop after that many attempts */
	ecplan_webhook_options opts;
} recorder;

static void rec_sleep(long ms, void *ctx)
{
	recorder *r = ctx;
	if (r->nsleeps < MAX_REC)
		r->sleeps[r->nsleeps++] = ms;
}

static uint64_t rec_rng(void *ctx)
{
	recorder *r = ctx;
	return ecplan_backoff_splitmix64(&r->rng_state);
}

static long long rec_now(void *ctx)
{
	(void)ctx;
	return (long long)time(NULL);
}

static int rec_attempt_cb(const ecplan_webhook_attempt *a, void *ctx)
{
	recorder *r = ctx;
	rec_attempt *x;
	assert_true(r->nattempts < MAX_REC);
	x = &r->attempts[r->nattempts++];
	x->attempt = a->attempt;
	x->max_attempts = a->max_attempts;
	x->status = a->http_status;
	x->delay_ms = a->retry_delay_ms;
	x->duration_ms = a->duration_ms;
	x->ok = a->ok;
	x->will_retry = a->will_retry;
	if (a->ok)
		assert_null(a->error);
	else
		assert_non_null(a->error);
	snprintf(x->error, sizeof(x->error), "%s", a->error ? a->error : "");
	snprintf(x->url, sizeof(x->url), "%s", a->url);
	snprintf(x->method, sizeof(x->method), "%s", a->method);
	snprintf(x->webhook, sizeof(x->webhook), "%s", a->webhook);
	snprintf(x->event, sizeof(x->event), "%s", a->event);
	snprintf(x->delivery, sizeof(x->delivery), "%s", a->delivery_id);
	return r->stop_after > 0 && r->nattempts >= r->stop_after;
}

static void recorder_init(recorder *r)
{
	memset(r, 0, sizeof(*r));
	r->rng_state = 2026;
	r->opts.sleep_ms = rec_sleep;
	r->opts.rng = rec_rng;
	r->opts.now = rec_now;
	r->opts.env = fake_env;
	r->opts.ctx = r;
}

static ecplan_webhook_request request(const ecplan_webhook_options *opts)
{
	ecplan_webhook_request req = {
		.plan_name = "users-email", .table = "users", .column = "email",
		.new_column = "email_new", .event = "backfill.before", .phase = "backfill",
		.state = "synced", .delivery_id = "0123456789abcdef0123456789abcdef",
		.phase_attempt = 2, .options = opts,
	};
	return req;
}

static ecplan_webhook_spec spec_for(const char *name, const char *url)
{
	ecplan_webhook_spec s = {
		.name = (char *)name, .url = (char *)url, .timeout_ms = 5000, .retries = 3,
	};
	return s;
}

/* --- rendering, no network ---------------------------------------------- */

static void test_render_default_payload(void **state)
{
	recorder r;
	ecplan_webhook_rendered out = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_webhook_spec spec = spec_for("flags", "https://hooks.example.com/ecplan");
	ecplan_webhook_request req;
	ecplan_error err;
	json_t *body;
	json_error_t jerr;
	(void)state;

	recorder_init(&r);
	req = request(&r.opts);
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 3, NOW, 0, &err), 0);
	assert_string_equal(out.method, "POST");
	assert_string_equal(out.url, "https://hooks.example.com/ecplan");
	assert_int_equal(out.body_len, strlen(out.body));
	body = json_loads(out.body, 0, &jerr);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "event")), "backfill.before");
	assert_string_equal(json_string_value(json_object_get(body, "plan")), "users-email");
	assert_string_equal(json_string_value(json_object_get(body, "table")), "users");
	assert_string_equal(json_string_value(json_object_get(body, "column")), "email");
	assert_string_equal(json_string_value(json_object_get(body, "new_column")), "email_new");
	assert_string_equal(json_string_value(json_object_get(body, "phase")), "backfill");
	assert_string_equal(json_string_value(json_object_get(body, "state")), "synced");
	assert_string_equal(json_string_value(json_object_get(body, "delivery_id")),
			    "0123456789abcdef0123456789abcdef");
	assert_int_equal(json_integer_value(json_object_get(body, "attempt")), 3);
	assert_string_equal(json_string_value(json_object_get(body, "timestamp")), "2026-11-25T03:42:17Z");
	assert_true(json_is_false(json_object_get(body, "test")));
	assert_null(json_object_get(body, "error"));
	assert_int_equal(json_object_size(body), 11);
	json_decref(body);
	/* key order is part of the contract: event first, test last */
	assert_true(!strncmp(out.body, "{\"event\":\"backfill.before\",\"plan\":", 34));
	ecplan_webhook_rendered_release(&out);

	/* failed event: error text; test flag; NULL phase is null */
	req.event = "failed";
	req.phase = NULL;
	req.error = "backfill failed: \"deadlock detected\"";
	req.test = true;
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	body = json_loads(out.body, 0, &jerr);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "event")), "failed");
	assert_string_equal(json_string_value(json_object_get(body, "error")),
			    "backfill failed: \"deadlock detected\"");
	assert_true(json_is_null(json_object_get(body, "phase")));
	assert_true(json_is_true(json_object_get(body, "test")));
	json_decref(body);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Ecplan-Event"), "failed");
	ecplan_webhook_rendered_release(&out);
	assert_int_equal(err.code, 0);
}

static void test_render_headers(void **state)
{
	recorder r;
	ecplan_webhook_rendered out = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_header headers[] = {
		{ (char *)"Authorization", (char *)"Bearer ${env.TOKEN}" },
		{ (char *)"X-Flag", (char *)"${plan.name}-${phase}" },
		{ (char *)"X-Empty", (char *)"" },
	};
	ecplan_webhook_spec spec = spec_for("flags", "https://hooks.example.com/ecplan");
	ecplan_webhook_request req;
	ecplan_error err;
	static const char *const order[] = {
		"Content-Type", "User-Agent", "X-Ecplan-Event", "X-Ecplan-Delivery",
		"Idempotency-Key", "X-Ecplan-Signature", "Authorization", "X-Flag", "X-Empty",
	};
	(void)state;

	spec.headers = headers;
	spec.nheaders = 3;
	spec.secret_env = (char *)"SIGNING";
	recorder_init(&r);
	req = request(&r.opts);
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	assert_int_equal(out.nheaders, 9);
	for (size_t i = 0; i < out.nheaders; i++)
		assert_string_equal(out.headers[i].name, order[i]);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "content-type"), "application/json");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "User-Agent"), "ecplan/" ECPLAN_VERSION);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Ecplan-Event"), "backfill.before");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Ecplan-Delivery"),
			    "0123456789abcdef0123456789abcdef");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "Idempotency-Key"),
			    "users-email:backfill.before:2");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "Authorization"), "Bearer " SECRET_VALUE);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Flag"), "users-email-backfill");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Empty"), "");
	const char *sig = ecplan_webhook_rendered_header(&out, "X-Ecplan-Signature");
	assert_non_null(sig);
	assert_true(!strncmp(sig, "t=1795578137,v1=", 16));
	assert_true(ecplan_sign_verify(sig, SIGNING_SECRET, out.body, out.body_len, NOW, 300));
	assert_false(ecplan_sign_verify(sig, "wrong", out.body, out.body_len, NOW, 300));
	ecplan_webhook_rendered_release(&out);
	assert_null(out.headers);

	/* unsigned without secret_env */
	spec.secret_env = NULL;
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	assert_null(ecplan_webhook_rendered_header(&out, "X-Ecplan-Signature"));
	ecplan_webhook_rendered_release(&out);
}

/* A plan's Content-Type replaces application/json; the Standard Webhooks
 * headers come beside (or instead of) X-Ecplan-Signature. */
static void test_render_content_type_and_standard(void **state)
{
	recorder r;
	ecplan_webhook_rendered out = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_header headers[] = {
		{ (char *)"content-type", (char *)"application/json; domain-model=launchdarkly.semanticpatch" },
	};
	ecplan_webhook_spec spec = spec_for("flags", "https://hooks.example.com/ecplan");
	ecplan_webhook_request req;
	ecplan_error err;
	(void)state;

	spec.headers = headers;
	spec.nheaders = 1;
	spec.secret_env = (char *)"STDSIG";
	spec.signature = ECPLAN_SIGNATURE_ECPLAN | ECPLAN_SIGNATURE_STANDARD;
	recorder_init(&r);
	req = request(&r.opts);
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	size_t ntype = 0;
	for (size_t i = 0; i < out.nheaders; i++)
		ntype += !strcasecmp(out.headers[i].name, "Content-Type");
	assert_int_equal(ntype, 1);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "Content-Type"),
			    "application/json; domain-model=launchdarkly.semanticpatch");
	assert_non_null(ecplan_webhook_rendered_header(&out, "X-Ecplan-Signature"));
	assert_string_equal(ecplan_webhook_rendered_header(&out, "webhook-id"),
			    "0123456789abcdef0123456789abcdef");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "webhook-timestamp"), "1795578137");
	char *want = ecplan_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
					  "0123456789abcdef0123456789abcdef", NOW, out.body,
					  out.body_len);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "webhook-signature"), want);
	free(want);
	ecplan_webhook_rendered_release(&out);

	/* standard only: no X-Ecplan-Signature */
	spec.signature = ECPLAN_SIGNATURE_STANDARD;
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	assert_null(ecplan_webhook_rendered_header(&out, "X-Ecplan-Signature"));
	assert_non_null(ecplan_webhook_rendered_header(&out, "webhook-signature"));
	ecplan_webhook_rendered_release(&out);

	/* redacted display */
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, ECPLAN_WEBHOOK_RENDER_REDACT,
					       &err), 0);
	assert_string_equal(ecplan_webhook_rendered_header(&out, "webhook-signature"), "v1,[redacted]");
	ecplan_webhook_rendered_release(&out);

	/* a plan header may not be one of the three */
	ecplan_header clash[] = { { (char *)"Webhook-Id", (char *)"x" } };
	spec.headers = clash;
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), ECPLAN_EINVALID);
	/* ... unless the standard scheme is off */
	spec.signature = ECPLAN_SIGNATURE_ECPLAN;
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	assert_null(ecplan_webhook_rendered_header(&out, "webhook-signature"));
	ecplan_webhook_rendered_release(&out);

	/* a whsec_ secret that is not base64 */
	spec.headers = NULL;
	spec.nheaders = 0;
	spec.signature = ECPLAN_SIGNATURE_STANDARD;
	spec.secret_env = (char *)"SIGNING";
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), ECPLAN_EINVALID);
	assert_string_equal(err.path, "secret_env");
	assert_null(strstr(err.message, SIGNING_SECRET));
}

static void test_render_custom_body_and_methods(void **state)
{
	recorder r;
	ecplan_webhook_rendered out = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_webhook_spec spec = spec_for("slack", "https://h.example/${table}/${event}?c=${column}");
	ecplan_webhook_request req;
	ecplan_error err;
	(void)state;

	spec.body = (char *)"{\"text\":\"${plan.name}: ${event} on ${table}.${column} -> ${new_column}\",\"lit\":\"$${event}\"}";
	spec.method = (char *)"PUT";
	recorder_init(&r);
	req = request(&r.opts);
	req.table = "Weird \"Table\"";
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	assert_string_equal(out.method, "PUT");
	assert_string_equal(out.url, "https://h.example/Weird%20%22Table%22/backfill.before?c=email");
	assert_string_equal(out.body,
			    "{\"text\":\"users-email: backfill.before on Weird \\\"Table\\\".email -> email_new\",\"lit\":\"${event}\"}");
	json_t *j = json_loads(out.body, 0, NULL);
	assert_non_null(j);
	json_decref(j);
	ecplan_webhook_rendered_release(&out);

	spec.method = (char *)"GET";
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), 0);
	assert_string_equal(out.body, "");
	assert_int_equal(out.body_len, 0);
	ecplan_webhook_rendered_release(&out);

	spec.method = (char *)"PO ST";
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), ECPLAN_EINVALID);
	assert_string_equal(err.path, "method");
	assert_null(out.method);
}

static void test_render_errors_and_no_leak(void **state)
{
	recorder r;
	ecplan_webhook_rendered out = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_header auth[] = { { (char *)"Authorization", (char *)"Bearer ${env.TOKEN_UNSET}" } };
	ecplan_header multi[] = { { (char *)"X-M", (char *)"${env.MULTI}" } };
	ecplan_header reserved[] = { { (char *)"user-agent", (char *)"me" } };
	ecplan_webhook_spec spec = spec_for("flags", "https://h.example/");
	ecplan_webhook_request req;
	ecplan_error err;
	(void)state;

	recorder_init(&r);
	req = request(&r.opts);

#define EXPECT_FAIL(path_, msg_) do { \
	ecplan_error_clear(&err); \
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), ECPLAN_EINVALID); \
	assert_int_equal(err.code, ECPLAN_EINVALID); \
	assert_string_equal(err.path, path_); \
	if (!strstr(err.message, msg_)) \
		fail_msg("message \"%s\" lacks \"%s\"", err.message, msg_); \
	assert_null(strstr(err.message, SECRET_VALUE)); \
	assert_null(strstr(err.message, "X-Injected")); \
	assert_null(out.body); \
	assert_int_equal(out.nheaders, 0); \
} while (0)

	spec.headers = auth;
	spec.nheaders = 1;
	EXPECT_FAIL("headers.Authorization",
		    "webhook \"flags\": environment variable \"TOKEN_UNSET\" is not set");
	spec.headers = multi;
	EXPECT_FAIL("headers.X-M", "value of header \"X-M\" contains a line break");
	spec.headers = reserved;
	EXPECT_FAIL("headers.user-agent", "header \"user-agent\" is set by ecplan");
	spec.nheaders = 0;
	spec.secret_env = (char *)"SIGNING_UNSET";
	EXPECT_FAIL("secret_env", "\"SIGNING_UNSET\" named by secret_env is not set");
	spec.secret_env = NULL;
	spec.url = (char *)"file:///etc/passwd";
	EXPECT_FAIL("url", "url must start with http:// or https://");
	spec.url = (char *)"https://h.example/${nope}";
	EXPECT_FAIL("url", "unknown variable \"${nope}\"");
	spec.url = (char *)"https://h.example/";
	spec.body = (char *)"{\"x\":\"${env.TOKEN_UNSET}\"}";
	EXPECT_FAIL("body", "\"TOKEN_UNSET\" is not set");
	spec.body = NULL;
	req.delivery_id = NULL;
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), ECPLAN_EINVALID);
	req = request(&r.opts);
	req.phase_attempt = 0;
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW, 0, &err), ECPLAN_EINVALID);
#undef EXPECT_FAIL
}

static void test_render_redacted(void **state)
{
	recorder r;
	ecplan_webhook_rendered out = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_header headers[] = {
		{ (char *)"Authorization", (char *)"Bearer ${env.TOKEN}" },
		{ (char *)"X-Static", (char *)"literal-" SECRET_VALUE },
	};
	ecplan_webhook_spec spec = spec_for("flags",
		"https://bot:" SECRET_VALUE "@h.example/${table}?token=" SECRET_VALUE "&e=${event}#frag");
	ecplan_webhook_request req;
	ecplan_error err;
	(void)state;

	spec.headers = headers;
	spec.nheaders = 2;
	spec.secret_env = (char *)"SIGNING";
	spec.body = (char *)"{\"k\":\"${env.TOKEN}\",\"t\":\"${table}\"}";
	recorder_init(&r);
	req = request(&r.opts);
	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW,
					       ECPLAN_WEBHOOK_RENDER_REDACT, &err), 0);
	assert_string_equal(out.url, "https://h.example/users?token=REDACTED&e=REDACTED");
	assert_string_equal(out.body, "{\"k\":\"${env.TOKEN}\",\"t\":\"users\"}");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "Authorization"), "[redacted]");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Static"), "[redacted]");
	assert_string_equal(ecplan_webhook_rendered_header(&out, "X-Ecplan-Signature"),
			    "t=1795578137,v1=[redacted]");
	assert_null(strstr(out.url, SECRET_VALUE));
	assert_null(strstr(out.body, SECRET_VALUE));
	for (size_t i = 0; i < out.nheaders; i++) {
		assert_null(strstr(out.headers[i].value, SECRET_VALUE));
		assert_null(strstr(out.headers[i].value, SIGNING_SECRET));
	}
	ecplan_webhook_rendered_release(&out);

	/* redaction never needs the environment */
	spec.secret_env = (char *)"SIGNING_UNSET";
	headers[0].value = (char *)"${env.UNSET_TOO}";
	assert_int_equal(ecplan_webhook_render(&out, &spec, &req, 1, NOW,
					       ECPLAN_WEBHOOK_RENDER_REDACT, &err), 0);
	ecplan_webhook_rendered_release(&out);
}

static void test_redact_url(void **state)
{
	static const char *const cases[][2] = {
		{ "https://h.example/hook", "https://h.example/hook" },
		{ "https://user:pass@h.example:8443/a/b", "https://h.example:8443/a/b" },
		{ "http://user@h.example", "http://h.example" },
		{ "https://a:b@c@h.example/x", "https://h.example/x" },
		{ "https://h.example/p?token=abc&x=1", "https://h.example/p?token=REDACTED&x=REDACTED" },
		{ "https://h.example/p?bare-token", "https://h.example/p?REDACTED" },
		{ "https://h.example/p?a=&&b=2#frag", "https://h.example/p?a=REDACTED&&b=REDACTED" },
		{ "https://h.example/p#frag?x=1", "https://h.example/p" },
		{ "https://h.example?q=1", "https://h.example?q=REDACTED" },
		{ "https://h.example/users/@me", "https://h.example/users/@me" },
		{ "${env.HOOK_URL}", "${env.HOOK_URL}" },
		{ "${env.BASE}/x?k=${env.K}", "${env.BASE}/x?k=REDACTED" },
		{ "", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = ecplan_webhook_redact_url(cases[i][0]);
		assert_string_equal(got, cases[i][1]);
		free(got);
	}
	assert_null(ecplan_webhook_redact_url(NULL));

	ecplan_webhook_spec spec = spec_for("w", "https://u:p@h.example/${table}/${env.PATH_SECRET}?k=${env.K}");
	ecplan_webhook_request req = request(NULL);
	char *d = ecplan_webhook_describe_url(&spec, &req);
	assert_string_equal(d, "https://h.example/users/${env.PATH_SECRET}?k=REDACTED");
	free(d);
	d = ecplan_webhook_describe_url(&spec, NULL);
	assert_string_equal(d, "https://h.example/${table}/${env.PATH_SECRET}?k=REDACTED");
	free(d);
}

static void test_helpers(void **state)
{
	char a[ECPLAN_WEBHOOK_DELIVERY_ID_SIZE], b[ECPLAN_WEBHOOK_DELIVERY_ID_SIZE];
	char small[8];
	ecplan_error err;
	(void)state;

	ecplan_error_clear(&err);
	assert_int_equal(ecplan_webhook_new_delivery_id(a, sizeof(a), &err), 0);
	assert_int_equal(ecplan_webhook_new_delivery_id(b, sizeof(b), &err), 0);
	assert_int_equal(strlen(a), 32);
	for (int i = 0; i < 32; i++)
		assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	assert_string_not_equal(a, b);
	assert_int_equal(ecplan_webhook_new_delivery_id(small, sizeof(small), &err), ECPLAN_ERR);

	assert_false(ecplan_webhook_header_reserved("content-type")); /* a plan may set its own */
	assert_true(ecplan_webhook_header_reserved("Content-Length"));
	assert_true(ecplan_webhook_header_reserved("X-ECPLAN-Anything"));
	assert_true(ecplan_webhook_header_reserved("Idempotency-Key"));
	assert_false(ecplan_webhook_header_reserved("Authorization"));
	assert_false(ecplan_webhook_header_reserved("X-Ecplan"));

	assert_int_equal(ecplan_webhook_curl_class(CURLE_OK), ECPLAN_NET_OK);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_OPERATION_TIMEDOUT), ECPLAN_NET_TIMEOUT);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_COULDNT_CONNECT), ECPLAN_NET_CONNECT);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_COULDNT_RESOLVE_HOST), ECPLAN_NET_CONNECT);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_GOT_NOTHING), ECPLAN_NET_CONNECT);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_RECV_ERROR), ECPLAN_NET_CONNECT);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_PEER_FAILED_VERIFICATION), ECPLAN_NET_TLS);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_UNSUPPORTED_PROTOCOL), ECPLAN_NET_OTHER);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_TOO_MANY_REDIRECTS), ECPLAN_NET_OTHER);
	assert_int_equal(ecplan_webhook_curl_class(CURLE_URL_MALFORMAT), ECPLAN_NET_OTHER);
}

/* --- the hook server ---------------------------------------------------- */

static char tmpdir[64];
static char port_file[128];
static char log_file[128];
static pid_t server_pid = -1; /* the plain-HTTP server for the whole group */
static int server_port;

/*
 * Starts hook_server.py with extra arguments; waits for its port file.
 * Returns the pid (port in *port) or -1.
 */
static pid_t spawn_server(const char *pfile, const char *const *extra, int *port)
{
	char script[1024];
	const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	const char *argv[64];
	int argc = 0;
	pid_t pid;

	snprintf(script, sizeof(script), "%s/tests/support/hook_server.py", ECPLAN_SOURCE_DIR);
	argv[argc++] = python;
	argv[argc++] = script;
	argv[argc++] = "--port-file";
	argv[argc++] = pfile;
	argv[argc++] = "--max-lifetime";
	argv[argc++] = "120";
	for (size_t i = 0; extra[i] && argc < 63; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	*port = 0;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		FILE *f = fopen(pfile, "r");
		if (f) {
			int ok = fscanf(f, "%d", port) == 1;
			fclose(f);
			if (ok && *port > 0)
				return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "hook_server.py exited early\n");
			return -1;
		}
		usleep(50000);
	}
	fprintf(stderr, "hook_server.py did not report a port\n");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void reap_server(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

static int start_server(void **state)
{
	static const char *const scripts[] = {
		"/retry=500,500,200",
		"/notfound=404",
		"/ratelimit=429:2,200",
		"/ratelimit-date=503:date+4,200",
		"/hang=hang:3,200",
		"/signed=200",
		"/redirect=301:/target",
		"/target=200",
		"/redirect-follow=302:/target-follow",
		"/target-follow=200",
		"/close=close,200",
		"/exhaust=503",
		"/leak=500",
		"/stop=500",
		"/put=200",
	};
	const char *extra[64];
	int n = 0;
	(void)state;

	/* Requests to 127.0.0.1 must not go through a proxy from the environment. */
	static const char *const proxies[] = {
		"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ecplan-hook-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(port_file, sizeof(port_file), "%s/port", tmpdir);
	snprintf(log_file, sizeof(log_file), "%s/log.jsonl", tmpdir);
	extra[n++] = "--log";
	extra[n++] = log_file;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		extra[n++] = "--script";
		extra[n++] = scripts[i];
	}
	extra[n] = NULL;
	if ((server_pid = spawn_server(port_file, extra, &server_port)) < 0)
		return -1;
	return ecplan_webhook_global_init(NULL);
}

static int stop_server(void **state)
{
	(void)state;
	reap_server(server_pid);
	server_pid = -1;
	unlink(port_file);
	unlink(log_file);
	rmdir(tmpdir);
	ecplan_webhook_global_cleanup();
	return 0;
}

static char *url_for(const char *path)
{
	static char buf[8][256];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "http://127.0.0.1:%d%s", server_port, path);
	return b;
}

/* The logged requests for path, in order; caller decrefs. */
static json_t *requests_for(const char *path)
{
	json_t *out = json_array();
	char line[65536];
	FILE *f = fopen(log_file, "r");
	if (!f)
		return out;
	while (fgets(line, sizeof(line), f)) {
		json_t *rec = json_loads(line, 0, NULL);
		if (!rec)
			continue;
		if (!strcmp(json_string_value(json_object_get(rec, "path")), path))
			json_array_append(out, rec);
		json_decref(rec);
	}
	fclose(f);
	return out;
}

static const char *req_header(json_t *rec, const char *name)
{
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(rec, "headers"), key, v)
		if (!strcasecmp(key, name))
			return json_string_value(v);
	return NULL;
}

static int deliver(recorder *r, const ecplan_webhook_spec *spec, ecplan_error *err)
{
	ecplan_webhook_request req = request(&r->opts);
	ecplan_error_clear(err);
	return ecplan_webhook_deliver(spec, &req, rec_attempt_cb, r, err);
}

/* --- delivery against the server ---------------------------------------- */

static void test_retry_then_success(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/retry"));
	json_t *reqs;
	(void)state;

	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(r.nattempts, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.attempts[i].attempt, i + 1);
		assert_int_equal(r.attempts[i].max_attempts, 4);
		assert_string_equal(r.attempts[i].webhook, "flags");
		assert_string_equal(r.attempts[i].event, "backfill.before");
		assert_string_equal(r.attempts[i].delivery, "0123456789abcdef0123456789abcdef");
		assert_string_equal(r.attempts[i].method, "POST");
		assert_string_equal(r.attempts[i].url, url_for("/retry"));
		assert_true(r.attempts[i].duration_ms >= 0);
	}
	assert_int_equal(r.attempts[0].status, 500);
	assert_string_equal(r.attempts[0].error, "HTTP 500");
	assert_true(r.attempts[0].will_retry);
	assert_int_equal(r.attempts[1].status, 500);
	assert_int_equal(r.attempts[2].status, 200);
	assert_true(r.attempts[2].ok);
	assert_false(r.attempts[2].will_retry);
	/* two waits, full jitter within the exponential ceilings */
	assert_int_equal(r.nsleeps, 2);
	assert_int_equal(r.sleeps[0], r.attempts[0].delay_ms);
	assert_int_equal(r.sleeps[1], r.attempts[1].delay_ms);
	assert_true(r.sleeps[0] >= 0 && r.sleeps[0] <= 500);
	assert_true(r.sleeps[1] >= 0 && r.sleeps[1] <= 1000);

	/* the server saw three requests of one delivery */
	reqs = requests_for("/retry");
	assert_int_equal(json_array_size(reqs), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *rec = json_array_get(reqs, i);
		json_t *body = json_loads(json_string_value(json_object_get(rec, "body")), 0, NULL);
		assert_non_null(body);
		assert_string_equal(json_string_value(json_object_get(rec, "method")), "POST");
		assert_string_equal(req_header(rec, "X-Ecplan-Delivery"), "0123456789abcdef0123456789abcdef");
		assert_string_equal(req_header(rec, "Idempotency-Key"), "users-email:backfill.before:2");
		assert_string_equal(req_header(rec, "X-Ecplan-Event"), "backfill.before");
		assert_string_equal(req_header(rec, "User-Agent"), "ecplan/" ECPLAN_VERSION);
		assert_string_equal(req_header(rec, "Content-Type"), "application/json");
		assert_null(req_header(rec, "Expect"));
		assert_int_equal(json_integer_value(json_object_get(body, "attempt")), (json_int_t)i + 1);
		json_decref(body);
	}
	json_decref(reqs);
}

static void test_404_not_retried(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/notfound"));
	json_t *reqs;
	(void)state;

	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 1);
	assert_int_equal(r.nsleeps, 0);
	assert_false(r.attempts[0].will_retry);
	assert_int_equal(err.code, ECPLAN_ERR);
	assert_int_equal(err.http_status, 404);
	assert_string_equal(err.message, "webhook \"flags\" failed: HTTP 404");
	assert_non_null(strstr(err.detail, "event \"backfill.before\""));
	assert_non_null(strstr(err.hint, "rejected"));
	reqs = requests_for("/notfound");
	assert_int_equal(json_array_size(reqs), 1);
	json_decref(reqs);
}

static void test_retry_after_seconds(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/ratelimit"));
	(void)state;

	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	assert_int_equal(r.nattempts, 2);
	assert_int_equal(r.attempts[0].status, 429);
	assert_int_equal(r.nsleeps, 1);
	assert_true(r.sleeps[0] >= 2000);
	assert_true(r.sleeps[0] <= ECPLAN_BACKOFF_CAP_MS);
}

static void test_retry_after_date(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/ratelimit-date"));
	(void)state;

	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	assert_int_equal(r.nattempts, 2);
	assert_int_equal(r.attempts[0].status, 503);
	assert_int_equal(r.nsleeps, 1);
	/* "now + 4 s" as an HTTP-date, whole seconds on both clocks */
	assert_true(r.sleeps[0] >= 2000);
	assert_true(r.sleeps[0] <= 5000);
}

static void test_hang_times_out_and_retries(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/hang"));
	(void)state;

	spec.timeout_ms = 300;
	spec.retries = 1;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	assert_int_equal(r.nattempts, 2);
	assert_int_equal(r.attempts[0].status, 0);
	assert_true(r.attempts[0].will_retry);
	assert_true(!strncmp(r.attempts[0].error, "timed out after 300 ms", 22));
	assert_true(r.attempts[0].duration_ms >= 250);
	assert_true(r.attempts[0].duration_ms < 2500);
	assert_true(r.attempts[1].ok);
}

static void test_signature_verifies(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/signed"));
	json_t *reqs, *rec;
	const char *sig, *body;
	(void)state;

	spec.secret_env = (char *)"SIGNING";
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	reqs = requests_for("/signed");
	assert_int_equal(json_array_size(reqs), 1);
	rec = json_array_get(reqs, 0);
	sig = req_header(rec, "X-Ecplan-Signature");
	body = json_string_value(json_object_get(rec, "body"));
	assert_non_null(sig);
	assert_true(ecplan_sign_verify(sig, SIGNING_SECRET, body, strlen(body), (long long)time(NULL), 300));
	assert_false(ecplan_sign_verify(sig, "whsec_wrong", body, strlen(body), (long long)time(NULL), 300));
	json_decref(reqs);
}

static void test_redirect_not_followed(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/redirect"));
	json_t *reqs;
	(void)state;

	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 1);
	assert_int_equal(r.attempts[0].status, 301);
	assert_string_equal(r.attempts[0].error, "HTTP 301 (redirects are not followed)");
	assert_int_equal(err.http_status, 301);
	assert_non_null(strstr(err.hint, "follow_redirects"));
	reqs = requests_for("/target");
	assert_int_equal(json_array_size(reqs), 0);
	json_decref(reqs);

	/* follow_redirects: same method and body at the new location */
	spec = spec_for("flags", url_for("/redirect-follow"));
	spec.follow_redirects = true;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	assert_int_equal(r.nattempts, 1);
	assert_int_equal(r.attempts[0].status, 200);
	reqs = requests_for("/target-follow");
	assert_int_equal(json_array_size(reqs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "method")), "POST");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(reqs, 0), "body")),
			       "\"event\":\"backfill.before\""));
	json_decref(reqs);
}

static void test_closed_connection_retried(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/close"));
	(void)state;

	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), 0);
	assert_int_equal(r.nattempts, 2);
	assert_int_equal(r.attempts[0].status, 0);
	assert_true(r.attempts[0].will_retry);
	assert_true(r.attempts[0].error[0] != '\0');
	assert_true(r.attempts[1].ok);
}

static void test_exhausted(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/exhaust"));
	(void)state;

	spec.retries = 2;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 3);
	assert_int_equal(r.nsleeps, 2);
	assert_false(r.attempts[2].will_retry);
	assert_int_equal(err.http_status, 503);
	assert_string_equal(err.message, "webhook \"flags\" failed after 3 attempts: HTTP 503");
	assert_non_null(strstr(err.hint, "kept failing"));

	/* retries = 0: one attempt */
	spec.retries = 0;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 1);
	assert_int_equal(r.attempts[0].max_attempts, 1);
}

static void test_connection_refused(void **state)
{
	recorder r;
	ecplan_error err;
	char url[128];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	(void)state;

	/* A port that was free a moment ago and has no listener now. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing", ntohs(sa.sin_port));
	ecplan_webhook_spec spec = spec_for("down", url);

	spec.retries = 1;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 2);
	assert_int_equal(r.attempts[0].status, 0);
	assert_true(r.attempts[0].will_retry);
	assert_int_equal(err.http_status, 0);
	assert_non_null(strstr(err.message, "webhook \"down\" failed after 2 attempts: "));
}

static void test_no_secret_in_reports(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_header headers[] = {
		{ (char *)"Authorization", (char *)"Bearer ${env.TOKEN}" },
		{ (char *)"X-Api-Key", (char *)"literal-api-key-123" },
	};
	char url[256];
	char *everything;
	json_t *reqs;
	(void)state;

	snprintf(url, sizeof(url), "http://bot:pw-%s@127.0.0.1:%d/leak?token=qtok-999&x=1",
		 "hunter2", server_port);
	ecplan_webhook_spec spec = spec_for("flags", url);
	spec.headers = headers;
	spec.nheaders = 2;
	spec.secret_env = (char *)"SIGNING";
	spec.retries = 1;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 2);

	/* the secrets did go on the wire ... */
	reqs = requests_for("/leak");
	assert_int_equal(json_array_size(reqs), 2);
	assert_string_equal(req_header(json_array_get(reqs, 0), "Authorization"), "Bearer " SECRET_VALUE);
	assert_string_equal(req_header(json_array_get(reqs, 0), "X-Api-Key"), "literal-api-key-123");
	json_decref(reqs);

	/* ... but appear in no report */
	for (int i = 0; i < r.nattempts; i++) {
		char expect[128];
		snprintf(expect, sizeof(expect), "http://127.0.0.1:%d/leak?token=REDACTED&x=REDACTED",
			 server_port);
		assert_string_equal(r.attempts[i].url, expect);
	}
	everything = malloc(sizeof(r.attempts) + sizeof(err) + 64);
	assert_non_null(everything);
	everything[0] = '\0';
	for (int i = 0; i < r.nattempts; i++) {
		strcat(everything, r.attempts[i].url);
		strcat(everything, r.attempts[i].error);
	}
	strcat(everything, err.message);
	strcat(everything, err.detail);
	strcat(everything, err.hint);
	static const char *const secrets[] = {
		SECRET_VALUE, SIGNING_SECRET, "literal-api-key-123", "hunter2", "qtok-999",
	};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(everything, secrets[i]))
			fail_msg("secret \"%s\" leaked into a report", secrets[i]);
	free(everything);
}

static void test_callback_stops(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/stop"));
	(void)state;

	recorder_init(&r);
	r.stop_after = 1;
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_ERR);
	assert_int_equal(r.nattempts, 1);
	assert_int_equal(r.nsleeps, 0);
	assert_non_null(strstr(err.message, "stopped by the caller"));
}

static void test_render_error_sends_nothing(void **state)
{
	recorder r;
	ecplan_error err;
	ecplan_webhook_spec spec = spec_for("flags", url_for("/put"));
	ecplan_header headers[] = { { (char *)"Authorization", (char *)"${env.TOKEN_UNSET}" } };
	json_t *reqs;
	(void)state;

	spec.headers = headers;
	spec.nheaders = 1;
	recorder_init(&r);
	assert_int_equal(deliver(&r, &spec, &err), ECPLAN_EINVALID);
	assert_int_equal(r.nattempts, 0);
	assert_non_null(strstr(err.message, "\"TOKEN_UNSET\" is not set"));

	/* and a PUT with a body goes out as such */
	spec.nheaders = 0;
	spec.method = (char *)"PUT";
	assert_int_equal(deliver(&r, &spec, &err), 0);
	reqs = requests_for("/put");
	assert_int_equal(json_array_size(reqs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "method")), "PUT");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(reqs, 0), "body")),
			       "\"delivery_id\""));
	json_decref(reqs);
}


/* A self-signed certificate is refused (TLS verification is always on) and
 * such a failure is not retried. Skipped without the openssl command. */
static void test_tls_verified(void **state)
{
	char cert[160], key[160], pfile[160], cmd[1024], url[128];
	const char *extra[8];
	recorder r;
	ecplan_error err;
	int port = 0;
	pid_t pid;
	(void)state;

	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	snprintf(pfile, sizeof(pfile), "%s/tls-port", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
		 "-subj /CN=127.0.0.1 >/dev/null 2>&1", key, cert);
	if (system(cmd) != 0) {
		unlink(cert);
		unlink(key);
		skip();
	}
	extra[0] = "--tls-cert";
	extra[1] = cert;
	extra[2] = "--tls-key";
	extra[3] = key;
	extra[4] = NULL;
	pid = spawn_server(pfile, extra, &port);
	assert_true(pid > 0);

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/tls", port);
	ecplan_webhook_spec spec = spec_for("tls", url);
	recorder_init(&r);
	int rc = deliver(&r, &spec, &err);
	reap_server(pid);
	unlink(pfile);
	unlink(cert);
	unlink(key);

	assert_int_equal(rc, ECPLAN_ERR);
	assert_int_equal(r.nattempts, 1);
	assert_false(r.attempts[0].will_retry);
	assert_int_equal(r.attempts[0].status, 0);
	assert_non_null(strstr(r.attempts[0].error, "certificate"));
	assert_non_null(strstr(err.hint, "verifies TLS"));
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_render_default_payload),
		cmocka_unit_test(test_render_headers),
		cmocka_unit_test(test_render_content_type_and_standard),
		cmocka_unit_test(test_render_custom_body_and_methods),
		cmocka_unit_test(test_render_errors_and_no_leak),
		cmocka_unit_test(test_render_redacted),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test(test_helpers),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_retry_then_success),
		cmocka_unit_test(test_404_not_retried),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_date),
		cmocka_unit_test(test_hang_times_out_and_retries),
		cmocka_unit_test(test_signature_verifies),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_closed_connection_retried),
		cmocka_unit_test(test_exhausted),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_no_secret_in_reports),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_render_error_sends_nothing),
		cmocka_unit_test(test_tls_verified),
	};
	int failed = cmocka_run_group_tests_name("webhook render", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("webhook delivery", live, start_server, stop_server);
	return failed;
}
