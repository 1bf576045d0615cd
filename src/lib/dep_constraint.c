/*
 * What the constraint kinds (CHECK constraints, foreign keys from the
 * column) share: a copy on the new column added NOT VALID at sync, VALIDATEd
 * after the backfill, given the original's name at contract; a NOT VALID
 * original is added again NOT VALID at contract instead.
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

static void alter_table(ecplan_strbuf *sb, const ecplan_plan *plan)
{
	ecplan_strbuf_adds(sb, "ALTER TABLE ");
	ecplan_dep_table(sb, plan);
	ecplan_strbuf_addch(sb, ' ');
}

void ecplan_dep_constraint_render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
				  const ecplan_dep *d, ecplan_dep_slot slot, const char *what,
				  const char *add_lock, const char *validate_lock)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	switch (slot) {
	case ECPLAN_SLOT_SYNC:
		/* A NOT VALID original goes over at contract instead: its copy must
		 * not stop the backfill on the rows the original never checked. */
		if (!d->validated)
			break;
		alter_table(&sb, plan);
		ecplan_strbuf_adds(&sb, "ADD CONSTRAINT ");
		ecplan_sql_ident(&sb, d->copy_name);
		ecplan_strbuf_addf(&sb, " %s NOT VALID", d->copy_definition);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), add_lock);
		break;
	case ECPLAN_SLOT_BACKFILL:
		if (!d->validated)
			break; /* the original is NOT VALID: so stays the copy */
		st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "validate %s %s", what, d->copy_name);
		st->scans_table = true;
		alter_table(&sb, plan);
		ecplan_strbuf_adds(&sb, "VALIDATE CONSTRAINT ");
		ecplan_sql_ident(&sb, d->copy_name);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), validate_lock);
		break;
	case ECPLAN_SLOT_CONTRACT_DROP:
		alter_table(&sb, plan);
		ecplan_strbuf_adds(&sb, "DROP CONSTRAINT ");
		ecplan_sql_ident(&sb, d->name);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		break;
	case ECPLAN_SLOT_CONTRACT_AFTER:
		alter_table(&sb, plan);
		if (d->validated) {
			ecplan_strbuf_adds(&sb, "RENAME CONSTRAINT ");
			ecplan_sql_ident(&sb, d->copy_name);
			ecplan_strbuf_adds(&sb, " TO ");
			ecplan_sql_ident(&sb, d->name);
		} else {
			/* NOT VALID, as the original: no scan under this lock. */
			ecplan_strbuf_adds(&sb, "ADD CONSTRAINT ");
			ecplan_sql_ident(&sb, d->name);
			ecplan_strbuf_addf(&sb, " %s NOT VALID", d->copy_definition);
		}
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		if (d->comment) {
			ecplan_strbuf_adds(&sb, "COMMENT ON CONSTRAINT ");
			ecplan_sql_ident(&sb, d->name);
			ecplan_strbuf_adds(&sb, " ON ");
			ecplan_dep_table(&sb, plan);
			ecplan_strbuf_adds(&sb, " IS ");
			ecplan_sql_literal(&sb, d->comment);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		}
		break;
	case ECPLAN_SLOT_UNDO_SYNC:
		alter_table(&sb, plan);
		ecplan_strbuf_adds(&sb, "DROP CONSTRAINT IF EXISTS ");
		ecplan_sql_ident(&sb, d->copy_name);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_AE_META);
		break;
	default:
		break;
	}
}

int ecplan_dep_constraint_state(char **out, PGconn *conn, const ecplan_plan *plan, const char *name,
				ecplan_error *err)
{
	const char *params[3] = { plan->schema, plan->table, name };
	*out = NULL;
	return ecplan_db_query_value(out, conn,
		"SELECT coalesce((SELECT c.convalidated::text FROM pg_catalog.pg_constraint c"
		" JOIN pg_catalog.pg_class r ON r.oid = c.conrelid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
		" WHERE n.nspname = $1 AND r.relname = $2 AND c.conname = $3), 'missing')",
		3, params, err);
}

char *ecplan_dep_constraint_copy_ready(PGconn *conn, const ecplan_plan *plan, const ecplan_dep *d,
				       ecplan_phase phase, const char *what)
{
	char *r = NULL;
	if (!d->validated)
		return NULL; /* made at contract */
	char *state = NULL;
	ecplan_error e;
	ecplan_error_clear(&e);
	if (ecplan_dep_constraint_state(&state, conn, plan, d->copy_name, &e) < 0)
		return ecplan_xstrfmt("the state of %s \"%s\" could not be read: %s", what, d->copy_name, e.message);
	if (!strcmp(state, "missing"))
		r = ecplan_xstrfmt("%s \"%s\" on \"%s\" has no copy \"%s\" on \"%s\" (it was added "
				   "after the sync phase, or the copy was dropped): roll the plan back to "
				   "\"expanded\" and advance again, so the copy is made", what, d->name, plan->column,
				   d->copy_name, plan->new_column);
	else if (ecplan_phase_order(phase, ECPLAN_PHASE_SWITCH) >= 0 && d->validated && strcmp(state, "true"))
		r = ecplan_xstrfmt("the copy \"%s\" of %s \"%s\" is not validated; run the backfill "
				   "phase again (it validates it)", d->copy_name, what, d->name);
	free(state);
	return r;
}
