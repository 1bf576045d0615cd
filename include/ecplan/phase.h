#ifndef ECPLAN_PHASE_H
#define ECPLAN_PHASE_H
/*
 * Phases, states and webhook events, and the pure transition rules of the
 * state machine ("what is next and is it allowed"), all read from one table
 * in phase.c. Doing it lives in state.h and runner.h, which ask these
 * functions rather than compare or cast enums.
 *
 * Phases run in order expand, sync, backfill, switch, contract. Each phase
 * that completes moves the plan to the state named after it:
 *   planned -expand-> expanded -sync-> synced -backfill-> backfilled
 *   -switch-> switched -contract-> contracted
 * and rollback walks back from any state before contracted to planned (or a
 * chosen earlier state); a plan rolled all the way back is `rolled_back`.
 */
#include <stdbool.h>

typedef enum ecplan_phase {
	ECPLAN_PHASE_NONE = -1,
	ECPLAN_PHASE_EXPAND = 0,
	ECPLAN_PHASE_SYNC,
	ECPLAN_PHASE_BACKFILL,
	ECPLAN_PHASE_SWITCH,
	ECPLAN_PHASE_CONTRACT,
	ECPLAN_PHASE_COUNT
} ecplan_phase;

typedef enum ecplan_state {
	ECPLAN_STATE_INVALID = -1,
	ECPLAN_STATE_PLANNED = 0,
	ECPLAN_STATE_EXPANDED,
	ECPLAN_STATE_SYNCED,
	ECPLAN_STATE_BACKFILLED,
	ECPLAN_STATE_SWITCHED,
	ECPLAN_STATE_CONTRACTED,
	ECPLAN_STATE_ROLLED_BACK
} ecplan_state;

/* Static strings; NULL for out-of-range values. */
const char *ecplan_phase_name(ecplan_phase p);
const char *ecplan_state_name(ecplan_state s);
/* Parse a name; ECPLAN_PHASE_NONE / ECPLAN_STATE_INVALID when unknown. */
ecplan_phase ecplan_phase_parse(const char *name);
ecplan_state ecplan_state_parse(const char *name);

/* The state a completed phase leads to, and the phase that leads to a state. */
ecplan_state ecplan_phase_result(ecplan_phase p);
ecplan_phase ecplan_state_phase(ecplan_state s); /* NONE for planned/rolled_back */
/* The phase `advance` runs next from state s; NONE when there is none. */
ecplan_phase ecplan_state_next(ecplan_state s);
/* Rank in the forward order; rolled_back ranks as planned; -1 when invalid. */
int ecplan_state_rank(ecplan_state s);
/* The phase `rollback` undoes next from state s; NONE when none. */
ecplan_phase ecplan_state_undo(ecplan_state s);
/* The state a plan is in once phase p has been undone. */
ecplan_state ecplan_phase_undone_to(ecplan_phase p);
/* Whether a rollback may start from s (not after contract). */
bool ecplan_state_rollback_allowed(ecplan_state s);
/* Whether entering s starts the backfill over (cursor and counts cleared). */
bool ecplan_state_resets_progress(ecplan_state s);
/* Whether a plan in state s has completed phase p. */
bool ecplan_phase_reached(ecplan_state s, ecplan_phase p);
/* Order of two phases: <0, 0, >0 as a runs before, with, after b. */
int ecplan_phase_order(ecplan_phase a, ecplan_phase b);

/* Webhook events: "<phase>.before", "<phase>.after", "rollback.before",
 * "rollback.after", "failed". */
bool ecplan_event_valid(const char *event);
/* Fills out (size >= 32) with "<phase>.<when>"; when is "before" or "after". */
void ecplan_event_name(char *out, unsigned long size, ecplan_phase p, const char *when);

#endif
