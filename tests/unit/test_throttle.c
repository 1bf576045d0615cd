/* Unit tests for throttle.h's pure part: deciding from readings (every
 * signal, its limit, 0 disabling it, unknown readings never throttling, the
 * autovacuum modes, the custom query and its failure) and the batch-latency
 * backoff; and backfill.h's effective rate under pause_ms/max_rows_per_second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/backfill.h"
#include "ecplan/throttle.h"

static ecplan_throttle_settings defaults(void)
{
	ecplan_throttle_settings s;
	memset(&s, 0, sizeof(s));
	s.max_replica_lag_ms = 10000;
	s.max_replica_lag_bytes = 256L * 1024 * 1024;
	s.max_slot_lag_bytes = 1024L * 1024 * 1024;
	s.pause_during_autovacuum = ECPLAN_AUTOVACUUM_WRAPAROUND;
	s.query_timeout_ms = 2000;
	s.max_batch_ms_factor = 10;
	return s;
}

static void test_nothing_known(void **state)
{
	(void)state;
	ecplan_throttle_settings s = defaults();
	ecplan_throttle_readings r;
	char why[256] = "x";
	ecplan_throttle_readings_init(&r);
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "");
	assert_true(ecplan_throttle_enabled(&s));
	s.max_replica_lag_ms = s.max_replica_lag_bytes = s.max_slot_lag_bytes = 0;
	s.pause_during_autovacuum = ECPLAN_AUTOVACUUM_NEVER;
	assert_false(ecplan_throttle_enabled(&s));
	s.query = "SELECT true";
	assert_true(ecplan_throttle_enabled(&s));
}

static void test_replica_lag(void **state)
{
	(void)state;
	ecplan_throttle_settings s = defaults();
	ecplan_throttle_readings r;
	char why[256];
	ecplan_throttle_readings_init(&r);
	strcpy(r.replica_lag_name, "replica1");
	r.replica_lag_ms = 10000; /* at the limit: goes on */
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	r.replica_lag_ms = 12345;
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "standby \"replica1\" replay_lag 12.3 s > max_replica_lag_ms 10000");
	s.max_replica_lag_ms = 0; /* disabled */
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));

	ecplan_throttle_readings_init(&r);
	strcpy(r.replica_bytes_name, "walreceiver");
	r.replica_lag_bytes = 300L * 1024 * 1024;
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "standby \"walreceiver\" has 300.0 MiB of WAL not replayed > "
				 "max_replica_lag_bytes (256.0 MiB)");
	r.replica_lag_bytes = 256L * 1024 * 1024;
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
}

static void test_slot_lag(void **state)
{
	(void)state;
	ecplan_throttle_settings s = defaults();
	ecplan_throttle_readings r;
	char why[256];
	ecplan_throttle_readings_init(&r);
	strcpy(r.slot_name, "cdc");
	r.slot_lag_bytes = 2L * 1024 * 1024 * 1024;
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "logical slot \"cdc\" has 2.0 GiB of WAL not confirmed > max_slot_lag_bytes (1.0 GiB)");
	s.max_slot_lag_bytes = 0;
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
}

static void test_autovacuum(void **state)
{
	(void)state;
	ecplan_throttle_settings s = defaults();
	ecplan_throttle_readings r;
	char why[256];
	ecplan_throttle_readings_init(&r);
	r.autovacuum_pid = 4242;
	/* wraparound (default): an ordinary autovacuum does not stop it */
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	r.autovacuum_wraparound = true;
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "autovacuum to prevent wraparound runs on the table (pid 4242)");
	s.pause_during_autovacuum = ECPLAN_AUTOVACUUM_NEVER;
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	s.pause_during_autovacuum = ECPLAN_AUTOVACUUM_ALWAYS;
	r.autovacuum_wraparound = false;
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "autovacuum runs on the table (pid 4242)");
}

static void test_query(void **state)
{
	(void)state;
	ecplan_throttle_settings s = defaults();
	ecplan_throttle_readings r;
	char why[256];
	ecplan_throttle_readings_init(&r);
	r.query = 0;
	assert_false(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	r.query = 1;
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "the throttle query returned true");
	r.query = 2;
	strcpy(r.query_error, "relation \"x\" does not exist");
	assert_true(ecplan_throttle_decide(why, sizeof(why), &s, &r));
	assert_string_equal(why, "the throttle query failed: relation \"x\" does not exist");
	/* a short buffer is cut, never overrun */
	char tiny[8];
	assert_true(ecplan_throttle_decide(tiny, sizeof(tiny), &s, &r));
	assert_string_equal(tiny, "the thr");
}

static void test_latency_backoff(void **state)
{
	(void)state;
	ecplan_throttle_settings s = defaults();
	assert_int_equal(ecplan_throttle_latency_backoff_ms(&s, 200, 1999), 0);
	assert_int_equal(ecplan_throttle_latency_backoff_ms(&s, 200, 2000), 0);
	assert_int_equal(ecplan_throttle_latency_backoff_ms(&s, 200, 2500), 2500);
	assert_int_equal(ecplan_throttle_latency_backoff_ms(&s, 200, 600000), 60000);
	assert_int_equal(ecplan_throttle_latency_backoff_ms(&s, 0, 9999), 0);
	s.max_batch_ms_factor = 0;
	assert_int_equal(ecplan_throttle_latency_backoff_ms(&s, 200, 9999), 0);
}

static void test_effective_rate(void **state)
{
	(void)state;
	bool limited = true;
	/* no throttle: the batches' own rate */
	assert_true(ecplan_backfill_effective_rate(50000, 5000, 0, 0, &limited) == 50000);
	assert_false(limited);
	/* 5000 rows in 0.1 s, then 0.4 s of pause: 10000 rows/s */
	assert_true(ecplan_backfill_effective_rate(50000, 5000, 400, 0, &limited) == 10000);
	assert_true(limited);
	/* max_rows_per_second below that */
	assert_true(ecplan_backfill_effective_rate(50000, 5000, 400, 2000, &limited) == 2000);
	assert_true(limited);
	/* a limit above the rate changes nothing */
	assert_true(ecplan_backfill_effective_rate(1000, 5000, 0, 2000, &limited) == 1000);
	assert_false(limited);
	assert_true(ecplan_backfill_effective_rate(-1, 5000, 400, 2000, NULL) == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_known),
		cmocka_unit_test(test_replica_lag),
		cmocka_unit_test(test_slot_lag),
		cmocka_unit_test(test_autovacuum),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_latency_backoff),
		cmocka_unit_test(test_effective_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
