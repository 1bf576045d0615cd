/*
 * Dependent-object kind: foreign keys FROM the column to another table (or
 * another column of this one). A copy on the new column goes in NOT VALID
 * with the sync trigger, is VALIDATEd after the backfill (when the original
 * was validated), and takes the original's name at contract. The
 * definition is PostgreSQL's own (pg_get_constraintdef), so ON DELETE / ON
 * UPDATE actions, MATCH type and deferrability are kept; only the column
 * names on this side are rewritten. Foreign keys that REFERENCE the column
 * are dep_fkey_in.c's.
 *
 * When the plan also changes the referenced key (an integer id -> bigint
 * with the foreign keys that point at it), the copy references the new key
 * column instead: it is added after every table's backfill, once the new
 * key's unique index exists (slot BACKFILL_LATE), validated there, and in
 * the contract the originals are dropped first (slot CONTRACT_FK_DROP), so
 * the referenced key can be swapped in the same transaction.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

#define LOCK_FK "SHARE ROW EXCLUSIVE on both tables, brief (NOT VALID: no scan)"
#define LOCK_FK_VALIDATE "SHARE UPDATE EXCLUSIVE here, ROW SHARE on the referenced table"

/* Rewrites the referencing side: the column list before REFERENCES and the
 * SET NULL / SET DEFAULT column lists after the referenced columns. */
static char *rewrite(const char *def, const ecplan_plan *plan, int *n)
{
	size_t refs = ecplan_rewrite_find_keyword(def, 0, "REFERENCES");
	int a = 0, b = 0;
	char *head = ecplan_dep_rewrite(def, 0, refs, plan, ECPLAN_REWRITE_BARE, false, &a);
	if (refs == (size_t)-1) {
		*n = a;
		return head;
	}
	size_t refs2 = ecplan_rewrite_find_keyword(head, 0, "REFERENCES");
	size_t on = ecplan_rewrite_find_keyword(head, refs2, "ON");
	char *out = on == (size_t)-1 ? ecplan_xstrdup(head)
		: ecplan_dep_rewrite(head, on, (size_t)-1, plan, ECPLAN_REWRITE_BARE, false, &b);
	free(head);
	*n = a + b;
	return out;
}

/* Rewrites the referenced column list, "REFERENCES t(a, b)", for the
 * change of the referenced key. */
static char *rewrite_referenced(const char *def, const ecplan_plan *ref, int *n)
{
	size_t i = ecplan_rewrite_find_keyword(def, 0, "REFERENCES");
	*n = 0;
	if (i == (size_t)-1)
		return ecplan_xstrdup(def);
	/* Past the table name: identifiers (double-quoted ones may hold
	 * anything, "" for a quote) joined by dots, up to the "(". */
	i += strlen("REFERENCES");
	bool quoted = false;
	for (; def[i] && (quoted || def[i] != '('); i++) {
		if (def[i] == '"' && quoted && def[i + 1] == '"')
			i++;
		else if (def[i] == '"')
			quoted = !quoted;
	}
	if (!def[i])
		return ecplan_xstrdup(def);
	size_t from = i, to = i;
	for (int depth = 0; def[i]; i++) {
		if (def[i] == '"') {
			for (i++; def[i] && !(def[i] == '"' && def[i + 1] != '"'); i++)
				if (def[i] == '"')
					i++;
		} else if (def[i] == '(') {
			depth++;
		} else if (def[i] == ')' && --depth == 0) {
			to = i;
			break;
		}
	}
	/* every key column the plan changes on the referenced table */
	return ecplan_dep_rewrite(def, from, to, ref, ECPLAN_REWRITE_BARE, false, n);
}

/*
 * The change of the plan that changes a column the foreign key references
 * (on the referenced table), or NULL: the one of partner (the column paired
 * with the plan's) first, else any of the referenced columns (refs, a JSON
 * array of their names). The foreign key is carried once, by the first
 * change of its table that names it (ecplan_depend_share): for a composite
 * key (x, y) REFERENCES t (a, b) whose plan changes x, y and t.b, the
 * carrier is x's change, whose partner t.a is not changed; the copy must
 * still follow t.b's new column, or it would reference the old one.
 */
static const ecplan_plan *referenced_change(const ecplan_plan *plan, const char *schema, const char *table,
					    const char *partner, const char *refs)
{
	const ecplan_plan *ref = ecplan_plan_find_change(plan, schema, table, partner);
	json_t *names = ref ? NULL : json_loads(refs, 0, NULL);
	for (size_t k = 0; json_is_array(names) && !ref && k < json_array_size(names); k++)
		if (json_is_string(json_array_get(names, k)))
			ref = ecplan_plan_find_change(plan, schema, table, json_string_value(json_array_get(names, k)));
	json_decref(names);
	return ref;
}

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	char oid[16], att[16];
	ecplan_dep_params(oid, att, cat);
	const char *params[2] = { oid, att };
	PGresult *res = NULL;
	int rc = ecplan_db_query(
		&res, conn,
		"SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid), c.convalidated,"
		" pg_catalog.obj_description(c.oid, 'pg_constraint'),"
		" (SELECT pg_catalog.format_type(ra.atttypid, ra.atttypmod)"
		"  FROM unnest(c.conkey, c.confkey) AS k(a, r)"
		"  JOIN pg_catalog.pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.r"
		"  WHERE k.a = $2::int2 LIMIT 1),"
		" c.confrelid = c.conrelid AND $2::int2 = ANY (c.confkey),"
		" rn.nspname, rc.relname,"
		" (SELECT ra.attname FROM unnest(c.conkey, c.confkey) AS k(a, r)"
		"  JOIN pg_catalog.pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.r"
		"  WHERE k.a = $2::int2 LIMIT 1),"
		" (SELECT pg_catalog.json_agg(ra.attname ORDER BY k.o) FROM unnest(c.confkey) WITH ORDINALITY AS k(r, o)"
		"  JOIN pg_catalog.pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.r)"
		" FROM pg_catalog.pg_constraint c"
		" JOIN pg_catalog.pg_class rc ON rc.oid = c.confrelid"
		" JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace"
		" WHERE c.conrelid = $1::oid AND c.contype = 'f' AND $2::int2 = ANY (c.conkey)"
		"   AND c.conparentid = 0"
		" ORDER BY c.conname",
		2, params, err);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->name = ecplan_xstrdup(PQgetvalue(res, i, 0));
		d->label = ecplan_xstrfmt("foreign key \"%s\"", d->name);
		d->definition = ecplan_xstrdup(PQgetvalue(res, i, 1));
		d->validated = PQgetvalue(res, i, 2)[0] == 't';
		d->comment = PQgetisnull(res, i, 3) ? NULL : ecplan_xstrdup(PQgetvalue(res, i, 3));
		d->extra = PQgetisnull(res, i, 4) ? NULL : ecplan_xstrdup(PQgetvalue(res, i, 4));
		if (strcmp(PQgetvalue(res, i, 6), plan->schema) || strcmp(PQgetvalue(res, i, 7), plan->table)) {
			ecplan_strbuf q = ECPLAN_STRBUF_INIT;
			ecplan_sql_qualified(&q, PQgetvalue(res, i, 6), PQgetvalue(res, i, 7));
			d->other_table = ecplan_strbuf_detach(&q);
		}
		if (cat->relkind == 'p' && d->validated) {
			d->refusal = ecplan_xstrdup("the table is partitioned, and PostgreSQL cannot add a foreign key "
						    "NOT VALID to a partitioned table (the copy would be checked under a "
						    "long lock): drop it before the change and add it again after");
			continue;
		}
		if (PQgetvalue(res, i, 5)[0] == 't') {
			d->refusal = ecplan_xstrdup("it also references the column itself; drop it, change the "
						    "column, then recreate it");
			continue;
		}
		char *def = ecplan_xstrdup(d->definition);
		ecplan_dep_strip_suffix(def, " NOT VALID");
		int n = 0;
		d->copy_definition = rewrite(def, plan, &n);
		/* The plan changes the referenced key too: the copy references it. */
		const ecplan_plan *ref = referenced_change(plan, PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
							   PQgetvalue(res, i, 8), PQgetvalue(res, i, 9));
		if (ref) {
			int m = 0;
			char *both = rewrite_referenced(d->copy_definition, ref, &m);
			free(d->copy_definition);
			d->copy_definition = both;
			d->number = 1;
			if (m == 0)
				d->refusal = ecplan_xstrfmt("ecplan cannot find the referenced \"%s\" in its definition %s",
							    ref->column, d->definition);
			if (!d->validated && !d->refusal)
				d->refusal = ecplan_xstrdup("it is NOT VALID and references a key this plan changes: "
							    "validate it (ALTER TABLE ... VALIDATE CONSTRAINT) or drop it first");
		}
		d->copy_name = ecplan_dep_copy_name(d->name);
		if (n == 0)
			d->refusal = ecplan_xstrfmt("ecplan cannot find \"%s\" in its definition %s", plan->column,
						    d->definition);
		free(def);
	}
	PQclear(res);
	return 0;
}

/*
 * Adding or dropping a foreign key locks both tables. The referenced one is
 * locked first (LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE, the lock the
 * ADD or DROP takes on it anyway), at the start of the step's transaction:
 * in the order applications write them (parent, then child), so a
 * transaction that inserts into both never deadlocks with it.
 */
static void lock_referenced(ecplan_step *st, const ecplan_dep *d)
{
	if (!d->other_table)
		return;
	ecplan_step_add_stmt(st, ecplan_xstrfmt("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", d->other_table),
			     "SHARE ROW EXCLUSIVE on the referenced table, brief (taken before this table's)");
	/* First in the transaction: move it to the front. */
	ecplan_stmt last = st->stmts[st->nstmts - 1];
	memmove(&st->stmts[1], &st->stmts[0], (st->nstmts - 1) * sizeof(*st->stmts));
	st->stmts[0] = last;
}

static void render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat,
		   const ecplan_dep *d, ecplan_dep_slot slot)
{
	bool follows = d->number == 1; /* references a key the plan changes */
	(void)cat;
	switch (slot) {
	case ECPLAN_SLOT_SYNC:
		if (follows)
			return;
		if (d->validated)
			lock_referenced(st, d);
		break;
	case ECPLAN_SLOT_BACKFILL:
		if (follows)
			return;
		break;
	case ECPLAN_SLOT_BACKFILL_LATE:
		if (!follows)
			return;
		/* The new key's unique index exists now: the copy goes in NOT
		 * VALID, then is validated, each in its own step. */
		st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "add foreign key %s (not valid)", d->copy_name);
		lock_referenced(st, d);
		ecplan_dep_constraint_render(out, st, plan, d, ECPLAN_SLOT_SYNC, "foreign key", LOCK_FK,
					     LOCK_FK_VALIDATE);
		slot = ECPLAN_SLOT_BACKFILL;
		break;
	case ECPLAN_SLOT_UNDO_BACKFILL_FIRST:
		if (!follows)
			return;
		/* Before the new key's index can be dropped. */
		st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "drop foreign key %s", d->copy_name);
		lock_referenced(st, d);
		slot = ECPLAN_SLOT_UNDO_SYNC;
		break;
	case ECPLAN_SLOT_CONTRACT_DROP:
		return; /* in CONTRACT_FK_DROP */
	case ECPLAN_SLOT_CONTRACT_FK_DROP:
		slot = ECPLAN_SLOT_CONTRACT_DROP;
		break;
	default:
		break;
	}
	ecplan_dep_constraint_render(out, st, plan, d, slot, "foreign key", LOCK_FK, LOCK_FK_VALIDATE);
}

static char *precheck(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_dep *d,
		      ecplan_phase phase)
{
	char *r = NULL;
	(void)cat;
	/* A copy that references a key the plan changes is made during backfill. */
	if (d->number == 1 && phase == ECPLAN_PHASE_BACKFILL)
		return NULL;
	if (ecplan_phase_order(phase, ECPLAN_PHASE_SYNC) <= 0) {
		if (!ecplan_change_retypes(plan) || !d->extra)
			return NULL;
		char *sql = ecplan_xstrfmt("SELECT CAST(NULL AS %s) = CAST(NULL AS %s)", plan->type, d->extra);
		char *m = ecplan_dep_compile(conn, sql);
		if (m)
			r = ecplan_xstrfmt("foreign key \"%s\" cannot hold with the new type %s against %s: %s", d->name,
					   plan->type, d->extra, m);
		free(m);
		free(sql);
		return r;
	}
	return ecplan_dep_constraint_copy_ready(conn, plan, d, phase, "foreign key");
}

const ecplan_dep_kind ecplan_dep_fkey = {
	.name = "foreign key from the column",
	.inventory = inventory,
	.render = render,
	.precheck = precheck,
	.shared = true,
	.summary = "sync adds a copy on the new column NOT VALID (SHARE ROW EXCLUSIVE on both tables, "
		   "brief); backfill VALIDATEs it (SHARE UPDATE EXCLUSIVE, writes continue); contract drops "
		   "the original and gives the copy its name",
};

bool ecplan_dep_follows_key(const ecplan_dep *d)
{
	return ecplan_dep_kinds[d->kind] == &ecplan_dep_fkey && d->number == 1;
}
