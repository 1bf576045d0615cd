/* Unit tests for backfill.h: batch size adaptation (target, factor-2 limit,
 * bounds), throttling, rate and ETA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ecplan/backfill.h"

static void test_next_size_tracks_target(void **state)
{
	(void)state;
	/* On target: unchanged. */
	assert_int_equal(ecplan_backfill_next_size(5000, 200, 200, 5000), 5000);
	/* Twice too slow: halved; 25% too fast: scaled up proportionally. */
	assert_int_equal(ecplan_backfill_next_size(5000, 400, 200, 5000), 2500);
	assert_int_equal(ecplan_backfill_next_size(5000, 160, 200, 5000), 6250);
	assert_int_equal(ecplan_backfill_next_size(4000, 250, 200, 5000), 3200);
}

static void test_next_size_factor_two(void **state)
{
	(void)state;
	/* Much faster than target: at most doubled. */
	assert_int_equal(ecplan_backfill_next_size(5000, 1, 200, 5000), 10000);
	assert_int_equal(ecplan_backfill_next_size(5000, 0, 200, 5000), 10000);
	assert_int_equal(ecplan_backfill_next_size(5000, -5, 200, 5000), 10000);
	/* Much slower: at most halved. */
	assert_int_equal(ecplan_backfill_next_size(5000, 100000, 200, 5000), 2500);
	assert_int_equal(ecplan_backfill_next_size(5000, 1e12, 200, 5000), 2500);
	/* Any elapsed time: within [current/2, current*2]. */
	for (double ms = 0; ms < 5000; ms += 7.3) {
		long n = ecplan_backfill_next_size(1000, ms, 200, 1000);
		assert_true(n >= 500 && n <= 2000);
	}
}

static void test_next_size_bounds(void **state)
{
	(void)state;
	/* Never above 20x the initial size. */
	assert_int_equal(ecplan_backfill_next_size(80000, 1, 200, 5000), 100000);
	assert_int_equal(ecplan_backfill_next_size(100000, 1, 200, 5000), 100000);
	/* Repeatedly fast batches converge to the cap and stay there. */
	long n = 5000;
	for (int i = 0; i < 50; i++)
		n = ecplan_backfill_next_size(n, 1, 200, 5000);
	assert_int_equal(n, 100000);
	/* ... and never above 1,000,000 whatever the initial size. */
	assert_int_equal(ecplan_backfill_next_size(900000, 1, 200, 1000000), 1000000);
	n = 1000000;
	for (int i = 0; i < 10; i++)
		n = ecplan_backfill_next_size(n, 1, 200, 1000000);
	assert_int_equal(n, 1000000);
	/* Never below 1. */
	assert_int_equal(ecplan_backfill_next_size(1, 100000, 200, 5000), 1);
	n = 5000;
	for (int i = 0; i < 50; i++)
		n = ecplan_backfill_next_size(n, 1e9, 200, 5000);
	assert_int_equal(n, 1);
	/* A current size below 1 is brought back to 1. */
	assert_int_equal(ecplan_backfill_next_size(0, 100, 200, 5000), 1);
	assert_true(ecplan_backfill_next_size(0, 100, 200, 5000) >= 1);
	/* An initial size of 1 still allows up to 20. */
	assert_int_equal(ecplan_backfill_next_size(16, 1, 200, 1), 20);
}

static void test_next_size_disabled(void **state)
{
	(void)state;
	/* target 0 (or negative) disables adaptation: the size stays. */
	assert_int_equal(ecplan_backfill_next_size(5000, 1, 0, 5000), 5000);
	assert_int_equal(ecplan_backfill_next_size(5000, 100000, 0, 5000), 5000);
	assert_int_equal(ecplan_backfill_next_size(777, 3, -1, 5000), 777);
}

static void test_throttle(void **state)
{
	(void)state;
	/* Nothing asked: no sleep. */
	assert_int_equal(ecplan_backfill_throttle_ms(10000, 1.0, 0, 0), 0);
	/* pause_ms alone. */
	assert_int_equal(ecplan_backfill_throttle_ms(10000, 1.0, 0, 50), 50);
	/* Rate limit: 10000 rows at 1000 rows/s need 10 s; 4 s spent: 6 s more. */
	assert_int_equal(ecplan_backfill_throttle_ms(10000, 4.0, 1000, 0), 6000);
	/* The longer of the two wins. */
	assert_int_equal(ecplan_backfill_throttle_ms(10000, 4.0, 1000, 100), 6000);
	assert_int_equal(ecplan_backfill_throttle_ms(10000, 9.99, 1000, 100), 100);
	/* Already slower than the limit: no extra sleep, never negative. */
	assert_int_equal(ecplan_backfill_throttle_ms(10000, 60.0, 1000, 0), 0);
	assert_int_equal(ecplan_backfill_throttle_ms(0, 0.0, 1000, 0), 0);
	assert_true(ecplan_backfill_throttle_ms(1, 1e9, 1, 0) >= 0);
	assert_true(ecplan_backfill_throttle_ms(10, 1.0, 5, -10) >= 0);
	assert_int_equal(ecplan_backfill_throttle_ms(0, 1.0, 0, -10), 0);
	/* Sleeping the returned time brings the rate down to the limit. */
	long ms = ecplan_backfill_throttle_ms(123456, 3.21, 20000, 0);
	double rate = 123456 / (3.21 + ms / 1000.0);
	assert_true(rate <= 20000.0 * 1.001);
	assert_true(rate >= 20000.0 * 0.99);
}

static void test_rate_eta(void **state)
{
	(void)state;
	assert_true(ecplan_backfill_rate(1000, 2.0) == 500.0);
	assert_true(ecplan_backfill_rate(0, 2.0) == 0.0);
	assert_true(ecplan_backfill_rate(1000, 0.0) == -1.0);
	assert_true(ecplan_backfill_rate(0, 0.0) == -1.0);
	assert_true(ecplan_backfill_rate(10, -1.0) == -1.0);

	/* 1000 rows in 2 s, 3000 total: 2000 left at 500/s = 4 s. */
	assert_true(ecplan_backfill_eta(1000, 3000, 2.0) == 4.0);
	assert_true(ecplan_backfill_eta(3000, 3000, 2.0) == 0.0);
	assert_true(ecplan_backfill_eta(3500, 3000, 2.0) == 0.0); /* estimate was low */
	assert_true(ecplan_backfill_eta(0, 3000, 2.0) == -1.0);   /* no rate yet */
	assert_true(ecplan_backfill_eta(1000, 3000, 0.0) == -1.0);
	assert_true(ecplan_backfill_eta(1000, -1, 2.0) == -1.0);  /* total unknown */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_size_tracks_target),
		cmocka_unit_test(test_next_size_factor_two),
		cmocka_unit_test(test_next_size_bounds),
		cmocka_unit_test(test_next_size_disabled),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_rate_eta),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
