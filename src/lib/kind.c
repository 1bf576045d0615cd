/*
 * The registry of kinds of change, and what dispatches to them (kind.h).
 */
#include "ecplan/kind.h"

extern const ecplan_change_kind ecplan_kind_key;
extern const ecplan_change_kind ecplan_kind_type;
extern const ecplan_change_kind ecplan_kind_rename;

/* One line per kind, most specific first: a rename matches every change. */
const ecplan_change_kind *const ecplan_change_kinds[] = {
	&ecplan_kind_key,
	&ecplan_kind_type,
	&ecplan_kind_rename,
};
const int ecplan_change_nkinds = (int)(sizeof(ecplan_change_kinds) / sizeof(ecplan_change_kinds[0]));

const ecplan_change_kind *ecplan_change_kind_of(const ecplan_plan *change, const ecplan_catalog *cat)
{
	for (int k = 0; k < ecplan_change_nkinds - 1; k++)
		if (ecplan_change_kinds[k]->matches(change, cat))
			return ecplan_change_kinds[k];
	return ecplan_change_kinds[ecplan_change_nkinds - 1];
}

const char *ecplan_change_new_type(const ecplan_plan *change, const ecplan_catalog *cat)
{
	return ecplan_change_kind_of(change, cat)->new_type(change, cat);
}

void ecplan_change_default_up(ecplan_strbuf *sb, const ecplan_plan *change, const char *from)
{
	ecplan_change_kind_of(change, NULL)->up(sb, change, from);
}

void ecplan_change_default_down(ecplan_strbuf *sb, const ecplan_plan *change, const ecplan_catalog *cat,
				const char *from)
{
	ecplan_change_kind_of(change, cat)->down(sb, change, cat, from);
}

bool ecplan_change_retypes(const ecplan_plan *change)
{
	return change->type != NULL;
}

int ecplan_change_precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *change,
			   const ecplan_catalog *cat, ecplan_phase phase, ecplan_error *err)
{
	const ecplan_change_kind *k = ecplan_change_kind_of(change, cat);
	return k->precheck ? k->precheck(l, conn, change, cat, phase, err) : 0;
}
