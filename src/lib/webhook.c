/*
 * Webhook delivery with libcurl. Building the request (ecplan_webhook_render)
 * is pure so tests can check payloads and headers without a server; the
 * retry policy lives in backoff.c; this file only glues them to libcurl and
 * makes sure nothing secret reaches a report: attempt reports and errors are
 * composed from our own words, a described url and libcurl's error text
 * only when it mentions none of the request's secrets.
 */
#include "ecplan/webhook.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "ecplan/sign.h"
#include "ecplan/strbuf.h"

#ifndef ECPLAN_VERSION
#define ECPLAN_VERSION "0.0.0"
#endif

#define DEFAULT_TIMEOUT_MS 5000L
#define REDACTED "[redacted]"
#define RESPONSE_CAPTURE (2 * ECPLAN_WEBHOOK_RESPONSE_MAX)

/* --- defaults for the injectable hooks ---------------------------------- */

static void default_sleep_ms(long ms, void *ctx)
{
	struct timespec ts, rem;
	(void)ctx;
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) && errno == EINTR)
		ts = rem;
}

static uint64_t default_rng(void *ctx)
{
	uint64_t v = 0;
	(void)ctx;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1) {
		/* Jitter only spreads load; a poor value is harmless. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15);
	}
	return v;
}

static long long default_now(void *ctx)
{
	(void)ctx;
	return (long long)time(NULL);
}

static const char *default_env(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

/* The options with every NULL hook replaced by its default. */
static ecplan_webhook_options resolve_options(const ecplan_webhook_request *req)
{
	ecplan_webhook_options o = { 0 };
	if (req && req->options)
		o = *req->options;
	if (!o.sleep_ms)
		o.sleep_ms = default_sleep_ms;
	if (!o.rng)
		o.rng = default_rng;
	if (!o.now)
		o.now = default_now;
	if (!o.env)
		o.env = default_env;
	if (o.base_delay_ms <= 0)
		o.base_delay_ms = ECPLAN_BACKOFF_BASE_MS;
	if (o.max_delay_ms <= 0)
		o.max_delay_ms = ECPLAN_BACKOFF_CAP_MS;
	return o;
}

static long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)(ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

/* --- small pure helpers ------------------------------------------------- */

bool ecplan_webhook_header_reserved(const char *name)
{
	static const char *const reserved[] = {
		"Content-Length", "User-Agent", "Host", "Expect",
		"Transfer-Encoding", "Idempotency-Key",
	};
	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcasecmp(name, reserved[i]))
			return true;
	return !strncasecmp(name, "X-Ecplan-", 9);
}

bool ecplan_webhook_is_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

static bool has_ctl(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

char *ecplan_webhook_redact_url(const char *url)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	const char *p, *end, *sep;

	if (!url)
		return NULL;
	p = url;
	sep = strstr(url, "://");
	if (sep && sep > url && strspn(url, "abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") ==
			       (size_t)(sep - url)) {
		ecplan_strbuf_add(&sb, url, (size_t)(sep - url) + 3);
		p = sep + 3;
	}
	/* Authority: drop everything up to the last '@' (the userinfo). */
	end = p + strcspn(p, "/?#");
	for (const char *q = end; q > p; q--)
		if (q[-1] == '@') {
			p = q;
			break;
		}
	ecplan_strbuf_add(&sb, p, (size_t)(end - p));
	p = end;
	/* Path, kept. */
	end = p + strcspn(p, "?#");
	ecplan_strbuf_add(&sb, p, (size_t)(end - p));
	p = end;
	/* Query: keep the keys, hide every value. Fragment: dropped. */
	if (*p == '?') {
		const char *qend = p + 1 + strcspn(p + 1, "#");
		ecplan_strbuf_addch(&sb, '?');
		p++;
		while (p < qend) {
			const char *amp = memchr(p, '&', (size_t)(qend - p));
			const char *iend = amp ? amp : qend;
			const char *eq = memchr(p, '=', (size_t)(iend - p));
			if (eq) {
				ecplan_strbuf_add(&sb, p, (size_t)(eq - p));
				ecplan_strbuf_adds(&sb, "=REDACTED");
			} else if (iend > p) {
				ecplan_strbuf_adds(&sb, "REDACTED");
			}
			p = iend;
			if (amp) {
				ecplan_strbuf_addch(&sb, '&');
				p++;
			}
		}
	}
	return ecplan_strbuf_detach(&sb);
}

static ecplan_template_vars make_vars(const ecplan_webhook_request *req,
				      const ecplan_webhook_options *o)
{
	ecplan_template_vars v = {
		.plan_name = req->plan_name, .event = req->event, .phase = req->phase,
		.table = req->table, .column = req->column, .new_column = req->new_column,
		.env = o ? o->env : NULL, .env_ctx = o ? o->ctx : NULL,
	};
	return v;
}

char *ecplan_webhook_describe_url(const ecplan_webhook_spec *spec,
				  const ecplan_webhook_request *req)
{
	ecplan_template_vars vars = { 0 };
	char *expanded = NULL, *out;

	if (!spec->url)
		return ecplan_xstrdup("");
	if (!req)
		return ecplan_webhook_redact_url(spec->url);
	vars = make_vars(req, NULL);
	if (ecplan_template_render(&expanded, spec->url, &vars,
				   ECPLAN_TEMPLATE_URL | ECPLAN_TEMPLATE_KEEP_ENV, NULL))
		return ecplan_webhook_redact_url(spec->url);
	out = ecplan_webhook_redact_url(expanded);
	free(expanded);
	return out;
}

int ecplan_webhook_new_delivery_id(char *out, size_t size, ecplan_error *err)
{
	unsigned char raw[16];

	if (!out || size < ECPLAN_WEBHOOK_DELIVERY_ID_SIZE)
		return ecplan_error_set(err, ECPLAN_ERR, "delivery id buffer too small");
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ecplan_error_set(err, ECPLAN_ERR, "could not generate a delivery id: random generator failed");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

ecplan_net_class ecplan_webhook_curl_class(int curl_code)
{
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		return ECPLAN_NET_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return ECPLAN_NET_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return ECPLAN_NET_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return ECPLAN_NET_TLS;
	default:
		return ECPLAN_NET_OTHER;
	}
}

int ecplan_webhook_global_init(ecplan_error *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return ecplan_error_set(err, ECPLAN_ERR, "could not initialise libcurl: %s",
					curl_easy_strerror(rc));
	return 0;
}

void ecplan_webhook_global_cleanup(void)
{
	curl_global_cleanup();
}

/* --- rendering ---------------------------------------------------------- */

/* NULL, and strings jansson rejects (invalid UTF-8), become JSON null. */
static json_t *str_or_null(const char *s)
{
	json_t *v = s ? json_string(s) : NULL;
	return v ? v : json_null();
}

char *ecplan_webhook_default_payload(const ecplan_webhook_request *req,
				     int attempt, long long now_s)
{
	char ts[32] = "";
	time_t t = (time_t)now_s;
	struct tm tm;
	json_t *o = json_object();
	char *s, *out;

	if (gmtime_r(&t, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, "event", str_or_null(req->event));
	json_object_set_new(o, "plan", str_or_null(req->plan_name));
	json_object_set_new(o, "table", str_or_null(req->table));
	json_object_set_new(o, "column", str_or_null(req->column));
	json_object_set_new(o, "new_column", str_or_null(req->new_column));
	json_object_set_new(o, "phase", str_or_null(req->phase));
	json_object_set_new(o, "state", str_or_null(req->state));
	json_object_set_new(o, "delivery_id", str_or_null(req->delivery_id));
	json_object_set_new(o, "attempt", json_integer(attempt));
	json_object_set_new(o, "timestamp", json_string(ts));
	json_object_set_new(o, "test", json_boolean(req->test));
	if (req->event && !strcmp(req->event, "failed"))
		json_object_set_new(o, "error", str_or_null(req->error));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s) {
		fputs("ecplan: out of memory\n", stderr);
		abort();
	}
	/* jansson's allocator may differ from ours: hand back our own copy. */
	out = ecplan_xstrdup(s);
	free(s);
	return out;
}

static void add_header(ecplan_webhook_rendered *r, const char *name, char *value)
{
	r->headers = ecplan_xrealloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
	r->headers[r->nheaders].name = ecplan_xstrdup(name);
	r->headers[r->nheaders].value = value;
	r->nheaders++;
}

void ecplan_webhook_rendered_release(ecplan_webhook_rendered *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->method);
	free(r->url);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *ecplan_webhook_rendered_header(const ecplan_webhook_rendered *r,
					   const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

/* Copies a template error into err, prefixed with the webhook name. */
static int render_fail(ecplan_error *err, const ecplan_webhook_spec *spec,
		       const char *field, const ecplan_error *inner)
{
	if (err && !err->code) {
		ecplan_error_set(err, ECPLAN_EINVALID, "webhook \"%s\": %s",
				 spec->name ? spec->name : "", inner->message);
		ecplan_error_hint(err, "%s", inner->hint);
		snprintf(err->path, sizeof(err->path), "%s", field);
	}
	return ECPLAN_EINVALID;
}

static bool bodyless(const char *method)
{
	return !strcasecmp(method, "GET") || !strcasecmp(method, "HEAD");
}

int ecplan_webhook_render(ecplan_webhook_rendered *out,
			  const ecplan_webhook_spec *spec,
			  const ecplan_webhook_request *req, int attempt,
			  long long now_s, unsigned flags, ecplan_error *err)
{
	ecplan_webhook_options o = resolve_options(req);
	ecplan_template_vars vars;
	ecplan_webhook_rendered r = ECPLAN_WEBHOOK_RENDERED_INIT;
	ecplan_error inner;
	bool redact = flags & ECPLAN_WEBHOOK_RENDER_REDACT;
	const char *method, *name = spec->name ? spec->name : "";
	char field[256];
	int rc = ECPLAN_EINVALID;

	memset(out, 0, sizeof(*out));
	ecplan_error_clear(&inner);
	if (!req || !req->plan_name || !req->event || !req->delivery_id) {
		ecplan_error_set(err, ECPLAN_EINVALID,
				 "webhook \"%s\": request lacks plan name, event or delivery id", name);
		return ECPLAN_EINVALID;
	}
	if (has_ctl(req->plan_name) || has_ctl(req->event) || has_ctl(req->delivery_id)) {
		ecplan_error_set(err, ECPLAN_EINVALID,
				 "webhook \"%s\": plan name, event or delivery id contains control characters", name);
		return ECPLAN_EINVALID;
	}
	if (req->phase_attempt < 1 || attempt < 1) {
		ecplan_error_set(err, ECPLAN_EINVALID,
				 "webhook \"%s\": attempt numbers start at 1", name);
		return ECPLAN_EINVALID;
	}
	vars = make_vars(req, &o);

	method = spec->method && *spec->method ? spec->method : "POST";
	if (!ecplan_webhook_is_token(method)) {
		ecplan_error_set(err, ECPLAN_EINVALID, "webhook \"%s\": invalid method \"%.40s\"",
				 name, method);
		if (err)
			snprintf(err->path, sizeof(err->path), "method");
		return ECPLAN_EINVALID;
	}
	r.method = ecplan_xstrdup(method);

	/* url */
	if (redact) {
		r.url = ecplan_webhook_describe_url(spec, req);
	} else {
		if (ecplan_template_render(&r.url, spec->url ? spec->url : "", &vars,
					   ECPLAN_TEMPLATE_URL, &inner)) {
			render_fail(err, spec, "url", &inner);
			goto done;
		}
		if (strncasecmp(r.url, "http://", 7) && strncasecmp(r.url, "https://", 8)) {
			ecplan_error_set(err, ECPLAN_EINVALID,
					 "webhook \"%s\": url must start with http:// or https:// after substitution",
					 name);
			if (err)
				snprintf(err->path, sizeof(err->path), "url");
			goto done;
		}
	}

	/* body */
	if (bodyless(method)) {
		r.body = ecplan_xstrdup("");
	} else if (spec->body) {
		unsigned tflags = ECPLAN_TEMPLATE_JSON | (redact ? ECPLAN_TEMPLATE_KEEP_ENV : 0);
		if (ecplan_template_render(&r.body, spec->body, &vars, tflags, &inner)) {
			render_fail(err, spec, "body", &inner);
			goto done;
		}
	} else {
		r.body = ecplan_webhook_default_payload(req, attempt, now_s);
	}
	r.body_len = strlen(r.body);

	/* headers ecplan always sends; Content-Type unless the plan sets its own */
	bool own_type = false;
	for (size_t i = 0; i < spec->nheaders; i++)
		own_type |= spec->headers[i].name && !strcasecmp(spec->headers[i].name, "Content-Type");
	if (!own_type)
		add_header(&r, "Content-Type", ecplan_xstrdup("application/json"));
	add_header(&r, "User-Agent", ecplan_xstrdup("ecplan/" ECPLAN_VERSION));
	add_header(&r, "X-Ecplan-Event", ecplan_xstrdup(req->event));
	add_header(&r, "X-Ecplan-Delivery", ecplan_xstrdup(req->delivery_id));
	add_header(&r, "Idempotency-Key", ecplan_xstrfmt("%s:%s:%d", req->plan_name,
							 req->event, req->phase_attempt));
	unsigned schemes = spec->signature ? spec->signature : ECPLAN_SIGNATURE_ECPLAN;
	if (spec->secret_env) {
		char *sig = NULL, *std = NULL;
		if (redact) {
			if (schemes & ECPLAN_SIGNATURE_ECPLAN)
				sig = ecplan_xstrfmt("t=%lld,v1=" REDACTED, now_s);
			if (schemes & ECPLAN_SIGNATURE_STANDARD)
				std = ecplan_xstrdup("v1," REDACTED);
		} else {
			const char *secret = o.env(spec->secret_env, o.ctx);
			if (!secret || !*secret) {
				ecplan_error_set(err, ECPLAN_EINVALID,
						 "webhook \"%s\": environment variable \"%s\" named by secret_env is %s",
						 name, spec->secret_env, secret ? "empty" : "not set");
				ecplan_error_hint(err, "export it before running ecplan, or remove secret_env to send unsigned requests");
				if (err)
					snprintf(err->path, sizeof(err->path), "secret_env");
				goto done;
			}
			if (schemes & ECPLAN_SIGNATURE_ECPLAN) {
				sig = ecplan_sign(secret, now_s, r.body, r.body_len);
				if (!sig) {
					ecplan_error_set(err, ECPLAN_ERR, "webhook \"%s\": could not compute the signature", name);
					rc = ECPLAN_ERR;
					goto done;
				}
			}
			if (schemes & ECPLAN_SIGNATURE_STANDARD) {
				std = ecplan_sign_standard(secret, req->delivery_id, now_s, r.body,
							   r.body_len);
				if (!std) {
					free(sig);
					ecplan_error_set(err, ECPLAN_EINVALID,
							 "webhook \"%s\": environment variable \"%s\" starts with \"whsec_\" "
							 "but the rest is not base64", name, spec->secret_env);
					ecplan_error_hint(err, "a Standard Webhooks secret is \"whsec_\" followed by base64");
					if (err)
						snprintf(err->path, sizeof(err->path), "secret_env");
					goto done;
				}
			}
		}
		if (sig)
			add_header(&r, ECPLAN_SIGN_HEADER, sig);
		if (std) {
			/* Standard Webhooks: the message id is the delivery id (the same on
			 * every retry and re-delivery, as the specification asks). */
			add_header(&r, ECPLAN_SIGN_STD_ID_HEADER, ecplan_xstrdup(req->delivery_id));
			add_header(&r, ECPLAN_SIGN_STD_TIMESTAMP_HEADER, ecplan_xstrfmt("%lld", now_s));
			add_header(&r, ECPLAN_SIGN_STD_HEADER, std);
		}
	}

	/* the plan's headers */
	for (size_t i = 0; i < spec->nheaders; i++) {
		const ecplan_header *h = &spec->headers[i];
		char *value = NULL;

		snprintf(field, sizeof(field), "headers.%s", h->name ? h->name : "");
		bool std_header = (schemes & ECPLAN_SIGNATURE_STANDARD) && spec->secret_env && h->name &&
				  (!strcasecmp(h->name, ECPLAN_SIGN_STD_ID_HEADER) ||
				   !strcasecmp(h->name, ECPLAN_SIGN_STD_TIMESTAMP_HEADER) ||
				   !strcasecmp(h->name, ECPLAN_SIGN_STD_HEADER));
		if (!ecplan_webhook_is_token(h->name) || ecplan_webhook_header_reserved(h->name) ||
		    std_header) {
			ecplan_error_set(err, ECPLAN_EINVALID,
					 !ecplan_webhook_is_token(h->name) ? "webhook \"%s\": invalid header name \"%.80s\""
							    : "webhook \"%s\": header \"%.80s\" is set by ecplan",
					 name, h->name ? h->name : "");
			if (err)
				snprintf(err->path, sizeof(err->path), "%s", field);
			goto done;
		}
		if (redact) {
			value = ecplan_xstrdup(REDACTED);
		} else if (ecplan_template_render(&value, h->value ? h->value : "", &vars,
						  ECPLAN_TEMPLATE_RAW, &inner)) {
			render_fail(err, spec, field, &inner);
			goto done;
		} else if (strpbrk(value, "\r\n")) {
			free(value);
			ecplan_error_set(err, ECPLAN_EINVALID,
					 "webhook \"%s\": value of header \"%s\" contains a line break after substitution",
					 name, h->name);
			if (err)
				snprintf(err->path, sizeof(err->path), "%s", field);
			goto done;
		}
		add_header(&r, h->name, value);
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
done:
	ecplan_webhook_rendered_release(&r);
	return rc;
}

/* --- one attempt -------------------------------------------------------- */

typedef struct attempt_result {
	int curl_code;
	ecplan_net_class net;
	long status;
	char retry_after[64];
	char curl_error[CURL_ERROR_SIZE];
	/* The start of the answer's body (of the last response, when redirects
	 * are followed): more than is shown, so that a secret cut by the end of
	 * the shown part is still recognised and redacted. */
	char body[RESPONSE_CAPTURE + 1];
	size_t body_len;
	bool body_truncated;
} attempt_result;

/* Keeps the start of the body, reads (and drops) the rest. */
static size_t keep_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	attempt_result *res = ud;
	size_t n = size * nmemb, room = RESPONSE_CAPTURE - res->body_len;
	if (n > room)
		res->body_truncated = true;
	memcpy(res->body + res->body_len, ptr, n < room ? n : room);
	res->body_len += n < room ? n : room;
	res->body[res->body_len] = '\0';
	return n;
}

/* Remembers Retry-After of the last response (redirects may add several). */
static size_t capture_header(char *line, size_t size, size_t nitems, void *ud)
{
	attempt_result *res = ud;
	size_t len = size * nitems;

	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		res->retry_after[0] = '\0';
		res->body_len = 0; /* a new response (after a redirect): its own body */
		res->body[0] = '\0';
		res->body_truncated = false;
	} else if (len > 12 && !strncasecmp(line, "Retry-After:", 12)) {
		const char *v = line + 12;
		size_t n = len - 12;
		while (n && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
			n--;
		if (n >= sizeof(res->retry_after))
			n = 0; /* too long to be valid: ignore */
		memcpy(res->retry_after, v, n);
		res->retry_after[n] = '\0';
	}
	return len;
}

static void perform_attempt(const ecplan_webhook_rendered *r,
			    const ecplan_webhook_spec *spec, long timeout_ms,
			    attempt_result *res)
{
	struct curl_slist *list = NULL, *tmp;
	CURL *h;
	bool ok = true;

	memset(res, 0, sizeof(*res));
	h = curl_easy_init();
	if (!h) {
		res->curl_code = CURLE_FAILED_INIT;
		res->net = ECPLAN_NET_OTHER;
		return;
	}
	for (size_t i = 0; i < r->nheaders && ok; i++) {
		char *line = *r->headers[i].value
			? ecplan_xstrfmt("%s: %s", r->headers[i].name, r->headers[i].value)
			: ecplan_xstrfmt("%s;", r->headers[i].name); /* curl's empty-value form */
		tmp = curl_slist_append(list, line);
		free(line);
		if (tmp)
			list = tmp;
		else
			ok = false;
	}
	/* No "Expect: 100-continue" round trip for larger bodies. */
	if (ok && (tmp = curl_slist_append(list, "Expect:")))
		list = tmp;
	else
		ok = false;

#define SET(opt, val) do { if (ok && curl_easy_setopt(h, opt, val) != CURLE_OK) ok = false; } while (0)
	SET(CURLOPT_ERRORBUFFER, res->curl_error);
	SET(CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_FOLLOWLOCATION, spec->follow_redirects ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, 10L);
	/* A followed redirect repeats the same method and body. */
	SET(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	SET(CURLOPT_HTTPHEADER, list);
	SET(CURLOPT_WRITEFUNCTION, keep_body);
	SET(CURLOPT_WRITEDATA, res);
	SET(CURLOPT_HEADERFUNCTION, capture_header);
	SET(CURLOPT_HEADERDATA, res);
	if (!strcasecmp(r->method, "GET")) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (!strcasecmp(r->method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		SET(CURLOPT_POSTFIELDS, r->body);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(r->method, "POST"))
			SET(CURLOPT_CUSTOMREQUEST, r->method);
	}
#undef SET
	if (!ok) {
		res->curl_code = CURLE_FAILED_INIT;
		res->net = ECPLAN_NET_OTHER;
	} else {
		res->curl_code = curl_easy_perform(h);
		res->net = ecplan_webhook_curl_class(res->curl_code);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
		if (res->net != ECPLAN_NET_OK)
			res->status = 0; /* no complete answer */
	}
	curl_slist_free_all(list);
	curl_easy_cleanup(h);
}

/* --- delivery ----------------------------------------------------------- */

/* Strings whose presence in libcurl's error text would leak a secret. */
typedef struct sensitive {
	const char *secret;
	const ecplan_webhook_rendered *r;
	size_t first_plan_header;
	char *url_tail;     /* userinfo, path and query of the final url */
	char *userinfo;
} sensitive;

static bool mentions_secret(const sensitive *s, const char *text)
{
	if (s->secret && *s->secret && strstr(text, s->secret))
		return true;
	for (size_t i = s->first_plan_header; i < s->r->nheaders; i++)
		if (*s->r->headers[i].value && strstr(text, s->r->headers[i].value))
			return true;
	if (s->url_tail && strlen(s->url_tail) > 1 && strstr(text, s->url_tail))
		return true;
	if (s->userinfo && *s->userinfo && strstr(text, s->userinfo))
		return true;
	return false;
}

static void split_url(sensitive *s, const char *url)
{
	const char *p = strstr(url, "://"), *aend, *at = NULL;
	p = p ? p + 3 : url;
	aend = p + strcspn(p, "/?#");
	for (const char *q = p; q < aend; q++)
		if (*q == '@')
			at = q;
	if (at)
		s->userinfo = ecplan_xstrfmt("%.*s", (int)(at - p), p);
	s->url_tail = ecplan_xstrdup(aend);
}

static void describe_result(ecplan_strbuf *sb, const attempt_result *res,
			    const ecplan_webhook_spec *spec, long timeout_ms,
			    const sensitive *s)
{
	ecplan_strbuf_reset(sb);
	if (res->net == ECPLAN_NET_OK) {
		ecplan_strbuf_addf(sb, "HTTP %ld", res->status);
		if (res->status >= 300 && res->status <= 399 && !spec->follow_redirects)
			ecplan_strbuf_adds(sb, " (redirects are not followed)");
		return;
	}
	/* libcurl's own detail is more precise than curl_easy_strerror(), but
	 * it is only used when it contains nothing secret. */
	bool detail = res->curl_error[0] && !mentions_secret(s, res->curl_error);
	if (res->net == ECPLAN_NET_TIMEOUT)
		ecplan_strbuf_addf(sb, "timed out after %ld ms", timeout_ms);
	else if (!detail)
		ecplan_strbuf_adds(sb, curl_easy_strerror((CURLcode)res->curl_code));
	if (detail)
		ecplan_strbuf_addf(sb, "%s%s", res->net == ECPLAN_NET_TIMEOUT ? ": " : "",
				   res->curl_error);
}

static const char *find_n(const char *hay, const char *needle, size_t nlen)
{
	for (; *hay; hay++)
		if (!strncmp(hay, needle, nlen))
			return hay;
	return NULL;
}

/* Replaces every occurrence of needle (at least 4 bytes) in *text. */
static void redact_in(char **text, const char *needle, size_t nlen)
{
	if (nlen < 4)
		return;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	const char *p = *text, *hit;
	bool any = false;
	while ((hit = find_n(p, needle, nlen))) {
		ecplan_strbuf_add(&sb, p, (size_t)(hit - p));
		ecplan_strbuf_adds(&sb, REDACTED);
		p = hit + nlen;
		any = true;
	}
	if (!any) {
		ecplan_strbuf_release(&sb);
		return;
	}
	ecplan_strbuf_adds(&sb, p);
	free(*text);
	*text = ecplan_strbuf_detach(&sb);
}

/* Redacts value and each of its words (a "Bearer <token>" echoed as just the
 * token). */
static void redact_value(char **text, const char *value, const char *seps)
{
	if (!value || !*value)
		return;
	redact_in(text, value, strlen(value));
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, seps);
		if (n >= 6 && n < strlen(value))
			redact_in(text, p, n);
		p += n;
		if (*p)
			p++;
	}
}

/*
 * What a non-2xx answer said, safe to show and record: the first
 * ECPLAN_WEBHOOK_RESPONSE_MAX bytes of its body with every secret ecplan
 * sent (the signing secret, plan header values and their words, the url's
 * userinfo and query values) replaced by "[redacted]", then line breaks and
 * other control or non-ASCII bytes replaced, so it is one line of text.
 * NULL for an empty body.
 */
static char *response_text(const attempt_result *res, const sensitive *s)
{
	if (!res->body_len)
		return NULL;
	char *t = ecplan_xcalloc(res->body_len + 1, 1);
	/* a NUL byte in the body would hide what follows from the redaction */
	for (size_t i = 0; i < res->body_len; i++)
		t[i] = res->body[i] ? res->body[i] : ' ';
	if (s->secret)
		redact_in(&t, s->secret, strlen(s->secret));
	for (size_t i = s->first_plan_header; i < s->r->nheaders; i++)
		redact_value(&t, s->r->headers[i].value, " ,;:=");
	if (s->userinfo)
		redact_value(&t, s->userinfo, ":");
	const char *q = s->url_tail ? strchr(s->url_tail, '?') : NULL;
	if (q)
		redact_value(&t, q + 1, "&=#");
	size_t n = strlen(t);
	bool cut = res->body_truncated;
	if (n > ECPLAN_WEBHOOK_RESPONSE_MAX) {
		n = ECPLAN_WEBHOOK_RESPONSE_MAX;
		cut = true;
	}
	t[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '\n' || c == '\r' || c == '\t')
			t[i] = ' ';
		else if (c < 0x20 || c >= 0x7f)
			t[i] = '?';
	}
	if (cut) {
		char *full = ecplan_xstrfmt("%s...", t);
		free(t);
		t = full;
	}
	return t;
}

static const char *final_hint(const attempt_result *res, const ecplan_webhook_spec *spec)
{
	if (res->net == ECPLAN_NET_OK && res->status >= 300 && res->status <= 399)
		return spec->follow_redirects
			? "the receiver redirects in a loop or too often; point url at the final location"
			: "the url redirects: point it at the final location, or set follow_redirects";
	if (res->net == ECPLAN_NET_OK && res->status >= 400 && res->status <= 499 &&
	    !ecplan_backoff_should_retry(res->status, res->net))
		return "the receiver rejected the request; check the webhook's url, headers and secret";
	if (res->net == ECPLAN_NET_TLS)
		return "ecplan always verifies TLS: fix the receiver's certificate or the CA bundle";
	if (ecplan_backoff_should_retry(res->status, res->net))
		return "the receiver kept failing; check it, raise retries or timeout_ms, then re-deliver";
	return "check the webhook's url";
}

int ecplan_webhook_deliver(const ecplan_webhook_spec *spec,
			   const ecplan_webhook_request *req,
			   ecplan_webhook_attempt_fn on_attempt, void *ctx,
			   ecplan_error *err)
{
	ecplan_webhook_options o = resolve_options(req);
	const char *name = spec->name ? spec->name : "";
	long timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : DEFAULT_TIMEOUT_MS;
	int max_attempts = 1 + (spec->retries > 0 ? spec->retries : 0);
	ecplan_strbuf errtext = ECPLAN_STRBUF_INIT;
	attempt_result res;
	char *described = NULL, *answer = NULL;
	int rc = ECPLAN_ERR, attempt;
	bool mine;

	memset(&res, 0, sizeof(res));
	if (!req)
		return ecplan_error_set(err, ECPLAN_EINVALID,
					"webhook \"%s\": no request to deliver", name);
	described = ecplan_webhook_describe_url(spec, req);
	for (attempt = 1; attempt <= max_attempts; attempt++) {
		ecplan_webhook_rendered r = ECPLAN_WEBHOOK_RENDERED_INIT;
		sensitive s = { 0 };
		ecplan_webhook_attempt a;
		long long started = o.now(o.ctx);
		long t0, delay = 0;
		bool retry;
		int stop;

		if ((rc = ecplan_webhook_render(&r, spec, req, attempt, started, 0, err)))
			goto done;
		s.secret = spec->secret_env ? o.env(spec->secret_env, o.ctx) : NULL;
		s.r = &r;
		s.first_plan_header = r.nheaders - spec->nheaders;
		split_url(&s, r.url);

		t0 = monotonic_ms();
		perform_attempt(&r, spec, timeout_ms, &res);

		memset(&a, 0, sizeof(a));
		a.duration_ms = monotonic_ms() - t0;
		a.ok = ecplan_backoff_is_success(res.status, res.net);
		if (!a.ok)
			describe_result(&errtext, &res, spec, timeout_ms, &s);
		retry = !a.ok && attempt < max_attempts &&
			ecplan_backoff_should_retry(res.status, res.net);
		if (retry) {
			long ra = res.net == ECPLAN_NET_OK && res.retry_after[0]
				? ecplan_backoff_parse_retry_after(res.retry_after,
								   o.now(o.ctx), o.max_delay_ms)
				: -1;
			delay = ecplan_backoff_next_delay_ms(attempt - 1, ra, o.base_delay_ms,
							     o.max_delay_ms, o.rng, o.ctx);
		}
		free(answer);
		answer = a.ok ? NULL : response_text(&res, &s);
		a.response_body = answer;
		a.webhook = name;
		a.event = req->event;
		a.delivery_id = req->delivery_id;
		a.url = described;
		a.method = r.method;
		a.attempt = attempt;
		a.max_attempts = max_attempts;
		a.started_at = started;
		a.http_status = res.status;
		a.error = a.ok ? NULL : errtext.buf;
		a.will_retry = retry;
		a.retry_delay_ms = delay;
		stop = on_attempt ? on_attempt(&a, ctx) : 0;

		free(s.url_tail);
		free(s.userinfo);
		ecplan_webhook_rendered_release(&r);
		if (a.ok) {
			rc = 0;
			goto done;
		}
		if (stop) {
			if (err && !err->code) {
				ecplan_error_set(err, ECPLAN_ERR,
						 "webhook \"%s\": delivery stopped by the caller after attempt %d",
						 name, attempt);
				err->http_status = res.status;
			}
			rc = ECPLAN_ERR;
			goto done;
		}
		if (!retry)
			break;
		o.sleep_ms(delay, o.ctx);
	}
	if (attempt > max_attempts)
		attempt = max_attempts;
	mine = err && !err->code;
	if (attempt > 1)
		ecplan_error_set(err, ECPLAN_ERR, "webhook \"%s\" failed after %d attempts: %s",
				 name, attempt, errtext.buf);
	else
		ecplan_error_set(err, ECPLAN_ERR, "webhook \"%s\" failed: %s", name, errtext.buf);
	if (mine) {
		err->http_status = res.status;
		if (answer)
			ecplan_error_detail(err, "event \"%s\", delivery %s, %s %s; the receiver answered: %s",
					    req->event, req->delivery_id,
					    spec->method && *spec->method ? spec->method : "POST",
					    described, answer);
		else
			ecplan_error_detail(err, "event \"%s\", delivery %s, %s %s",
					    req->event, req->delivery_id,
					    spec->method && *spec->method ? spec->method : "POST",
					    described);
		ecplan_error_hint(err, "%s", final_hint(&res, spec));
	}
	rc = ECPLAN_ERR;
done:
	free(described);
	free(answer);
	ecplan_strbuf_release(&errtext);
	return rc;
}
