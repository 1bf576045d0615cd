#ifndef ECPLAN_KIND_H
#define ECPLAN_KIND_H
/*
 * Kinds of change: the registry. Every change of a plan is of one kind,
 * found from the change and, once the database has been read, its catalog:
 *   - a rename (no change.type): the new column takes the old one's type;
 *   - a type change (change.type): up and down cast between the types;
 *   - a key change: a rename or type change of a column of the primary key,
 *     or of a unique key other tables' foreign keys reference.
 * Each kind is one unit, src/lib/kind_<name>.c, providing the operations
 * below, and one line in the registry (kind.c); adding a kind touches its
 * unit and that line.
 *
 * The phases every kind goes through are the same (render.c: add the
 * column, sync trigger, batched backfill, switch, contract, and their undo);
 * a kind supplies what differs between kinds: the new column's type and the
 * default up/down expressions (which make the expand, sync, backfill and
 * verify SQL of its change), its own preconditions per phase and its own
 * verify query. What happens to each object around the column (indexes, the
 * primary key, sequences, identity, foreign keys, ...) belongs to the
 * dependent-object kinds (depend.h), whatever the kind of change.
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/catalog.h"
#include "ecplan/error.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"
#include "ecplan/precheck.h"
#include "ecplan/strbuf.h"

typedef struct ecplan_change_kind {
	const char *name; /* "rename", "type change", "key change" */
	/* What the kind adds to the common phases, with the locks it takes:
	 * for people (ecplan check, the README). */
	const char *summary;
	/* Whether change is of this kind. cat NULL (or without the column): from
	 * the plan alone. The first kind of the registry that matches is the
	 * change's kind; the last matches every change. */
	bool (*matches)(const ecplan_plan *change, const ecplan_catalog *cat);
	/* The new column's type (SQL), or NULL when only the catalog knows it
	 * and cat is NULL. */
	const char *(*new_type)(const ecplan_plan *change, const ecplan_catalog *cat);
	/* Appends the default up (the new column from the old) and down (the old
	 * from the new), used when the plan gives none. from prefixes the column
	 * read: "" in a row of the table, "NEW." in the sync trigger. A type the
	 * catalog alone knows is shown as a placeholder without cat. */
	void (*up)(ecplan_strbuf *sb, const ecplan_plan *change, const char *from);
	void (*down)(ecplan_strbuf *sb, const ecplan_plan *change, const ecplan_catalog *cat, const char *from);
	/* Appends the kind's own preconditions of phase to l (read-only; a
	 * failed one is a failed item). Returns 0, or ECPLAN_ERR when the
	 * connection is unusable. NULL: none. */
	int (*precheck)(ecplan_checklist *l, PGconn *conn, const ecplan_plan *change, const ecplan_catalog *cat,
			ecplan_phase phase, ecplan_error *err);
	/* A read-only query giving one count: the rows for which what the kind
	 * needs at contract does not hold yet (e.g. a new key value held twice),
	 * reported by `ecplan verify` as verify_field. NULL (or returns NULL):
	 * none. Caller frees. */
	char *(*verify)(const ecplan_plan *change, const ecplan_catalog *cat);
	const char *verify_field; /* e.g. "key_duplicates" */
	const char *verify_label; /* e.g. "rows sharing a new key value" */
} ecplan_change_kind;

/* The registry, most specific kind first, and its size. */
extern const ecplan_change_kind *const ecplan_change_kinds[];
extern const int ecplan_change_nkinds;

/* The kind of change (cat NULL: from the plan alone). Never NULL. */
const ecplan_change_kind *ecplan_change_kind_of(const ecplan_plan *change, const ecplan_catalog *cat);

/* The kind's new type, up and down for change (see above). */
const char *ecplan_change_new_type(const ecplan_plan *change, const ecplan_catalog *cat);
void ecplan_change_default_up(ecplan_strbuf *sb, const ecplan_plan *change, const char *from);
void ecplan_change_default_down(ecplan_strbuf *sb, const ecplan_plan *change, const ecplan_catalog *cat,
				const char *from);
/* Whether the change gives the new column another type than the old one's. */
bool ecplan_change_retypes(const ecplan_plan *change);

/* Appends the preconditions of change's kind for phase (see precheck). */
int ecplan_change_precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *change,
			   const ecplan_catalog *cat, ecplan_phase phase, ecplan_error *err);

#endif
