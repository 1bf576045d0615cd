/* Names and transition rules of phases and states; pure. */
#include "ecplan/phase.h"

#include <stdio.h>
#include <string.h>

static const char *const phase_names[ECPLAN_PHASE_COUNT] = {
	"expand", "sync", "backfill", "switch", "contract"
};
static const char *const state_names[] = {
	"planned", "expanded", "synced", "backfilled", "switched", "contracted", "rolled_back"
};
#define NSTATES ((int)(sizeof(state_names) / sizeof(state_names[0])))

const char *ecplan_phase_name(ecplan_phase p)
{
	return (p >= 0 && p < ECPLAN_PHASE_COUNT) ? phase_names[p] : NULL;
}

const char *ecplan_state_name(ecplan_state s)
{
	return (s >= 0 && (int)s < NSTATES) ? state_names[s] : NULL;
}

ecplan_phase ecplan_phase_parse(const char *name)
{
	for (int i = 0; name && i < ECPLAN_PHASE_COUNT; i++)
		if (!strcmp(name, phase_names[i]))
			return (ecplan_phase)i;
	return ECPLAN_PHASE_NONE;
}

ecplan_state ecplan_state_parse(const char *name)
{
	for (int i = 0; name && i < NSTATES; i++)
		if (!strcmp(name, state_names[i]))
			return (ecplan_state)i;
	return ECPLAN_STATE_INVALID;
}

/*
 * The state machine, every rule in one table: one row per state, what
 * `advance` runs from it, what `rollback` undoes from it and the state that
 * leaves, whether a rollback may start there, its rank in the forward order,
 * and whether entering it starts over (cursor and progress reset). Everything
 * below only reads this table.
 */
static const struct state_rule {
	ecplan_state state;
	ecplan_phase reached_by; /* the phase whose completion leads here */
	ecplan_phase next;       /* advance runs this next */
	ecplan_phase undo;       /* rollback undoes this next */
	ecplan_state undone_to;  /* the state once `undo` is undone */
	bool rollback_allowed;   /* a rollback may start from here */
	int rank;                /* forward order; rolled_back ranks as planned */
	bool resets_progress;    /* entering it clears the backfill cursor and counts */
} rules[] = {
	{ ECPLAN_STATE_PLANNED,     ECPLAN_PHASE_NONE,     ECPLAN_PHASE_EXPAND,   ECPLAN_PHASE_NONE,
	  ECPLAN_STATE_INVALID,     true,  0, true },
	{ ECPLAN_STATE_EXPANDED,    ECPLAN_PHASE_EXPAND,   ECPLAN_PHASE_SYNC,     ECPLAN_PHASE_EXPAND,
	  ECPLAN_STATE_PLANNED,     true,  1, true },
	{ ECPLAN_STATE_SYNCED,      ECPLAN_PHASE_SYNC,     ECPLAN_PHASE_BACKFILL, ECPLAN_PHASE_SYNC,
	  ECPLAN_STATE_EXPANDED,    true,  2, true },
	{ ECPLAN_STATE_BACKFILLED,  ECPLAN_PHASE_BACKFILL, ECPLAN_PHASE_SWITCH,   ECPLAN_PHASE_BACKFILL,
	  ECPLAN_STATE_SYNCED,      true,  3, false },
	{ ECPLAN_STATE_SWITCHED,    ECPLAN_PHASE_SWITCH,   ECPLAN_PHASE_CONTRACT, ECPLAN_PHASE_SWITCH,
	  ECPLAN_STATE_BACKFILLED,  true,  4, false },
	/* A finished contract cannot be rolled back (no rollback starts here);
	 * a contract that stopped before its drop is undone back to switched. */
	{ ECPLAN_STATE_CONTRACTED,  ECPLAN_PHASE_CONTRACT, ECPLAN_PHASE_NONE,     ECPLAN_PHASE_NONE,
	  ECPLAN_STATE_SWITCHED,    false, 5, false },
	{ ECPLAN_STATE_ROLLED_BACK, ECPLAN_PHASE_NONE,     ECPLAN_PHASE_EXPAND,   ECPLAN_PHASE_NONE,
	  ECPLAN_STATE_INVALID,     true,  0, true },
};

static const struct state_rule *rule(ecplan_state s)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].state == s)
			return &rules[i];
	return NULL;
}

ecplan_state ecplan_phase_result(ecplan_phase p)
{
	for (size_t i = 0; p != ECPLAN_PHASE_NONE && i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].reached_by == p)
			return rules[i].state;
	return ECPLAN_STATE_INVALID;
}

ecplan_phase ecplan_state_phase(ecplan_state s)
{
	return rule(s) ? rule(s)->reached_by : ECPLAN_PHASE_NONE;
}

ecplan_phase ecplan_state_next(ecplan_state s)
{
	return rule(s) ? rule(s)->next : ECPLAN_PHASE_NONE;
}

int ecplan_state_rank(ecplan_state s)
{
	return rule(s) ? rule(s)->rank : -1;
}

ecplan_phase ecplan_state_undo(ecplan_state s)
{
	return rule(s) ? rule(s)->undo : ECPLAN_PHASE_NONE;
}

ecplan_state ecplan_phase_undone_to(ecplan_phase p)
{
	ecplan_state s = ecplan_phase_result(p);
	return rule(s) ? rule(s)->undone_to : ECPLAN_STATE_INVALID;
}

bool ecplan_state_rollback_allowed(ecplan_state s)
{
	return rule(s) && rule(s)->rollback_allowed;
}

bool ecplan_state_resets_progress(ecplan_state s)
{
	return rule(s) && rule(s)->resets_progress;
}

bool ecplan_phase_reached(ecplan_state s, ecplan_phase p)
{
	ecplan_state r = ecplan_phase_result(p);
	return rule(s) && rule(r) && rule(s)->rank >= rule(r)->rank;
}

int ecplan_phase_order(ecplan_phase a, ecplan_phase b)
{
	int ra = ecplan_state_rank(ecplan_phase_result(a)), rb = ecplan_state_rank(ecplan_phase_result(b));
	return (ra > rb) - (ra < rb);
}

bool ecplan_event_valid(const char *event)
{
	if (!event)
		return false;
	if (!strcmp(event, "rollback.before") || !strcmp(event, "rollback.after") ||
	    !strcmp(event, "failed"))
		return true;
	const char *dot = strchr(event, '.');
	if (!dot)
		return false;
	if (strcmp(dot + 1, "before") && strcmp(dot + 1, "after"))
		return false;
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++)
		if (strlen(phase_names[i]) == (size_t)(dot - event) &&
		    !strncmp(event, phase_names[i], (size_t)(dot - event)))
			return true;
	return false;
}

void ecplan_event_name(char *out, unsigned long size, ecplan_phase p, const char *when)
{
	snprintf(out, size, "%s.%s", ecplan_phase_name(p) ? ecplan_phase_name(p) : "?", when);
}
