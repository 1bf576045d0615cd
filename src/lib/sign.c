/*
 * HMAC-SHA256 webhook signatures ("t=<ts>,v1=<hex>"). The timestamp is part
 * of the signed bytes so a receiver can refuse replays of old deliveries;
 * verification compares with CRYPTO_memcmp so it leaks no timing.
 */
#include "ecplan/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ecplan/strbuf.h"

#define MAC_LEN 32

/* HMAC-SHA256(secret, "<timestamp>.<body>") into mac. */
static int compute_mac(unsigned char mac[MAC_LEN], const char *secret,
		       long long timestamp, const void *body, size_t body_len)
{
	ecplan_strbuf msg = ECPLAN_STRBUF_INIT;
	unsigned int mac_len = 0;
	const char *key = secret ? secret : "";
	int rc = 0;

	ecplan_strbuf_addf(&msg, "%lld.", timestamp);
	if (body_len)
		ecplan_strbuf_add(&msg, body, body_len);
	/* A zero-length key needs a non-NULL pointer for HMAC(). */
	if (!HMAC(EVP_sha256(), key, (int)strlen(key),
		  (const unsigned char *)msg.buf, msg.len, mac, &mac_len) ||
	    mac_len != MAC_LEN)
		rc = -1;
	OPENSSL_cleanse(msg.buf, msg.len);
	ecplan_strbuf_release(&msg);
	return rc;
}

char *ecplan_sign(const char *secret, long long timestamp,
		  const void *body, size_t body_len)
{
	unsigned char mac[MAC_LEN];
	char hex[2 * MAC_LEN + 1];

	if (compute_mac(mac, secret, timestamp, body, body_len))
		return NULL;
	for (int i = 0; i < MAC_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return ecplan_xstrfmt("t=%lld,v1=%s", timestamp, hex);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly 64 hex digits of [s, s+len) into out. */
static int decode_mac(unsigned char out[MAC_LEN], const char *s, size_t len)
{
	if (len != 2 * MAC_LEN)
		return -1;
	for (size_t i = 0; i < MAC_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Parses a decimal timestamp from [s, s+len); at most 18 digits, no sign. */
static int parse_ts(const char *s, size_t len, long long *out)
{
	long long v = 0;
	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

bool ecplan_sign_verify(const char *header, const char *secret,
			const void *body, size_t body_len,
			long long now_s, long tolerance_s)
{
	unsigned char want[MAC_LEN], got[MAC_LEN];
	long long ts = 0;
	int nts = 0;
	bool match = false;
	const char *p;

	if (!header)
		return false;
	/* First pass: the timestamp, which the MAC depends on. */
	for (p = header; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && *p == ' ') {
			p++;
			len--;
		}
		if (len > 2 && !strncmp(p, "t=", 2)) {
			if (parse_ts(p + 2, len - 2, &ts))
				return false;
			nts++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (nts != 1)
		return false;
	if (tolerance_s > 0) {
		long long skew = now_s > ts ? now_s - ts : ts - now_s;
		if (skew > tolerance_s)
			return false;
	}
	if (compute_mac(want, secret, ts, body, body_len))
		return false;
	for (p = header; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && *p == ' ') {
			p++;
			len--;
		}
		if (len > 3 && !strncmp(p, "v1=", 3) &&
		    !decode_mac(got, p + 3, len - 3) &&
		    CRYPTO_memcmp(got, want, MAC_LEN) == 0)
			match = true;
		p += len;
		if (*p == ',')
			p++;
	}
	OPENSSL_cleanse(want, sizeof(want));
	return match;
}

/* --- Standard Webhooks ---------------------------------------------------- */

#define STD_PREFIX "whsec_"

/* The HMAC key of secret (see sign.h) into *key (malloc'ed), its length into
 * *klen. Returns 0, or -1 for a "whsec_" secret that is not base64. */
static int standard_key(const char *secret, unsigned char **key, size_t *klen)
{
	const char *s = secret ? secret : "";
	size_t n = strlen(s);
	if (strncmp(s, STD_PREFIX, strlen(STD_PREFIX))) {
		*key = (unsigned char *)ecplan_xstrdup(s);
		*klen = n;
		return 0;
	}
	s += strlen(STD_PREFIX);
	n -= strlen(STD_PREFIX);
	if (n == 0 || n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool pad = c == '=' && i >= n - 2;
		if (!pad && !(c == '+' || c == '/' || (c >= '0' && c <= '9') ||
			      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return -1;
		if (pad && i == n - 2 && s[n - 1] != '=')
			return -1;
	}
	unsigned char *out = ecplan_xcalloc(n / 4 * 3 + 1, 1);
	int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (len < 0) {
		free(out);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (s[n - 1] == '=')
		len--;
	if (s[n - 2] == '=')
		len--;
	*key = out;
	*klen = (size_t)len;
	return 0;
}

bool ecplan_sign_standard_secret_ok(const char *secret)
{
	unsigned char *key = NULL;
	size_t klen = 0;
	if (standard_key(secret, &key, &klen))
		return false;
	OPENSSL_cleanse(key, klen);
	free(key);
	return true;
}

char *ecplan_sign_standard(const char *secret, const char *msg_id, long long timestamp,
			   const void *body, size_t body_len)
{
	unsigned char *key = NULL, mac[MAC_LEN];
	unsigned char b64[4 * ((MAC_LEN + 2) / 3) + 1];
	unsigned int mac_len = 0;
	size_t klen = 0;
	char *result = NULL;

	if (standard_key(secret, &key, &klen))
		return NULL;
	ecplan_strbuf msg = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&msg, "%s.%lld.", msg_id ? msg_id : "", timestamp);
	if (body_len)
		ecplan_strbuf_add(&msg, body, body_len);
	/* A zero-length key needs a non-NULL pointer for HMAC(). */
	if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg.buf, msg.len, mac,
		 &mac_len) && mac_len == MAC_LEN) {
		EVP_EncodeBlock(b64, mac, MAC_LEN);
		result = ecplan_xstrfmt("v1,%s", (const char *)b64);
	}
	OPENSSL_cleanse(msg.buf, msg.len);
	ecplan_strbuf_release(&msg);
	OPENSSL_cleanse(key, klen);
	free(key);
	return result;
}
