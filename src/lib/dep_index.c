/*
 * Dependent-object kind: indexes on the column (as key, INCLUDE column,
 * expression or predicate), and the UNIQUE constraints they back. Each is
 * rebuilt on the new column CONCURRENTLY after the backfill (the copy of a
 * DEFERRABLE unique constraint at expand, before anything writes the new
 * column, and made a deferrable constraint at once), and takes the old
 * name, constraint, comment, CLUSTER and REPLICA IDENTITY at contract. An
 * index ecplan cannot rebuild (a primary key, an exclusion constraint, an
 * operator class or collation that a type change would invalidate) refuses
 * the plan before expand.
 *
 * The indexes come from the catalog (catalog.c reads them with their keys);
 * rendering reads them from there, so it works with a catalog built by hand.
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/precheck.h"
#include "ecplan/render.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

#define LOCK_AE_META ECPLAN_LOCK_AE_META
#define LOCK_SUE ECPLAN_LOCK_SUE

static void table_ref(ecplan_strbuf *sb, const ecplan_plan *plan)
{
	ecplan_sql_qualified(sb, plan->schema, plan->table);
}

/* Where "USING method (...)" starts in pg_get_indexdef's text, or NULL. */
static const char *index_tail(const ecplan_index_info *idx)
{
	if (!idx->definition)
		return NULL;
	size_t on = ecplan_rewrite_find_keyword(idx->definition, 0, "ON");
	size_t using = on == (size_t)-1 ? on : ecplan_rewrite_find_keyword(idx->definition, on, "USING");
	return using == (size_t)-1 ? NULL : idx->definition + using;
}

/*
 * Why ecplan cannot rebuild idx on the new column, or NULL when it can.
 * Returns malloc'ed text.
 */
static char *index_blocker(const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_index_info *idx)
{
	if (cat && cat->relkind == 'p' && idx->constraint_name && idx->constraint_type == 'u')
		return ecplan_xstrfmt("unique constraint \"%s\" is on a partitioned table, where PostgreSQL cannot "
				      "turn a rebuilt index into a constraint (ADD CONSTRAINT ... USING INDEX): "
				      "replace it with a unique index first", idx->constraint_name);
	if (idx->primary && cat && cat->relkind == 'p')
		return ecplan_xstrfmt("\"%s\" is part of the primary key \"%s\" of a partitioned table, which "
				      "PostgreSQL cannot rebuild from an index (ADD PRIMARY KEY USING INDEX)",
				      plan->column, idx->name);
	if (idx->uses_column_in_expression &&
	    (!index_tail(idx) || ecplan_rewrite_count(index_tail(idx), plan->column, ECPLAN_REWRITE_BARE, false) == 0))
		return ecplan_xstrfmt("index \"%s\" uses \"%s\" in an expression or WHERE clause, and ecplan "
				      "cannot find the column in its definition (%s): create the equivalent index "
				      "on \"%s\" yourself, then drop \"%s\"",
				      idx->name, plan->column, idx->definition ? idx->definition : "none",
				      plan->new_column, idx->name);
	if (idx->constraint_type == 'x')
		return ecplan_xstrfmt("exclusion constraint \"%s\" uses \"%s\"; ecplan cannot rebuild it",
				      idx->constraint_name ? idx->constraint_name : idx->name, plan->column);
	for (size_t i = 0; ecplan_change_retypes(plan) && i < idx->nkeys; i++) {
		const ecplan_index_column *k = &idx->keys[i];
		if (k->name && !strcmp(k->name, plan->column) && (k->opclass || k->collation))
			return ecplan_xstrfmt("index \"%s\" uses a non-default operator class or collation on "
					      "\"%s\"; with a type change ecplan cannot choose one: rebuild it yourself",
					      idx->name, plan->column);
	}
	return NULL;
}

/* True when ecplan rebuilds idx in the backfill (and renames it in contract). */
/*
 * A DEFERRABLE unique constraint's copy is built at expand, while nothing
 * writes the new column yet, and becomes a deferrable constraint at once: an
 * ordinary unique index would check immediately and break transactions that
 * rely on the deferred check (swapping two values) until contract.
 */
static bool built_at_expand(const ecplan_index_info *idx)
{
	return idx->valid && idx->constraint_type == 'u' && idx->constraint_name && idx->deferrable;
}

static bool index_rebuilt(const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_index_info *idx)
{
	char *why = idx->valid ? index_blocker(plan, cat, idx) : NULL;
	bool r = idx->valid && !why;
	free(why);
	return r;
}

/* How a copy is built: CONCURRENTLY on the table (or on one partition), or
 * ON ONLY a partitioned table (an empty, invalid index its partitions'
 * indexes are attached to). */
enum build { BUILD_CONCURRENTLY, BUILD_ON_ONLY };

/*
 * Appends the CREATE INDEX that rebuilds idx on the new column, named name,
 * on the plan's table (partition NULL) or on a partition of it; or returns
 * false and adds a blocker when ecplan cannot rebuild it safely.
 */
static bool index_rebuild(ecplan_strbuf *sb, ecplan_steps *out, const ecplan_plan *plan,
			  const ecplan_catalog *cat, const ecplan_index_info *idx, const char *name,
			  const char *partition, enum build how)
{
	char *why = index_blocker(plan, cat, idx);
	if (why) {
		ecplan_steps_add_line(&out->blockers, &out->nblockers, "%s", why);
		free(why);
		return false;
	}
	ecplan_strbuf_addf(sb, "CREATE %sINDEX %sIF NOT EXISTS ", idx->unique ? "UNIQUE " : "",
			   how == BUILD_CONCURRENTLY ? "CONCURRENTLY " : "");
	ecplan_sql_ident(sb, name);
	ecplan_strbuf_adds(sb, how == BUILD_ON_ONLY ? " ON ONLY " : " ON ");
	if (partition)
		ecplan_sql_qualified(sb, plan->schema, partition);
	else
		table_ref(sb, plan);
	if (idx->uses_column_in_expression) {
		/* An expression or predicate uses the column: PostgreSQL's own
		 * definition, with the column renamed token by token. */
		char *tail = ecplan_dep_rewrite(index_tail(idx), 0, (size_t)-1, plan, ECPLAN_REWRITE_BARE, false, NULL);
		size_t where = ecplan_rewrite_find_keyword(tail, 0, "WHERE");
		ecplan_strbuf_addch(sb, ' ');
		if (idx->tablespace && where != (size_t)-1) {
			ecplan_strbuf_add(sb, tail, where);
			ecplan_strbuf_addf(sb, "TABLESPACE %s %s", idx->tablespace, tail + where);
		} else {
			ecplan_strbuf_adds(sb, tail);
			if (idx->tablespace)
				ecplan_strbuf_addf(sb, " TABLESPACE %s", idx->tablespace);
		}
		free(tail);
		return true;
	}
	ecplan_strbuf_addf(sb, " USING %s (", idx->method);
	for (size_t i = 0; i < idx->nkeys; i++) {
		const ecplan_index_column *k = &idx->keys[i];
		/* the plan's other changes of the table too (an index on two of them) */
		const char *nn = k->name ? ecplan_dep_new_name(plan, k->name) : NULL;
		if (i)
			ecplan_strbuf_adds(sb, ", ");
		if (k->name) {
			ecplan_sql_ident(sb, nn ? nn : k->name);
		} else { /* an expression that does not use the old column (another changed one, maybe) */
			char *e = ecplan_dep_rewrite(k->expression ? k->expression : "NULL", 0, (size_t)-1, plan,
						     ECPLAN_REWRITE_BARE, false, NULL);
			ecplan_strbuf_addf(sb, "(%s)", e);
			free(e);
		}
		if (k->collation)
			ecplan_strbuf_addf(sb, " COLLATE %s", k->collation);
		if (k->opclass)
			ecplan_strbuf_addf(sb, " %s", k->opclass);
		if (k->desc)
			ecplan_strbuf_adds(sb, k->nulls_first ? " DESC" : " DESC NULLS LAST");
		else if (k->nulls_first)
			ecplan_strbuf_adds(sb, " NULLS FIRST");
	}
	ecplan_strbuf_addch(sb, ')');
	if (idx->ninclude) {
		ecplan_strbuf_adds(sb, " INCLUDE (");
		for (size_t i = 0; i < idx->ninclude; i++) {
			if (i)
				ecplan_strbuf_adds(sb, ", ");
			const char *nn = ecplan_dep_new_name(plan, idx->include[i]);
			ecplan_sql_ident(sb, nn ? nn : idx->include[i]);
		}
		ecplan_strbuf_addch(sb, ')');
	}
	if (idx->nulls_not_distinct)
		ecplan_strbuf_adds(sb, " NULLS NOT DISTINCT");
	if (idx->reloptions)
		ecplan_strbuf_addf(sb, " WITH (%s)", idx->reloptions);
	if (idx->tablespace)
		ecplan_strbuf_addf(sb, " TABLESPACE %s", idx->tablespace);
	if (idx->predicate) {
		char *p = ecplan_dep_rewrite(idx->predicate, 0, (size_t)-1, plan, ECPLAN_REWRITE_BARE, false, NULL);
		ecplan_strbuf_addf(sb, " WHERE (%s)", p);
		free(p);
	}
	return true;
}


/* After the rebuilt index has the old name: its comment, the constraint's
 * comment, CLUSTER ON and REPLICA IDENTITY, as the old one had them. */
static void index_properties(ecplan_step *st, const ecplan_plan *plan, const ecplan_index_info *idx)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	/* ADD CONSTRAINT ... USING INDEX renames the index to the constraint. */
	const char *name = (idx->constraint_type == 'u' || idx->constraint_type == 'p') && idx->constraint_name
				   ? idx->constraint_name : idx->name;
	if (idx->comment) {
		ecplan_strbuf_adds(&sb, "COMMENT ON INDEX ");
		ecplan_sql_qualified(&sb, plan->schema, name);
		ecplan_strbuf_adds(&sb, " IS ");
		ecplan_sql_literal(&sb, idx->comment);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
	}
	if (idx->constraint_comment && idx->constraint_name) {
		ecplan_strbuf_adds(&sb, "COMMENT ON CONSTRAINT ");
		ecplan_sql_ident(&sb, idx->constraint_name);
		ecplan_strbuf_adds(&sb, " ON ");
		table_ref(&sb, plan);
		ecplan_strbuf_adds(&sb, " IS ");
		ecplan_sql_literal(&sb, idx->constraint_comment);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
	}
	if (idx->clustered || idx->replident) {
		ecplan_strbuf_adds(&sb, "ALTER TABLE ");
		table_ref(&sb, plan);
		ecplan_strbuf_adds(&sb, idx->clustered ? " CLUSTER ON " : " REPLICA IDENTITY USING INDEX ");
		ecplan_sql_ident(&sb, name);
		if (idx->clustered && idx->replident) {
			ecplan_strbuf_adds(&sb, ", REPLICA IDENTITY USING INDEX ");
			ecplan_sql_ident(&sb, name);
		}
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
	}
}


/* The copy's name on partition p: the partition's own index name (or the
 * partition and index names) with _ecplan. Caller frees. */
static char *partition_copy_name(const ecplan_catalog *cat, const ecplan_index_info *idx, size_t p)
{
	if (p < idx->npartition_indexes && idx->partition_indexes[p])
		return ecplan_render_index_name(idx->partition_indexes[p]);
	char *base = ecplan_xstrfmt("%s_%s", cat->partitions[p], idx->name);
	char *r = ecplan_render_index_name(base);
	free(base);
	return r;
}

/* A partitioned table: the index ON ONLY the table, then one build per
 * partition, CONCURRENTLY, each attached as soon as it is built. */
static void build_partitioned(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *cat,
			      const ecplan_index_info *idx)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char *nn = ecplan_render_index_name(idx->name);
	if (!index_rebuild(&sb, out, plan, cat, idx, nn, NULL, BUILD_ON_ONLY)) {
		ecplan_strbuf_release(&sb);
		free(nn);
		return;
	}
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "create index %s on the partitioned table", nn);
	st->note = ecplan_xstrfmt("replaces %s; invalid until every partition's copy is attached", idx->name);
	ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), "SHARE on the partitioned table only, brief (no build)");
	for (size_t p = 0; p < cat->npartitions; p++) {
		char *pn = partition_copy_name(cat, idx, p);
		index_rebuild(&sb, out, plan, cat, idx, pn, cat->partitions[p], BUILD_CONCURRENTLY);
		st = ecplan_steps_add(out, ECPLAN_STEP_INDEX, false, "build index %s on partition %s", idx->name,
				      cat->partitions[p]);
		st->index_name = ecplan_xstrdup(pn);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
		st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "attach %s", pn);
		ecplan_strbuf_adds(&sb, "ALTER INDEX ");
		ecplan_sql_qualified(&sb, plan->schema, nn);
		ecplan_strbuf_adds(&sb, " ATTACH PARTITION ");
		ecplan_sql_qualified(&sb, plan->schema, pn);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), "brief locks on the two indexes");
		free(pn);
	}
	free(nn);
}

static void render_all(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
		       const ecplan_catalog *cat, ecplan_dep_slot slot)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	switch (slot) {
	case ECPLAN_SLOT_EXPAND_STEPS:
		for (size_t i = 0; cat && i < cat->nindexes; i++) {
			if (cat->indexes[i].carrier)
				continue; /* another change of the plan carries it */
			const ecplan_index_info *idx = &cat->indexes[i];
			char *nn = ecplan_render_index_name(idx->name);
			if (!built_at_expand(idx) || !index_rebuild(&sb, out, plan, cat, idx, nn, NULL, BUILD_CONCURRENTLY)) {
				ecplan_strbuf_reset(&sb);
				free(nn);
				continue;
			}
			st = ecplan_steps_add(out, ECPLAN_STEP_INDEX, false, "build index %s", idx->name);
			st->index_name = ecplan_xstrdup(nn);
			st->note = ecplan_xstrfmt("replaces %s, which backs a DEFERRABLE constraint: built before the new "
						  "column is written, then made deferrable, so no transaction meets an immediate "
						  "check", idx->name);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
			st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "make %s deferrable", nn);
			ecplan_strbuf_adds(&sb, "ALTER TABLE ");
			table_ref(&sb, plan);
			ecplan_strbuf_adds(&sb, " ADD CONSTRAINT ");
			ecplan_sql_ident(&sb, nn);
			ecplan_strbuf_adds(&sb, " UNIQUE USING INDEX ");
			ecplan_sql_ident(&sb, nn);
			ecplan_strbuf_adds(&sb, idx->deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE");
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
			free(nn);
		}
		break;
	case ECPLAN_SLOT_BACKFILL:
		for (size_t i = 0; cat && i < cat->nindexes; i++) {
			if (cat->indexes[i].carrier)
				continue; /* another change of the plan carries it */
			const ecplan_index_info *idx = &cat->indexes[i];
			if (!idx->valid || built_at_expand(idx))
				continue; /* invalid: serves no query, nothing to rebuild; deferrable: built at expand */
			if (cat->relkind == 'p') {
				build_partitioned(out, plan, cat, idx);
				continue;
			}
			char *nn = ecplan_render_index_name(idx->name);
			if (!index_rebuild(&sb, out, plan, cat, idx, nn, NULL, BUILD_CONCURRENTLY)) {
				ecplan_strbuf_reset(&sb);
				free(nn);
				continue;
			}
			st = ecplan_steps_add(out, ECPLAN_STEP_INDEX, false, "build index %s", idx->name);
			st->index_name = nn;
			st->note = ecplan_xstrfmt("replaces %s; an invalid leftover of an interrupted build is "
						  "dropped concurrently before a retry", idx->name);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
		}
		break;
	case ECPLAN_SLOT_CONTRACT_AFTER:
		for (size_t i = 0; cat && i < cat->nindexes; i++) {
			if (cat->indexes[i].carrier)
				continue; /* another change of the plan carries it */
			const ecplan_index_info *idx = &cat->indexes[i];
			if (!index_rebuilt(plan, cat, idx))
				continue;
			char *nn = ecplan_render_index_name(idx->name);
			if (built_at_expand(idx)) {
				/* Renaming the constraint renames its index too. */
				ecplan_strbuf_adds(&sb, "ALTER TABLE ");
				table_ref(&sb, plan);
				ecplan_strbuf_adds(&sb, " RENAME CONSTRAINT ");
				ecplan_sql_ident(&sb, nn);
				ecplan_strbuf_adds(&sb, " TO ");
				ecplan_sql_ident(&sb, idx->constraint_name);
			} else if (idx->primary && idx->constraint_name) {
				/* The key moves to the new column: the rebuilt unique index
				 * becomes the primary key (the column is NOT NULL by now). */
				ecplan_strbuf_adds(&sb, "ALTER TABLE ");
				table_ref(&sb, plan);
				ecplan_strbuf_adds(&sb, " ADD CONSTRAINT ");
				ecplan_sql_ident(&sb, idx->constraint_name);
				ecplan_strbuf_adds(&sb, " PRIMARY KEY USING INDEX ");
				ecplan_sql_ident(&sb, nn);
				if (idx->deferrable)
					ecplan_strbuf_adds(&sb, idx->deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE");
			} else if (idx->constraint_type == 'u' && idx->constraint_name) {
				ecplan_strbuf_adds(&sb, "ALTER TABLE ");
				table_ref(&sb, plan);
				ecplan_strbuf_adds(&sb, " ADD CONSTRAINT ");
				ecplan_sql_ident(&sb, idx->constraint_name);
				ecplan_strbuf_adds(&sb, " UNIQUE USING INDEX ");
				ecplan_sql_ident(&sb, nn);
				if (idx->deferrable)
					ecplan_strbuf_adds(&sb, idx->deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE");
			} else {
				ecplan_strbuf_adds(&sb, "ALTER INDEX ");
				ecplan_sql_qualified(&sb, plan->schema, nn);
				ecplan_strbuf_adds(&sb, " RENAME TO ");
				ecplan_sql_ident(&sb, idx->name);
			}
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
			/* each partition's copy takes the name of that partition's index */
			for (size_t p = 0; cat->relkind == 'p' && p < idx->npartition_indexes; p++) {
				if (!idx->partition_indexes[p])
					continue;
				char *pn = partition_copy_name(cat, idx, p);
				ecplan_strbuf_adds(&sb, "ALTER INDEX ");
				ecplan_sql_qualified(&sb, plan->schema, pn);
				ecplan_strbuf_adds(&sb, " RENAME TO ");
				ecplan_sql_ident(&sb, idx->partition_indexes[p]);
				ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
				free(pn);
			}
			index_properties(st, plan, idx);
			free(nn);
		}
		break;
	case ECPLAN_SLOT_UNDO_BACKFILL:
		for (size_t i = 0; cat && i < cat->nindexes; i++) {
			if (cat->indexes[i].carrier)
				continue; /* another change of the plan carries it */
			if (built_at_expand(&cat->indexes[i]))
				continue; /* goes with the new column when expand is undone */
			if (cat->relkind == 'p') {
				/* A partitioned index cannot be dropped concurrently; dropping
				 * it drops the attached copies, then leftovers go one by one. */
				char *pnn = ecplan_render_index_name(cat->indexes[i].name);
				st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "drop index %s", pnn);
				ecplan_strbuf_adds(&sb, "DROP INDEX IF EXISTS ");
				ecplan_sql_qualified(&sb, plan->schema, pnn);
				ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb),
						     "ACCESS EXCLUSIVE on the table and its partitions, brief (no scan)");
				free(pnn);
				for (size_t p = 0; p < cat->npartitions; p++) {
					char *pn = partition_copy_name(cat, &cat->indexes[i], p);
					st = ecplan_steps_add(out, ECPLAN_STEP_INDEX, false, "drop index %s", pn);
					st->index_name = pn;
					ecplan_strbuf_adds(&sb, "DROP INDEX CONCURRENTLY IF EXISTS ");
					ecplan_sql_qualified(&sb, plan->schema, pn);
					ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
				}
				continue;
			}
			char *nn = ecplan_render_index_name(cat->indexes[i].name);
			st = ecplan_steps_add(out, ECPLAN_STEP_INDEX, false, "drop index %s", nn);
			st->index_name = nn;
			ecplan_strbuf_adds(&sb, "DROP INDEX CONCURRENTLY IF EXISTS ");
			ecplan_sql_qualified(&sb, plan->schema, nn);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
		}
		break;
	default:
		break;
	}
	ecplan_strbuf_release(&sb);
}

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	(void)conn;
	(void)err;
	for (size_t i = 0; i < cat->nindexes; i++) {
		const ecplan_index_info *idx = &cat->indexes[i];
		ecplan_dep *d = ecplan_inventory_add(inv, kind);
		d->number = (long)i;
		d->name = ecplan_xstrdup(idx->name);
		d->definition = idx->definition ? ecplan_xstrdup(idx->definition) : NULL;
		d->copy_name = ecplan_render_index_name(idx->name);
		if (!idx->valid) {
			d->label = ecplan_xstrfmt("invalid index \"%s\" (serves no query; goes with the column)", idx->name);
			continue;
		}
		d->label = ecplan_xstrfmt("index \"%s\"%s", idx->name,
					  idx->primary ? " (primary key)"
					  : idx->constraint_name && idx->constraint_type == 'u' ? " (unique constraint)" : "");
		d->refusal = index_blocker(plan, cat, idx);
		d->copy_definition = idx->definition ? ecplan_xstrdup(idx->definition) : NULL;
	}
	return 0;
}

/* Before switch and contract: the copy is there and valid. */
static char *precheck(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_dep *d,
		      ecplan_phase phase)
{
	(void)cat;
	if (ecplan_phase_order(phase, ECPLAN_PHASE_SWITCH) < 0 || !cat->indexes[d->number].valid)
		return NULL;
	bool exists = false, valid = false;
	ecplan_error e;
	ecplan_error_clear(&e);
	if (ecplan_precheck_index_state(conn, plan->schema, d->copy_name, &exists, &valid, &e) < 0)
		return ecplan_xstrfmt("the state of index \"%s\" could not be read: %s", d->copy_name, e.message);
	if (exists && valid)
		return NULL;
	return ecplan_xstrfmt("rebuilt index \"%s\" (copy of \"%s\") is %s; %s", d->copy_name, d->name,
			      exists ? "invalid" : "missing",
			      built_at_expand(&cat->indexes[d->number])
				      ? "roll the plan back to \"planned\" and advance again (expand builds it)"
				      : "run the backfill phase again (it rebuilds it)");
}

const ecplan_dep_kind ecplan_dep_index = {
	.name = "index",
	.inventory = inventory,
	.render_all = render_all,
	.precheck = precheck,
	.shared = true,
	.summary = "backfill builds a copy on the new column CONCURRENTLY (SHARE UPDATE EXCLUSIVE, reads "
		   "and writes continue; a DEFERRABLE unique constraint's copy at expand, made deferrable at "
		   "once); contract gives it the old name, constraint, deferrability, comment, CLUSTER and "
		   "REPLICA IDENTITY (in the contract transaction)",
};
