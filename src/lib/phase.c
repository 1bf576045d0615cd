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

ecplan_state ecplan_phase_result(ecplan_phase p)
{
	if (p < 0 || p >= ECPLAN_PHASE_COUNT)
		return ECPLAN_STATE_INVALID;
	return (ecplan_state)(p + 1);
}

ecplan_phase ecplan_state_phase(ecplan_state s)
{
	if (s >= ECPLAN_STATE_EXPANDED && s <= ECPLAN_STATE_CONTRACTED)
		return (ecplan_phase)(s - 1);
	return ECPLAN_PHASE_NONE;
}

ecplan_phase ecplan_state_next(ecplan_state s)
{
	if (s == ECPLAN_STATE_ROLLED_BACK)
		return ECPLAN_PHASE_EXPAND;
	if (s >= ECPLAN_STATE_PLANNED && s < ECPLAN_STATE_CONTRACTED)
		return (ecplan_phase)s;
	return ECPLAN_PHASE_NONE;
}

int ecplan_state_rank(ecplan_state s)
{
	return s == ECPLAN_STATE_ROLLED_BACK ? 0 : (int)s;
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
