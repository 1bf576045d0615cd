#ifndef ECPLAN_SIGN_H
#define ECPLAN_SIGN_H
/*
 * Webhook signatures. Pure (OpenSSL's HMAC, no clock, no environment).
 *
 * A signed delivery carries
 *   X-Ecplan-Signature: t=<unix seconds>,v1=<hex>
 * where <hex> is the lowercase hex HMAC-SHA256, keyed with the secret, of the
 * bytes "<t>.<body>" (the decimal timestamp, a full stop, the exact request
 * body). Receivers recompute it, compare in constant time and reject
 * timestamps too far from their clock (replay protection); see
 * ecplan_sign_verify, which is what the tests and the documentation use.
 */
#include <stdbool.h>
#include <stddef.h>

#define ECPLAN_SIGN_HEADER "X-Ecplan-Signature"

/*
 * Returns the header value "t=<timestamp>,v1=<64 hex digits>" for body
 * (body_len bytes; body may be NULL when body_len is 0) signed with secret
 * (a NUL-terminated string, may be empty). The string is malloc'ed and owned
 * by the caller, who should treat it as sensitive only in the sense that it
 * authenticates this one body. Returns NULL only if OpenSSL fails.
 */
char *ecplan_sign(const char *secret, long long timestamp,
		  const void *body, size_t body_len);

/*
 * Checks a header value produced by ecplan_sign. The header is a
 * comma-separated list of key=value pairs; it must hold exactly one t= and
 * at least one v1= (several are allowed, for secret rotation on the
 * receiving side); unknown keys are ignored. Returns true when some v1
 * matches HMAC-SHA256(secret, "<t>.<body>") (constant-time comparison) and,
 * if tolerance_s > 0, |now_s - t| <= tolerance_s. Returns false for a
 * malformed header, a wrong secret, a changed body or a stale timestamp.
 */
bool ecplan_sign_verify(const char *header, const char *secret,
			const void *body, size_t body_len,
			long long now_s, long tolerance_s);

#endif
