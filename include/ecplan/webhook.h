#ifndef ECPLAN_WEBHOOK_H
#define ECPLAN_WEBHOOK_H
/*
 * Webhook delivery between phases, with libcurl. The only module that
 * touches the network.
 *
 * A delivery is one event sent to one webhook; it makes 1 + spec->retries
 * attempts at most. Each attempt is reported to the caller (who records it
 * in the event log) through an ecplan_webhook_attempt_fn. Whether a failed
 * delivery stops the plan (a gate) is the caller's decision, not this
 * module's.
 *
 * The request (see ecplan_webhook_render):
 *   method    spec->method, default POST. GET and HEAD send no body (the
 *             signature then covers the empty body); every other method
 *             sends it.
 *   url       spec->url with ${...} substituted (template.h); http or https
 *   headers   always, in this order:
 *               Content-Type: application/json   (unless the plan sets its own)
 *               User-Agent: ecplan/<ECPLAN_VERSION>
 *               X-Ecplan-Event: <event>
 *               X-Ecplan-Delivery: <req->delivery_id>
 *               Idempotency-Key: <plan>:<event>:<req->phase_attempt>
 *               X-Ecplan-Signature: t=<unix s>,v1=<hex>   (secret_env, scheme "ecplan"; sign.h)
 *               webhook-id, webhook-timestamp, webhook-signature
 *                                  (secret_env, scheme "standard": Standard Webhooks; sign.h)
 *             then the plan's headers, values substituted. A plan may not
 *             set the headers above except Content-Type
 *             (ecplan_webhook_header_reserved; the standard signature's
 *             three only when that scheme is on).
 *   body      spec->body substituted (values JSON-escaped), or the default
 *             payload (ecplan_webhook_default_payload).
 *
 * Retries (backoff.h): connection errors, timeouts, 408, 429 and 5xx are
 * retried after a full-jitter delay (base 500 ms, cap 30 s) or after the
 * server's Retry-After (seconds or HTTP-date, capped at 30 s); 2xx is
 * success; 3xx is a failure when redirects are not followed (the default:
 * spec->follow_redirects), never retried; other 4xx are never retried.
 * Each attempt is limited to spec->timeout_ms (<= 0: 5000). TLS peer and
 * host verification are always on. Only http and https are allowed, also
 * for redirects. Proxies follow libcurl's usual environment variables.
 *
 * Secrets: the value of secret_env and every header value taken from the
 * plan (after substitution) are never put in error messages or attempt
 * reports. URLs in reports and messages are "described": ${env.*} parts are
 * shown as written, not expanded, then ecplan_webhook_redact_url applies.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecplan/backoff.h"
#include "ecplan/error.h"
#include "ecplan/plan.h"
#include "ecplan/template.h"

/* How much of a non-2xx answer's body is shown and recorded. */
#define ECPLAN_WEBHOOK_RESPONSE_MAX 512

/* Size of a buffer for ecplan_webhook_new_delivery_id: 32 hex digits + NUL. */
#define ECPLAN_WEBHOOK_DELIVERY_ID_SIZE 33

/*
 * Hooks for tests and embedders; a NULL function means the default. All
 * functions receive `ctx`. Zeroed options are the defaults.
 */
typedef struct ecplan_webhook_options {
	/* Waits between attempts. Default: nanosleep() (restarted on EINTR). */
	void (*sleep_ms)(long ms, void *ctx);
	/* Random source for the jitter. Default: OpenSSL RAND_bytes. */
	ecplan_rng_fn rng;
	/* Wall clock, Unix seconds, for payload timestamps and signatures.
	 * Default: time(). */
	long long (*now)(void *ctx);
	/* Environment lookup for ${env.*} and secret_env. Default: getenv(). */
	ecplan_env_fn env;
	void *ctx;
	long base_delay_ms; /* <= 0: ECPLAN_BACKOFF_BASE_MS */
	long max_delay_ms;  /* <= 0: ECPLAN_BACKOFF_CAP_MS (also caps Retry-After) */
} ecplan_webhook_options;

/* What is being delivered. Strings are borrowed for the call only. */
typedef struct ecplan_webhook_request {
	const char *plan_name;   /* required */
	const char *table;       /* the plan's table, column and new column */
	const char *column;
	const char *new_column;
	const char *event;       /* required: "backfill.before", ..., "failed" */
	const char *phase;       /* phase of the event; NULL: none (JSON null) */
	const char *state;       /* plan state when the event fires; NULL: null */
	/* required: unique per delivery and the same for all its attempts and
	 * re-deliveries (the caller stores it); ecplan_webhook_new_delivery_id */
	const char *delivery_id;
	int phase_attempt;       /* >= 1: which run of the phase this is */
	bool test;               /* sent by `ecplan webhook test` */
	const char *error;       /* event "failed": the error text; else ignored */
	const ecplan_webhook_options *options; /* NULL: all defaults */
} ecplan_webhook_request;

/* One attempt, as reported to the caller. Pointers are valid only during
 * the callback; nothing in it is secret. */
typedef struct ecplan_webhook_attempt {
	const char *webhook;      /* spec->name */
	const char *event;
	const char *delivery_id;
	const char *url;          /* described url (see above), no credentials */
	const char *method;
	int attempt;              /* 1-based */
	int max_attempts;         /* 1 + retries */
	long long started_at;     /* Unix seconds (options->now) */
	long duration_ms;
	long http_status;         /* 0 when no response arrived */
	bool ok;                  /* 2xx */
	const char *error;        /* NULL when ok; else e.g. "HTTP 503",
				     "timed out after 5000 ms: ..." */
	/* A non-2xx answer's body: its first ECPLAN_WEBHOOK_RESPONSE_MAX bytes,
	 * secrets ecplan sent replaced by "[redacted]", one line of printable
	 * ASCII, "..." appended when cut; NULL when ok or empty. */
	const char *response_body;
	bool will_retry;          /* another attempt follows */
	long retry_delay_ms;      /* the wait before it, when will_retry */
} ecplan_webhook_attempt;

/* Called after every attempt. Return 0 to carry on; anything else means
 * "no further attempts": after a failed attempt ecplan_webhook_deliver then
 * returns ECPLAN_ERR at once (after a successful one it still returns 0). */
typedef int (*ecplan_webhook_attempt_fn)(const ecplan_webhook_attempt *attempt,
					  void *ctx);

/* curl_global_init / curl_global_cleanup. Call init once before any
 * delivery, while the program is single-threaded, and cleanup at the end.
 * init returns 0 or ECPLAN_ERR (with err filled). */
int ecplan_webhook_global_init(ecplan_error *err);
void ecplan_webhook_global_cleanup(void);

/*
 * Delivers req to spec, retrying as described above, and calls on_attempt
 * (may be NULL) after every attempt. spec->events is not consulted: the
 * caller picks the webhooks of an event (ecplan_plan_webhooks_for).
 *
 * Returns
 *   0               a 2xx answer arrived;
 *   ECPLAN_EINVALID the request could not be built (missing req fields, an
 *                   unset ${env.*} or secret_env, a bad url or header);
 *                   nothing was sent and on_attempt was not called;
 *   ECPLAN_ERR      every attempt failed, a failure was not retryable, or
 *                   on_attempt asked to stop. err->http_status is the last
 *                   HTTP status (0 if none), err->message says which
 *                   webhook failed how, detail names event, delivery and
 *                   described url, hint says what to do.
 */
int ecplan_webhook_deliver(const ecplan_webhook_spec *spec,
			   const ecplan_webhook_request *req,
			   ecplan_webhook_attempt_fn on_attempt, void *ctx,
			   ecplan_error *err);

/* A request as it would go on the wire. All strings owned by the struct. */
typedef struct ecplan_webhook_rendered {
	char *method;
	char *url;               /* the final url (may hold secrets) */
	ecplan_header *headers;  /* in sending order */
	size_t nheaders;
	char *body;              /* NUL-terminated; "" for GET and HEAD */
	size_t body_len;
} ecplan_webhook_rendered;

#define ECPLAN_WEBHOOK_RENDERED_INIT { NULL, NULL, NULL, 0, NULL, 0 }

/* For ecplan_webhook_render: a secret-free rendering for display (dry runs,
 * logs): the url is described, plan header values become "[redacted]",
 * ${env.*} in the body stay as written and the signature's v1 is
 * "[redacted]"; the environment is not read for them at all. */
#define ECPLAN_WEBHOOK_RENDER_REDACT (1u << 0)

/*
 * Builds attempt number `attempt` (1-based) of req for spec at time now_s
 * (Unix seconds: payload timestamp and signature), without sending it.
 * Pure apart from req->options->env. On success returns 0 and fills *out,
 * which the caller releases with ecplan_webhook_rendered_release. On failure
 * returns ECPLAN_EINVALID, leaves *out empty and fills err (message names
 * webhook and variable or header, path is the field, e.g. "url",
 * "headers.Authorization", "body", "secret_env").
 */
int ecplan_webhook_render(ecplan_webhook_rendered *out,
			  const ecplan_webhook_spec *spec,
			  const ecplan_webhook_request *req, int attempt,
			  long long now_s, unsigned flags, ecplan_error *err);

/* Frees the contents; *r is empty (reusable) afterwards. */
void ecplan_webhook_rendered_release(ecplan_webhook_rendered *r);

/* Value of a header in r (name compared case-insensitively), or NULL.
 * Borrowed from r. */
const char *ecplan_webhook_rendered_header(const ecplan_webhook_rendered *r,
					   const char *name);

/*
 * The default JSON body (jansson, compact, keys in this order): event,
 * plan, table, column, new_column, phase, state, delivery_id, attempt,
 * timestamp ("2026-11-25T03:42:17Z", UTC, from now_s), test, and for the
 * "failed" event error. NULL strings become JSON null. Returns a malloc'ed
 * string the caller frees.
 */
char *ecplan_webhook_default_payload(const ecplan_webhook_request *req,
				     int attempt, long long now_s);

/*
 * A url safe to log: the userinfo ("user:pass@") is removed, scheme, host,
 * port and path are kept, every query value becomes "REDACTED" (a query
 * item without "=" becomes "REDACTED": it may be a bare token), the fragment
 * is dropped. Secrets in the path cannot be recognised: put such urls in
 * the environment (${env.*}), which reports show unexpanded. Not a
 * validator: anything is accepted. Returns a malloc'ed string the caller
 * frees; NULL in, NULL out.
 */
char *ecplan_webhook_redact_url(const char *url);

/*
 * The url of spec as reports show it: substituted from req (which may be
 * NULL: non-env variables as written) except ${env.*}, then redacted.
 * Never reads the environment. Caller frees.
 */
char *ecplan_webhook_describe_url(const ecplan_webhook_spec *spec,
				  const ecplan_webhook_request *req);

/*
 * Writes a fresh random delivery id (32 lowercase hex digits from
 * RAND_bytes) into out, which holds size >= ECPLAN_WEBHOOK_DELIVERY_ID_SIZE
 * bytes. Returns 0, or ECPLAN_ERR (err filled) if size is too small or the
 * random generator fails.
 */
int ecplan_webhook_new_delivery_id(char *out, size_t size, ecplan_error *err);

/* True for header names a plan may not set because ecplan sets them:
 * Content-Length, User-Agent, Host, Expect, Transfer-Encoding,
 * Idempotency-Key and X-Ecplan-* (case-insensitive). Content-Type is not:
 * a plan's own replaces application/json. */
bool ecplan_webhook_header_reserved(const char *name);

/* True when s is an HTTP token (RFC 9110): a valid method or header name. */
bool ecplan_webhook_is_token(const char *s);

/* How a libcurl result code classifies for retrying (a CURLcode as int). */
ecplan_net_class ecplan_webhook_curl_class(int curl_code);

#endif
