#ifndef ECPLAN_BACKOFF_H
#define ECPLAN_BACKOFF_H
/*
 * Retry arithmetic for webhook delivery. Pure: no clock, no I/O, no global
 * random state. The random source is a parameter, so a test that passes a
 * fixed seed gets the same delays every run.
 *
 * Policy (the public contract of webhook delivery):
 *   - delay before retry n (n = 0 for the first retry) is "full jitter":
 *     uniform in [0, min(cap, base * 2^n)] milliseconds, base 500 ms,
 *     cap 30 s by default;
 *   - a Retry-After header on a retryable response replaces the jittered
 *     delay; it is capped at the same 30 s so one answer cannot stall a
 *     phase for long (the retry budget, `retries`, still applies);
 *   - connection errors, timeouts, 408, 429 and 5xx are retried;
 *     2xx is success; 3xx (redirects not followed), other 4xx and
 *     everything else are final failures.
 */
#include <stdbool.h>
#include <stdint.h>

#define ECPLAN_BACKOFF_BASE_MS 500L
#define ECPLAN_BACKOFF_CAP_MS 30000L

/* A source of uniformly distributed 64-bit values. */
typedef uint64_t (*ecplan_rng_fn)(void *ctx);

/*
 * A deterministic ecplan_rng_fn (splitmix64). ctx points at a uint64_t
 * state which it advances; any seed, including 0, is fine.
 */
uint64_t ecplan_backoff_splitmix64(void *ctx);

/*
 * The upper bound of the delay before retry n (0-based):
 * min(cap_ms, base_ms * 2^n). Never overflows; base_ms <= 0 or cap_ms <= 0
 * give 0; n < 0 counts as 0.
 */
long ecplan_backoff_ceiling_ms(int n, long base_ms, long cap_ms);

/*
 * The full-jitter delay before retry n: uniform in
 * [0, ecplan_backoff_ceiling_ms(n, base_ms, cap_ms)], drawn from rng(rng_ctx).
 */
long ecplan_backoff_delay_ms(int n, long base_ms, long cap_ms,
			     ecplan_rng_fn rng, void *rng_ctx);

/*
 * The delay before retry n given what the server said: retry_after_ms >= 0
 * (from ecplan_backoff_parse_retry_after) wins, capped at cap_ms; a negative
 * retry_after_ms means "no usable Retry-After" and gives the jittered delay.
 */
long ecplan_backoff_next_delay_ms(int n, long retry_after_ms, long base_ms,
				  long cap_ms, ecplan_rng_fn rng, void *rng_ctx);

/* How a transfer ended below HTTP. */
typedef enum ecplan_net_class {
	ECPLAN_NET_OK = 0,     /* a complete HTTP response arrived */
	ECPLAN_NET_CONNECT,    /* resolve/connect failed, connection reset or
				  closed without (a complete) answer: retried */
	ECPLAN_NET_TIMEOUT,    /* the per-attempt timeout expired: retried */
	ECPLAN_NET_TLS,        /* certificate verification or TLS setup that
				  will not fix itself: not retried */
	ECPLAN_NET_OTHER       /* bad URL, unsupported protocol, too many
				  redirects, local errors: not retried */
} ecplan_net_class;

/* True for 200-299. */
bool ecplan_backoff_is_success(long http_status, ecplan_net_class net);

/*
 * Whether an attempt that ended this way is worth retrying: CONNECT and
 * TIMEOUT always; with a response (ECPLAN_NET_OK), 408, 429 and 500-599.
 * Success, 1xx, 3xx, other 4xx, TLS and OTHER: false.
 */
bool ecplan_backoff_should_retry(long http_status, ecplan_net_class net);

/*
 * Parses an HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate
 * "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"
 * forms. Sets *out to Unix seconds and returns 0, or returns -1 (and leaves
 * *out alone) when value is not such a date. Locale-independent.
 */
int ecplan_backoff_parse_http_date(const char *value, long long *out);

/*
 * Parses a Retry-After header value, either delta-seconds ("120") or an
 * HTTP-date, relative to now_s (Unix seconds). Surrounding blanks are
 * ignored. Returns the delay in milliseconds, clamped to [0, cap_ms] (a date
 * in the past gives 0), or -1 when value is NULL or unparseable.
 */
long ecplan_backoff_parse_retry_after(const char *value, long long now_s, long cap_ms);

#endif
