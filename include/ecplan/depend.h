#ifndef ECPLAN_DEPEND_H
#define ECPLAN_DEPEND_H
/*
 * Dependent objects: the registry of kinds. Each kind of object that can
 * depend on or name the changed column (CHECK constraints, foreign keys,
 * triggers, the column's own properties, functions, and what ecplan refuses)
 * is one unit, src/lib/dep_<kind>.c, providing the operations below, and one
 * line in the registry (depend.c). Adding a kind touches its unit and that
 * line.
 *
 * A kind
 *   - reads its objects on the old column into the inventory (the only part
 *     that talks to the database, read-only, names as query parameters);
 *   - renders, purely, what each phase does to each object, into a slot of
 *     the phase's steps (see ecplan_dep_slot);
 *   - checks, read-only, what must hold before a phase (e.g. that a CHECK
 *     compiles against the new type, that its copy was validated).
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/catalog.h"
#include "ecplan/error.h"
#include "ecplan/inventory.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"
#include "ecplan/steps.h"
#include "ecplan/strbuf.h"

/* Where in a phase a kind's work goes. "stmts" slots add statements to a
 * step the renderer owns (one transaction); "steps" slots add steps. */
typedef enum ecplan_dep_slot {
	ECPLAN_SLOT_EXPAND,         /* stmts: in the add-column transaction */
	ECPLAN_SLOT_SYNC,           /* stmts: one transaction after the sync trigger is in */
	ECPLAN_SLOT_BACKFILL,       /* steps: after the backfill loop, before index builds */
	ECPLAN_SLOT_CONTRACT_DROP,  /* stmts: in the contract transaction, before DROP COLUMN */
	ECPLAN_SLOT_CONTRACT_AFTER, /* stmts: in the contract transaction, after DROP COLUMN */
	ECPLAN_SLOT_UNDO_SYNC,      /* stmts: in the transaction that removes the sync trigger */
	ECPLAN_SLOT_EXPAND_STEPS,   /* steps: after the add-column step */
	ECPLAN_SLOT_UNDO_BACKFILL,  /* steps: undoing the backfill phase */
	/* Across the tables of a plan with several changes: */
	ECPLAN_SLOT_BACKFILL_LATE,  /* steps: after every table's backfill and index builds */
	ECPLAN_SLOT_UNDO_BACKFILL_FIRST, /* steps: undoing backfill, before any table's own undo */
	ECPLAN_SLOT_CONTRACT_FK_DROP, /* stmts: in the contract transaction, before any CONTRACT_DROP */
	ECPLAN_SLOT_COUNT
} ecplan_dep_slot;

typedef struct ecplan_dep_kind {
	const char *name; /* e.g. "check constraint" */
	/* Appends this kind's objects (inventory items of kind index `kind`). */
	int (*inventory)(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
			 const ecplan_catalog *cat, ecplan_error *err);
	/* Adds the work of one carried object to a slot: statements to st for
	 * the stmts slots, steps to out for the steps slots. NULL: none. */
	void (*render)(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
		       const ecplan_catalog *cat, const ecplan_dep *d, ecplan_dep_slot slot);
	/* Or, for a kind whose objects the catalog itself lists (indexes), once
	 * per slot from the catalog, so that rendering needs no inventory. */
	void (*render_all)(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
			   const ecplan_catalog *cat, ecplan_dep_slot slot);
	/* Read-only precondition of `phase` for one carried object: returns a
	 * malloc'ed problem (what is wrong and what to do) or NULL when it holds.
	 * A database error is a problem too. NULL: none. */
	char *(*precheck)(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat,
			  const ecplan_dep *d, ecplan_phase phase);
	/* What the phases do to an object of this kind, with their locks. */
	const char *summary;
	/* Its objects may name several columns the plan changes on one table:
	 * the first change naming one carries it, its copy rewritten for every
	 * such column (ecplan_dep_rewrite); the others skip it. */
	bool shared;
} ecplan_dep_kind;

/* The registry, and its size. */
extern const ecplan_dep_kind *const ecplan_dep_kinds[];
extern const int ecplan_dep_nkinds;

/* Fills cat->deps from every kind. Needs cat's table and column. */
int ecplan_depend_load(ecplan_catalog *cat, PGconn *conn, const ecplan_plan *plan, ecplan_error *err);

/*
 * With several changes on one table, an object that names two of their
 * columns is in each change's inventory (an index in each catalog): marks
 * it, in every change but the first that lists it, as carried by that one
 * (ecplan_dep.carrier, ecplan_index_info.carrier), so that it is rendered
 * and checked once. Every kind whose objects get a copy on the new column
 * must be `shared`; the others (listings, refusals, the column's own
 * properties) stay in each change. cats[i]: change i's catalog.
 */
void ecplan_depend_share(ecplan_catalog *const *cats, const ecplan_plan *plan);

/* Renders every carried object's work for slot (pure). */
void ecplan_depend_render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
			  const ecplan_catalog *cat, ecplan_dep_slot slot);

/* Runs every carried object's precondition of phase; each problem is
 * appended to *problems (malloc'ed strings). */
void ecplan_depend_precheck(char ***problems, size_t *nproblems, PGconn *conn,
			    const ecplan_plan *plan, const ecplan_catalog *cat, ecplan_phase phase);

/* The inventory as text for people: one line per object, what happens to
 * it or why it is refused. Caller frees. */
char *ecplan_depend_describe(const ecplan_catalog *cat);

/* The collation the new column is created with (SQL-ready), or NULL. */
const char *ecplan_dep_column_collation(const ecplan_catalog *cat);

/* For an old column that is GENERATED ALWAYS AS IDENTITY (dep_identity.c):
 * PL/pgSQL for the sync trigger, run after its backfill-mark check, that
 * refuses what PostgreSQL refuses once the new column is the identity (a
 * value given for the new column); NULL otherwise. Caller frees. */
char *ecplan_dep_identity_trigger_guard(const ecplan_plan *plan, const ecplan_catalog *cat);

/* Shared by the constraint kinds (dep_constraint.c): the copy's work in a
 * slot (what: "check", "foreign key"; the locks its ADD and VALIDATE take),
 * a constraint's state by name (*out "missing", or "true"/"false":
 * validated; malloc'ed; 0 or ECPLAN_ERR), and whether
 * the copy is ready for phase (NULL, or the problem, malloc'ed). */
void ecplan_dep_constraint_render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
				  const ecplan_dep *d, ecplan_dep_slot slot, const char *what,
				  const char *add_lock, const char *validate_lock);
int ecplan_dep_constraint_state(char **out, PGconn *conn, const ecplan_plan *plan, const char *name,
				ecplan_error *err);
char *ecplan_dep_constraint_copy_ready(PGconn *conn, const ecplan_plan *plan, const ecplan_dep *d,
				       ecplan_phase phase, const char *what);

/* Helpers for the units. */
/* Cuts suffix (e.g. " NOT VALID") off the end of def, when it is there. */
void ecplan_dep_strip_suffix(char *def, const char *suffix);
/* The table's oid and the old column's attnum as query parameters. */
void ecplan_dep_params(char oid[16], char att[16], const ecplan_catalog *cat);
/* Appends the table the plan changes, schema-qualified and quoted. */
void ecplan_dep_table(ecplan_strbuf *sb, const ecplan_plan *plan);
/* The columns the plan changes on plan's table, plan->column first, and
 * their new names: two arrays of n (returned) the caller frees (not the
 * strings). */
size_t ecplan_dep_table_columns(const ecplan_plan *plan, const char ***olds, const char ***news);
/* ecplan_rewrite_columns (rewrite.h) of every column the plan changes on
 * plan's table to its new name; *count counts plan->column's. */
char *ecplan_dep_rewrite(const char *sql, size_t from, size_t to, const ecplan_plan *plan, int mode, bool fold,
			 int *count);
/* expr with the new column of every change on plan's table replaced by
 * that change's up, parenthesised: a rule on the new columns, tried on the
 * old values. Caller frees. */
char *ecplan_dep_substitute_ups(const char *expr, const ecplan_plan *plan);
/* The new name of column col of plan's table when the plan changes it,
 * else NULL. */
const char *ecplan_dep_new_name(const ecplan_plan *plan, const char *col);
/* A stable name for the copy of an object on the new column. */
char *ecplan_dep_copy_name(const char *name);
/* A read-only row source with the table's columns plus the new column (as
 * NULL of the new type when it does not exist yet), aliased so that plan
 * expressions compile against it: "(SELECT ... LIMIT 0) AS ecplan_row". */
char *ecplan_dep_row_source(const ecplan_plan *plan, const ecplan_catalog *cat);
/* Compiles sql in a read-only transaction that is rolled back; returns the
 * server's message on failure (malloc'ed), NULL when it compiles. */
char *ecplan_dep_compile(PGconn *conn, const char *sql);
/* Runs a one-value query in a read-only transaction with no statement
 * timeout (a full read), rolled back; *out the value (malloc'ed, NULL for
 * NULL). Returns the server's message on failure (malloc'ed), else NULL. */
char *ecplan_dep_read_value(PGconn *conn, const char *sql, char **out);
/* True when d is a foreign key from the column whose copy references a key
 * the same plan changes (dep_fkey.c): its table contracts together with the
 * referenced one. */
bool ecplan_dep_follows_key(const ecplan_dep *d);
/* True when a foreign key references the column (dep_fkey_in.c). */
bool ecplan_dep_key_referenced(const ecplan_catalog *cat);
/* True when the plan lists fn ("schema.name") in change.functions. */
bool ecplan_dep_function_listed(const ecplan_plan *plan, const char *fn);

#endif
