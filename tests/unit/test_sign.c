/* Unit tests for sign.h: a known HMAC-SHA256 vector and verification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/sign.h"

#define SECRET "whsec_test_secret"
#define BODY "{\"event\":\"expand.before\"}"
#define TS 1700000000LL

/*
 * Computed independently with
 *   printf '%s' '1700000000.{"event":"expand.before"}' \
 *     | openssl dgst -sha256 -hmac 'whsec_test_secret'
 */
#define VECTOR "t=1700000000,v1=19cfba81245270e9911605b87e99c2048411e8053326190a1295a48df5167993"

static void test_known_vector(void **state)
{
	char *sig;
	(void)state;
	sig = ecplan_sign(SECRET, TS, BODY, strlen(BODY));
	assert_non_null(sig);
	assert_string_equal(sig, VECTOR);
	free(sig);

	/* Empty body: printf '%s' '1700000000.' | openssl dgst -sha256 -hmac k */
	sig = ecplan_sign("k", TS, NULL, 0);
	assert_non_null(sig);
	assert_string_equal(sig, "t=1700000000,v1=5c2999a43333a6877f49c8003f235c4f6de40f85b1b7414b70bd470a8db53d97");
	free(sig);
}

static void test_verify(void **state)
{
	char *sig = ecplan_sign(SECRET, TS, BODY, strlen(BODY));
	const char *tampered = "{\"event\":\"expand.after\"}";
	(void)state;

	assert_true(ecplan_sign_verify(sig, SECRET, BODY, strlen(BODY), TS, 300));
	assert_true(ecplan_sign_verify(VECTOR, SECRET, BODY, strlen(BODY), 0, 0));
	/* wrong secret */
	assert_false(ecplan_sign_verify(sig, "whsec_other", BODY, strlen(BODY), TS, 300));
	assert_false(ecplan_sign_verify(sig, "", BODY, strlen(BODY), TS, 300));
	/* tampered body, truncated body */
	assert_false(ecplan_sign_verify(sig, SECRET, tampered, strlen(tampered), TS, 300));
	assert_false(ecplan_sign_verify(sig, SECRET, BODY, strlen(BODY) - 1, TS, 300));
	/* tampered timestamp: the MAC covers it */
	assert_false(ecplan_sign_verify("t=1700000001,v1=19cfba81245270e9911605b87e99c2048411e8053326190a1295a48df5167993",
					SECRET, BODY, strlen(BODY), TS, 0));
	/* stale or future beyond the tolerance; 0 disables the check */
	assert_false(ecplan_sign_verify(sig, SECRET, BODY, strlen(BODY), TS + 301, 300));
	assert_false(ecplan_sign_verify(sig, SECRET, BODY, strlen(BODY), TS - 301, 300));
	assert_true(ecplan_sign_verify(sig, SECRET, BODY, strlen(BODY), TS + 300, 300));
	assert_true(ecplan_sign_verify(sig, SECRET, BODY, strlen(BODY), TS + 100000, 0));
	free(sig);
}

static void test_verify_header_forms(void **state)
{
	const char *mac = "19cfba81245270e9911605b87e99c2048411e8053326190a1295a48df5167993";
	char buf[512];
	(void)state;

	/* several v1 (rotation), unknown keys, blanks, upper-case hex */
	snprintf(buf, sizeof(buf), "t=1700000000, v0=abc, v1=%064d, v1=%s", 0, mac);
	assert_true(ecplan_sign_verify(buf, SECRET, BODY, strlen(BODY), TS, 0));
	assert_true(ecplan_sign_verify("t=1700000000,v1=19CFBA81245270E9911605B87E99C2048411E8053326190A1295A48DF5167993",
				       SECRET, BODY, strlen(BODY), TS, 0));
	/* malformed */
	assert_false(ecplan_sign_verify(NULL, SECRET, BODY, strlen(BODY), TS, 0));
	assert_false(ecplan_sign_verify("", SECRET, BODY, strlen(BODY), TS, 0));
	snprintf(buf, sizeof(buf), "v1=%s", mac);
	assert_false(ecplan_sign_verify(buf, SECRET, BODY, strlen(BODY), TS, 0));
	snprintf(buf, sizeof(buf), "t=1700000000,t=1700000000,v1=%s", mac);
	assert_false(ecplan_sign_verify(buf, SECRET, BODY, strlen(BODY), TS, 0));
	snprintf(buf, sizeof(buf), "t=-1700000000,v1=%s", mac);
	assert_false(ecplan_sign_verify(buf, SECRET, BODY, strlen(BODY), TS, 0));
	snprintf(buf, sizeof(buf), "t=1700000000,v1=%.63s", mac);
	assert_false(ecplan_sign_verify(buf, SECRET, BODY, strlen(BODY), TS, 0));
	snprintf(buf, sizeof(buf), "t=1700000000,v1=%sff", mac);
	assert_false(ecplan_sign_verify(buf, SECRET, BODY, strlen(BODY), TS, 0));
	assert_false(ecplan_sign_verify("t=1700000000", SECRET, BODY, strlen(BODY), TS, 0));
}

/* The example of the Standard Webhooks specification (and of its verifier
 * libraries' tests): a whsec_ secret is base64-decoded to the key. */
static void test_standard_known_vector(void **state)
{
	(void)state;
	const char *body = "{\"test\": 2432232314}";
	char *sig = ecplan_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
					 "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330LL, body,
					 strlen(body));
	assert_non_null(sig);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	free(sig);
}

/* Any other secret keys the HMAC with its raw bytes; pinned with python3:
 * base64(hmac.new(b"plain-secret", b"<id>.1700000000.{}", sha256).digest()). */
static void test_standard_raw_secret(void **state)
{
	(void)state;
	char *sig = ecplan_sign_standard("plain-secret", "0123456789abcdef0123456789abcdef",
					 1700000000LL, "{}", 2);
	assert_non_null(sig);
	assert_string_equal(sig, "v1,C5cxJYfqI68rtQT3B9qh8uMgXEPoBFgIR7ayiEOlraI=");
	free(sig);
	/* a changed body or id changes the signature */
	sig = ecplan_sign_standard("plain-secret", "0123456789abcdef0123456789abcdeF",
				   1700000000LL, "{}", 2);
	assert_string_not_equal(sig, "v1,C5cxJYfqI68rtQT3B9qh8uMgXEPoBFgIR7ayiEOlraI=");
	free(sig);
}

static void test_standard_bad_secret(void **state)
{
	(void)state;
	assert_true(ecplan_sign_standard_secret_ok("plain"));
	assert_true(ecplan_sign_standard_secret_ok("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
	assert_true(ecplan_sign_standard_secret_ok("whsec_YWI="));
	assert_false(ecplan_sign_standard_secret_ok("whsec_"));
	assert_false(ecplan_sign_standard_secret_ok("whsec_not base64!"));
	assert_false(ecplan_sign_standard_secret_ok("whsec_abc"));
	assert_false(ecplan_sign_standard_secret_ok("whsec_a=bc"));
	assert_null(ecplan_sign_standard("whsec_abc", "id", 1, "", 0));
	/* "whsec_YWI=" is the key "ab" */
	char *a = ecplan_sign_standard("whsec_YWI=", "id", 1, "x", 1);
	char *b = ecplan_sign_standard("ab", "id", 1, "x", 1);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vector),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_header_forms),
		cmocka_unit_test(test_standard_known_vector),
		cmocka_unit_test(test_standard_raw_secret),
		cmocka_unit_test(test_standard_bad_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
