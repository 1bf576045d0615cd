/* Unit tests for backoff.h: jitter bounds and cap, determinism, the retry
 * classifier and Retry-After parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ecplan/backoff.h"

/* An rng that returns a fixed value: exposes the exact mapping. */
static uint64_t fixed_rng(void *ctx)
{
	return *(uint64_t *)ctx;
}

static void test_ceiling(void **state)
{
	(void)state;
	assert_int_equal(ecplan_backoff_ceiling_ms(0, 500, 30000), 500);
	assert_int_equal(ecplan_backoff_ceiling_ms(1, 500, 30000), 1000);
	assert_int_equal(ecplan_backoff_ceiling_ms(2, 500, 30000), 2000);
	assert_int_equal(ecplan_backoff_ceiling_ms(5, 500, 30000), 16000);
	assert_int_equal(ecplan_backoff_ceiling_ms(6, 500, 30000), 30000);
	assert_int_equal(ecplan_backoff_ceiling_ms(7, 500, 30000), 30000);
	/* Huge exponents neither overflow nor loop forever. */
	assert_int_equal(ecplan_backoff_ceiling_ms(1000000, 500, 30000), 30000);
	assert_int_equal(ecplan_backoff_ceiling_ms(63, 1L << 40, 1L << 50), 1L << 50);
	assert_int_equal(ecplan_backoff_ceiling_ms(-3, 500, 30000), 500);
	assert_int_equal(ecplan_backoff_ceiling_ms(0, 0, 30000), 0);
	assert_int_equal(ecplan_backoff_ceiling_ms(0, 500, 0), 0);
	assert_int_equal(ecplan_backoff_ceiling_ms(0, 50000, 30000), 30000);
}

static void test_delay_bounds_and_cap(void **state)
{
	uint64_t seed = 42;
	(void)state;
	for (int n = 0; n < 12; n++) {
		long ceiling = ecplan_backoff_ceiling_ms(n, ECPLAN_BACKOFF_BASE_MS,
							 ECPLAN_BACKOFF_CAP_MS);
		long lo = ceiling, hi = 0;
		for (int i = 0; i < 2000; i++) {
			long d = ecplan_backoff_delay_ms(n, ECPLAN_BACKOFF_BASE_MS,
							 ECPLAN_BACKOFF_CAP_MS,
							 ecplan_backoff_splitmix64, &seed);
			assert_true(d >= 0);
			assert_true(d <= ceiling);
			assert_true(d <= ECPLAN_BACKOFF_CAP_MS);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* Full jitter: the whole range is used, not just the top. */
		assert_true(lo < ceiling / 10);
		assert_true(hi > ceiling - ceiling / 10);
	}
}

static void test_delay_extremes(void **state)
{
	uint64_t v;
	(void)state;
	v = 0;
	assert_int_equal(ecplan_backoff_delay_ms(3, 500, 30000, fixed_rng, &v), 0);
	v = 4000; /* 4000 % (4000 + 1) */
	assert_int_equal(ecplan_backoff_delay_ms(3, 500, 30000, fixed_rng, &v), 4000);
	v = 4001;
	assert_int_equal(ecplan_backoff_delay_ms(3, 500, 30000, fixed_rng, &v), 0);
	v = UINT64_MAX;
	assert_true(ecplan_backoff_delay_ms(20, 500, 30000, fixed_rng, &v) <= 30000);
}

static void test_determinism(void **state)
{
	uint64_t a = 12345, b = 12345, c = 54321;
	long first[8], again[8];
	int differ = 0;
	(void)state;
	for (int i = 0; i < 8; i++)
		first[i] = ecplan_backoff_delay_ms(i, 500, 30000, ecplan_backoff_splitmix64, &a);
	for (int i = 0; i < 8; i++)
		again[i] = ecplan_backoff_delay_ms(i, 500, 30000, ecplan_backoff_splitmix64, &b);
	for (int i = 0; i < 8; i++)
		assert_int_equal(first[i], again[i]);
	for (int i = 0; i < 8; i++)
		differ += ecplan_backoff_delay_ms(i, 500, 30000, ecplan_backoff_splitmix64, &c) != first[i];
	assert_true(differ > 0);

	/* splitmix64 reference values for seed 0 (Vigna's splitmix64.c). */
	uint64_t s = 0;
	assert_true(ecplan_backoff_splitmix64(&s) == UINT64_C(0xe220a8397b1dcdaf));
	assert_true(ecplan_backoff_splitmix64(&s) == UINT64_C(0x6e789e6aa1b965f4));
}

static void test_next_delay(void **state)
{
	uint64_t v = 7;
	(void)state;
	/* Retry-After wins over the jitter, and is capped. */
	assert_int_equal(ecplan_backoff_next_delay_ms(0, 2000, 500, 30000, fixed_rng, &v), 2000);
	assert_int_equal(ecplan_backoff_next_delay_ms(0, 0, 500, 30000, fixed_rng, &v), 0);
	assert_int_equal(ecplan_backoff_next_delay_ms(0, 120000, 500, 30000, fixed_rng, &v), 30000);
	/* No Retry-After: jitter (7 % 501). */
	assert_int_equal(ecplan_backoff_next_delay_ms(0, -1, 500, 30000, fixed_rng, &v), 7);
}

static void test_classifier(void **state)
{
	static const struct {
		long status;
		ecplan_net_class net;
		int retry;
		int success;
	} cases[] = {
		{ 200, ECPLAN_NET_OK, 0, 1 },
		{ 201, ECPLAN_NET_OK, 0, 1 },
		{ 204, ECPLAN_NET_OK, 0, 1 },
		{ 299, ECPLAN_NET_OK, 0, 1 },
		{ 100, ECPLAN_NET_OK, 0, 0 },
		{ 301, ECPLAN_NET_OK, 0, 0 },
		{ 302, ECPLAN_NET_OK, 0, 0 },
		{ 307, ECPLAN_NET_OK, 0, 0 },
		{ 308, ECPLAN_NET_OK, 0, 0 },
		{ 400, ECPLAN_NET_OK, 0, 0 },
		{ 401, ECPLAN_NET_OK, 0, 0 },
		{ 403, ECPLAN_NET_OK, 0, 0 },
		{ 404, ECPLAN_NET_OK, 0, 0 },
		{ 408, ECPLAN_NET_OK, 1, 0 },
		{ 409, ECPLAN_NET_OK, 0, 0 },
		{ 422, ECPLAN_NET_OK, 0, 0 },
		{ 429, ECPLAN_NET_OK, 1, 0 },
		{ 499, ECPLAN_NET_OK, 0, 0 },
		{ 500, ECPLAN_NET_OK, 1, 0 },
		{ 502, ECPLAN_NET_OK, 1, 0 },
		{ 503, ECPLAN_NET_OK, 1, 0 },
		{ 504, ECPLAN_NET_OK, 1, 0 },
		{ 599, ECPLAN_NET_OK, 1, 0 },
		{ 600, ECPLAN_NET_OK, 0, 0 },
		{ 0, ECPLAN_NET_CONNECT, 1, 0 },
		{ 0, ECPLAN_NET_TIMEOUT, 1, 0 },
		{ 0, ECPLAN_NET_TLS, 0, 0 },
		{ 0, ECPLAN_NET_OTHER, 0, 0 },
		/* A status with a transport failure is not a success. */
		{ 200, ECPLAN_NET_TIMEOUT, 1, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ecplan_backoff_should_retry(cases[i].status, cases[i].net),
				 cases[i].retry);
		assert_int_equal(ecplan_backoff_is_success(cases[i].status, cases[i].net),
				 cases[i].success);
	}
}

static void test_http_date(void **state)
{
	long long t = 0;
	(void)state;
	/* The three forms of RFC 9110's example: 784111777. */
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
	assert_true(t == 784111777LL);
	t = 0;
	assert_int_equal(ecplan_backoff_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
	assert_true(t == 784111777LL);
	t = 0;
	assert_int_equal(ecplan_backoff_parse_http_date("Sun Nov  6 08:49:37 1994", &t), 0);
	assert_true(t == 784111777LL);
	assert_int_equal(ecplan_backoff_parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
	assert_true(t == 0);
	assert_int_equal(ecplan_backoff_parse_http_date("Wed, 25 Nov 2026 03:42:17 GMT", &t), 0);
	assert_true(t == 1795578137LL);
	assert_int_equal(ecplan_backoff_parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT", &t), 0);
	assert_true(t == 1709208000LL);

	t = 99;
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("Thu, 29 Feb 2023 12:00:00 GMT", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT x", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date("", &t), -1);
	assert_int_equal(ecplan_backoff_parse_http_date(NULL, &t), -1);
	assert_true(t == 99);
}

static void test_retry_after(void **state)
{
	const long long now = 784111777LL; /* Sun, 06 Nov 1994 08:49:37 GMT */
	(void)state;
	/* delta-seconds */
	assert_int_equal(ecplan_backoff_parse_retry_after("0", now, 30000), 0);
	assert_int_equal(ecplan_backoff_parse_retry_after("2", now, 30000), 2000);
	assert_int_equal(ecplan_backoff_parse_retry_after(" 7 \r\n", now, 30000), 7000);
	assert_int_equal(ecplan_backoff_parse_retry_after("30", now, 30000), 30000);
	assert_int_equal(ecplan_backoff_parse_retry_after("31", now, 30000), 30000);
	assert_int_equal(ecplan_backoff_parse_retry_after("86400", now, 30000), 30000);
	assert_int_equal(ecplan_backoff_parse_retry_after("99999999999999999999999", now, 30000), 30000);
	/* HTTP-date, relative to now */
	assert_int_equal(ecplan_backoff_parse_retry_after("Sun, 06 Nov 1994 08:49:42 GMT", now, 30000), 5000);
	assert_int_equal(ecplan_backoff_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, 30000), 0);
	assert_int_equal(ecplan_backoff_parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now, 30000), 0);
	assert_int_equal(ecplan_backoff_parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now, 30000), 30000);
	assert_int_equal(ecplan_backoff_parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now, 30000), 10000);
	/* invalid */
	assert_int_equal(ecplan_backoff_parse_retry_after(NULL, now, 30000), -1);
	assert_int_equal(ecplan_backoff_parse_retry_after("", now, 30000), -1);
	assert_int_equal(ecplan_backoff_parse_retry_after("  ", now, 30000), -1);
	assert_int_equal(ecplan_backoff_parse_retry_after("-5", now, 30000), -1);
	assert_int_equal(ecplan_backoff_parse_retry_after("1.5", now, 30000), -1);
	assert_int_equal(ecplan_backoff_parse_retry_after("5s", now, 30000), -1);
	assert_int_equal(ecplan_backoff_parse_retry_after("soon", now, 30000), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_delay_bounds_and_cap),
		cmocka_unit_test(test_delay_extremes),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_next_delay),
		cmocka_unit_test(test_classifier),
		cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_retry_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
