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

/*
 * Standard Webhooks (https://www.standardwebhooks.com), sent beside
 * X-Ecplan-Signature when a webhook's "signature" lists "standard":
 *   webhook-id:        the message id (ecplan: the delivery id)
 *   webhook-timestamp: Unix seconds
 *   webhook-signature: "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))
 * The key: a secret of the form "whsec_<base64>" (the Standard Webhooks form,
 * what their verifier libraries take) is the base64-decoded part; any other
 * secret is used as its raw bytes (a receiver then gives the libraries
 * base64(secret)).
 */
#define ECPLAN_SIGN_STD_ID_HEADER "webhook-id"
#define ECPLAN_SIGN_STD_TIMESTAMP_HEADER "webhook-timestamp"
#define ECPLAN_SIGN_STD_HEADER "webhook-signature"

/* The webhook-signature value "v1,<base64>" (malloc'ed, caller frees), or
 * NULL if OpenSSL fails or a "whsec_" secret is not valid base64. */
char *ecplan_sign_standard(const char *secret, const char *msg_id, long long timestamp,
			   const void *body, size_t body_len);

/* True when secret can key a Standard Webhooks signature: not "whsec_"
 * followed by invalid base64 or nothing. */
bool ecplan_sign_standard_secret_ok(const char *secret);

#endif
