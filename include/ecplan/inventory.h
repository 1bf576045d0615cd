#ifndef ECPLAN_INVENTORY_H
#define ECPLAN_INVENTORY_H
/*
 * The inventory: every object in the database that depends on or names the
 * changed column, each either carried over to the new column or a reason to
 * refuse the plan. Plain data, filled by the dependent-object units
 * (depend.h) when the catalog is read (catalog.h), read by the renderer,
 * the preconditions and the CLI.
 */
#include <stdbool.h>
#include <stddef.h>

typedef struct ecplan_dep {
	int kind;              /* index into the registry of kinds (depend.h) */
	char *name;            /* the object's own name, unquoted */
	char *label;           /* for people: e.g. `check constraint "price_positive"` */
	char *definition;      /* as the server prints it (pg_get_*def), or NULL */
	char *copy_name;       /* the name of its copy on the new column until contract, or NULL */
	char *copy_definition; /* its definition rewritten for the new column, or NULL */
	char *refusal;         /* why ecplan cannot carry it and what to do; NULL: carried */
	char *comment;         /* its comment (obj_description), or NULL */
	bool validated;        /* constraints: the original is validated */
	char *extra;           /* kind-specific text (see the kind's unit) */
	char *other_table;     /* an object on two tables (a foreign key): the other one, quoted and
				* qualified, locked before this table (the referenced table first) */
	long number;           /* kind-specific number */
	int carrier;           /* 0: this change carries it; k: change k-1 of the plan does (the
				* object names both changes' columns: see ecplan_depend_share) */
} ecplan_dep;

typedef struct ecplan_inventory {
	ecplan_dep *items;
	size_t count;
} ecplan_inventory;

/* Appends a zeroed item of kind and returns it (valid until the next add). */
ecplan_dep *ecplan_inventory_add(ecplan_inventory *inv, int kind);
void ecplan_inventory_release(ecplan_inventory *inv);
/* How many items are refused. */
size_t ecplan_inventory_refused(const ecplan_inventory *inv);

#endif
