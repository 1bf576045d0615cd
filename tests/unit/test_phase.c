/* Unit tests for phase.h: names of phases and states both ways, the forward
 * transitions, rank, rolled_back, and webhook event names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/phase.h"

static void test_phase_names(void **state)
{
	(void)state;
	static const char *const names[] = { "expand", "sync", "backfill", "switch", "contract" };
	assert_int_equal(ECPLAN_PHASE_COUNT, 5);
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++) {
		assert_string_equal(ecplan_phase_name((ecplan_phase)i), names[i]);
		assert_int_equal(ecplan_phase_parse(names[i]), i);
	}
	assert_null(ecplan_phase_name(ECPLAN_PHASE_NONE));
	assert_null(ecplan_phase_name(ECPLAN_PHASE_COUNT));
	assert_null(ecplan_phase_name((ecplan_phase)99));
	assert_int_equal(ecplan_phase_parse(NULL), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_phase_parse(""), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_phase_parse("Expand"), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_phase_parse("expand "), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_phase_parse("rollback"), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_phase_parse("planned"), ECPLAN_PHASE_NONE);
}

static void test_state_names(void **state)
{
	(void)state;
	static const char *const names[] = { "planned", "expanded", "synced", "backfilled",
					     "switched", "contracted", "rolled_back" };
	for (int i = 0; i <= ECPLAN_STATE_ROLLED_BACK; i++) {
		assert_string_equal(ecplan_state_name((ecplan_state)i), names[i]);
		assert_int_equal(ecplan_state_parse(names[i]), i);
	}
	assert_null(ecplan_state_name(ECPLAN_STATE_INVALID));
	assert_null(ecplan_state_name((ecplan_state)(ECPLAN_STATE_ROLLED_BACK + 1)));
	assert_int_equal(ecplan_state_parse(NULL), ECPLAN_STATE_INVALID);
	assert_int_equal(ecplan_state_parse(""), ECPLAN_STATE_INVALID);
	assert_int_equal(ecplan_state_parse("expand"), ECPLAN_STATE_INVALID);
	assert_int_equal(ecplan_state_parse("rolled-back"), ECPLAN_STATE_INVALID);
	assert_int_equal(ecplan_state_parse("PLANNED"), ECPLAN_STATE_INVALID);
}

static void test_phase_result_and_state_phase(void **state)
{
	(void)state;
	static const ecplan_state results[] = { ECPLAN_STATE_EXPANDED, ECPLAN_STATE_SYNCED,
						ECPLAN_STATE_BACKFILLED, ECPLAN_STATE_SWITCHED,
						ECPLAN_STATE_CONTRACTED };
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++) {
		assert_int_equal(ecplan_phase_result((ecplan_phase)i), results[i]);
		/* The phase that leads to a state is the one whose result it is. */
		assert_int_equal(ecplan_state_phase(results[i]), i);
	}
	assert_int_equal(ecplan_phase_result(ECPLAN_PHASE_NONE), ECPLAN_STATE_INVALID);
	assert_int_equal(ecplan_phase_result(ECPLAN_PHASE_COUNT), ECPLAN_STATE_INVALID);
	assert_int_equal(ecplan_state_phase(ECPLAN_STATE_PLANNED), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_state_phase(ECPLAN_STATE_ROLLED_BACK), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_state_phase(ECPLAN_STATE_INVALID), ECPLAN_PHASE_NONE);
}

static void test_state_next(void **state)
{
	(void)state;
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_PLANNED), ECPLAN_PHASE_EXPAND);
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_EXPANDED), ECPLAN_PHASE_SYNC);
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_SYNCED), ECPLAN_PHASE_BACKFILL);
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_BACKFILLED), ECPLAN_PHASE_SWITCH);
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_SWITCHED), ECPLAN_PHASE_CONTRACT);
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_CONTRACTED), ECPLAN_PHASE_NONE);
	/* A plan rolled all the way back starts over. */
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_ROLLED_BACK), ECPLAN_PHASE_EXPAND);
	assert_int_equal(ecplan_state_next(ECPLAN_STATE_INVALID), ECPLAN_PHASE_NONE);

	/* Walking next/result from planned visits every phase once, in order. */
	ecplan_state s = ECPLAN_STATE_PLANNED;
	int steps = 0;
	for (ecplan_phase p; (p = ecplan_state_next(s)) != ECPLAN_PHASE_NONE; steps++) {
		assert_int_equal(p, steps);
		s = ecplan_phase_result(p);
		assert_true(steps < 10);
	}
	assert_int_equal(steps, ECPLAN_PHASE_COUNT);
	assert_int_equal(s, ECPLAN_STATE_CONTRACTED);
}

static void test_state_rank(void **state)
{
	(void)state;
	for (int i = ECPLAN_STATE_PLANNED; i <= ECPLAN_STATE_CONTRACTED; i++)
		assert_int_equal(ecplan_state_rank((ecplan_state)i), i);
	assert_int_equal(ecplan_state_rank(ECPLAN_STATE_ROLLED_BACK),
			 ecplan_state_rank(ECPLAN_STATE_PLANNED));
	assert_true(ecplan_state_rank(ECPLAN_STATE_ROLLED_BACK) <
		    ecplan_state_rank(ECPLAN_STATE_EXPANDED));
	/* Forward order is strict. */
	for (int i = ECPLAN_STATE_PLANNED; i < ECPLAN_STATE_CONTRACTED; i++)
		assert_true(ecplan_state_rank((ecplan_state)i) <
			    ecplan_state_rank((ecplan_state)(i + 1)));
}

static void test_event_valid(void **state)
{
	(void)state;
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++) {
		char ev[32];
		ecplan_event_name(ev, sizeof(ev), (ecplan_phase)i, "before");
		assert_true(ecplan_event_valid(ev));
		ecplan_event_name(ev, sizeof(ev), (ecplan_phase)i, "after");
		assert_true(ecplan_event_valid(ev));
	}
	assert_true(ecplan_event_valid("rollback.before"));
	assert_true(ecplan_event_valid("rollback.after"));
	assert_true(ecplan_event_valid("failed"));
	assert_true(ecplan_event_valid("switch.after"));

	static const char *const bad[] = {
		"", "expand", "expand.", ".before", "expand.during", "deploy.after",
		"Expand.before", "expand.before ", " expand.before", "expand.after.x",
		"expan.before", "expandd.before", "rollback", "rollback.during", "failed.after",
		"failed.before", "expand..before", "planned.after", "switch.After",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ecplan_event_valid(bad[i]))
			fail_msg("event \"%s\" should be invalid", bad[i]);
	}
	assert_false(ecplan_event_valid(NULL));
}

static void test_event_name(void **state)
{
	(void)state;
	char ev[32];
	ecplan_event_name(ev, sizeof(ev), ECPLAN_PHASE_BACKFILL, "after");
	assert_string_equal(ev, "backfill.after");
	ecplan_event_name(ev, sizeof(ev), ECPLAN_PHASE_CONTRACT, "before");
	assert_string_equal(ev, "contract.before");
	/* Truncated to the buffer, always terminated. */
	char small[6];
	memset(small, 'X', sizeof(small));
	ecplan_event_name(small, sizeof(small), ECPLAN_PHASE_CONTRACT, "before");
	assert_string_equal(small, "contr");
	/* Out of range does not crash and gives an invalid event. */
	ecplan_event_name(ev, sizeof(ev), ECPLAN_PHASE_NONE, "after");
	assert_false(ecplan_event_valid(ev));
}

/* Every rule of the table, state by state. */
static void test_transition_table(void **state)
{
	(void)state;
	static const struct {
		ecplan_state s;
		ecplan_phase next, undo;
		ecplan_state undone_to;
		bool rollback, resets;
	} want[] = {
		{ ECPLAN_STATE_PLANNED, ECPLAN_PHASE_EXPAND, ECPLAN_PHASE_NONE, ECPLAN_STATE_INVALID, true, true },
		{ ECPLAN_STATE_EXPANDED, ECPLAN_PHASE_SYNC, ECPLAN_PHASE_EXPAND, ECPLAN_STATE_PLANNED, true, true },
		{ ECPLAN_STATE_SYNCED, ECPLAN_PHASE_BACKFILL, ECPLAN_PHASE_SYNC, ECPLAN_STATE_EXPANDED, true, true },
		{ ECPLAN_STATE_BACKFILLED, ECPLAN_PHASE_SWITCH, ECPLAN_PHASE_BACKFILL, ECPLAN_STATE_SYNCED, true, false },
		{ ECPLAN_STATE_SWITCHED, ECPLAN_PHASE_CONTRACT, ECPLAN_PHASE_SWITCH, ECPLAN_STATE_BACKFILLED, true, false },
		{ ECPLAN_STATE_CONTRACTED, ECPLAN_PHASE_NONE, ECPLAN_PHASE_NONE, ECPLAN_STATE_INVALID, false, false },
		{ ECPLAN_STATE_ROLLED_BACK, ECPLAN_PHASE_EXPAND, ECPLAN_PHASE_NONE, ECPLAN_STATE_INVALID, true, true },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(ecplan_state_next(want[i].s), want[i].next);
		assert_int_equal(ecplan_state_undo(want[i].s), want[i].undo);
		if (want[i].undo != ECPLAN_PHASE_NONE)
			assert_int_equal(ecplan_phase_undone_to(want[i].undo), want[i].undone_to);
		assert_int_equal(ecplan_state_rollback_allowed(want[i].s), want[i].rollback);
		assert_int_equal(ecplan_state_resets_progress(want[i].s), want[i].resets);
	}
	/* Undoing then redoing a phase comes back to the same state. */
	for (int p = 0; p < ECPLAN_PHASE_COUNT; p++) {
		ecplan_state after = ecplan_phase_result((ecplan_phase)p);
		assert_int_equal(ecplan_state_undo(after) == ECPLAN_PHASE_NONE || ecplan_state_undo(after) == p, 1);
		if (ecplan_state_undo(after) != ECPLAN_PHASE_NONE)
			assert_int_equal(ecplan_state_next(ecplan_phase_undone_to((ecplan_phase)p)), p);
		for (int q = 0; q < ECPLAN_PHASE_COUNT; q++) {
			assert_int_equal(ecplan_phase_order((ecplan_phase)p, (ecplan_phase)q), (p > q) - (p < q));
			assert_int_equal(ecplan_phase_reached(after, (ecplan_phase)q), q <= p);
		}
	}
	assert_false(ecplan_phase_reached(ECPLAN_STATE_ROLLED_BACK, ECPLAN_PHASE_EXPAND));
	assert_false(ecplan_state_rollback_allowed(ECPLAN_STATE_INVALID));
	assert_int_equal(ecplan_state_undo(ECPLAN_STATE_INVALID), ECPLAN_PHASE_NONE);
	assert_int_equal(ecplan_phase_undone_to(ECPLAN_PHASE_NONE), ECPLAN_STATE_INVALID);
	/* A contract that stopped before its drop (lock not granted, say) is
	 * undone back to switched, though a finished one cannot be. */
	assert_int_equal(ecplan_phase_undone_to(ECPLAN_PHASE_CONTRACT), ECPLAN_STATE_SWITCHED);
	assert_false(ecplan_state_rollback_allowed(ECPLAN_STATE_CONTRACTED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase_names),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_phase_result_and_state_phase),
		cmocka_unit_test(test_state_next),
		cmocka_unit_test(test_state_rank),
		cmocka_unit_test(test_event_valid),
		cmocka_unit_test(test_event_name),
		cmocka_unit_test(test_transition_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
