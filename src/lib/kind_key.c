/*
 * Kind of change: a key change. A rename or a type change (its new type, up
 * and down are theirs) of a column of the primary key, or of a unique key
 * that foreign keys reference. What happens to the key's objects is the
 * dependent-object kinds' (depend.h): dep_index builds the new key's unique
 * index concurrently and swaps the primary key at contract (ADD CONSTRAINT
 * ... PRIMARY KEY USING INDEX, the old name kept), dep_column moves and
 * widens the sequence, dep_identity moves the identity, dep_fkey and
 * dep_fkey_in carry the foreign keys on both sides. The kind itself adds
 * what concerns the key as a whole:
 *   - before expand: the new type can be a key (it has a default btree
 *     operator class, or the concurrent build would fail after the whole
 *     backfill);
 *   - before expand, sync and backfill: up gives no two rows the same new
 *     key (a read-only full scan; skipped when the change cannot merge
 *     values: a rename, or an integer widened with the default up);
 *   - verify: the rows that share a new key value.
 */
#include "ecplan/kind.h"

#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/prove.h"
#include "ecplan/sql.h"

/* The primary key's index when it names the column, else NULL. */
static const ecplan_index_info *primary_key(const ecplan_plan *change, const ecplan_catalog *cat)
{
	for (size_t i = 0; cat && i < cat->nindexes; i++) {
		const ecplan_index_info *ix = &cat->indexes[i];
		for (size_t k = 0; ix->primary && k < ix->nkeys; k++)
			if (ix->keys[k].name && !strcmp(ix->keys[k].name, change->column))
				return ix;
	}
	return NULL;
}

static bool matches(const ecplan_plan *change, const ecplan_catalog *cat)
{
	return cat && cat->column_exists && (primary_key(change, cat) || ecplan_dep_key_referenced(cat));
}

/* A key change is a rename or a type change of a key: the kind the change
 * has by the plan alone gives its type and expressions. */
static const ecplan_change_kind *base(const ecplan_plan *change)
{
	return ecplan_change_kind_of(change, NULL);
}

static const char *new_type(const ecplan_plan *change, const ecplan_catalog *cat)
{
	return base(change)->new_type(change, cat);
}

static void up(ecplan_strbuf *sb, const ecplan_plan *change, const char *from)
{
	base(change)->up(sb, change, from);
}

static void down(ecplan_strbuf *sb, const ecplan_plan *change, const ecplan_catalog *cat, const char *from)
{
	base(change)->down(sb, change, cat, from);
}

/* 1 smallint, 2 integer, 3 bigint, 0 anything else. */
static int integer_rank(const char *type)
{
	static const char *const names[] = { "smallint", "integer", "bigint" };
	for (int i = 0; type && i < 3; i++)
		if (!strcmp(type, names[i]))
			return i + 1;
	return 0;
}

/* Whether up cannot give two rows the same value: the old value as it is,
 * or an integer cast to a type at least as wide. *err_out: a database
 * error, malloc'ed. */
static bool injective(PGconn *conn, const ecplan_plan *change, const ecplan_catalog *cat, char **err_out)
{
	if (change->up)
		return false;
	if (!ecplan_change_retypes(change))
		return true;
	char *canon = NULL;
	const char *params[1] = { change->type };
	ecplan_error e;
	ecplan_error_clear(&e);
	if (ecplan_db_query_value(&canon, conn, "SELECT pg_catalog.format_type(pg_catalog.to_regtype($1), NULL)",
				  1, params, &e) < 0) {
		*err_out = ecplan_xstrdup(e.message);
		return false;
	}
	int from = integer_rank(cat->column.type), to = integer_rank(canon);
	bool r = (from && to >= from) || (from && canon && !strcmp(canon, "numeric"));
	free(canon);
	return r;
}

static int precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *change, const ecplan_catalog *cat,
		    ecplan_phase phase, ecplan_error *err)
{
	/* A key change is also the rename or type change it is: their own
	 * preconditions (the type exists) come first. What follows needs the
	 * type, so it is skipped when those fail (it would fail again, less
	 * plainly). */
	const ecplan_change_kind *b = base(change);
	size_t first = l->count;
	if (b->precheck && b->precheck(l, conn, change, cat, phase, err) < 0)
		return ECPLAN_ERR;
	bool usable = true;
	for (size_t i = first; i < l->count; i++)
		usable &= l->items[i].ok;
	const char *type = new_type(change, cat);
	if (phase == ECPLAN_PHASE_EXPAND && type && usable) {
		/* ORDER BY looks up the type's default btree operator class, as
		 * the unique index and the foreign keys need it. */
		char *sql = ecplan_xstrfmt("SELECT k FROM (SELECT CAST(NULL AS %s) AS k) AS s ORDER BY k", type);
		char *m = ecplan_dep_compile(conn, sql);
		ecplan_checklist_add(l, "the new type can be a key (it has a default btree operator class)", !m,
				     m ? ecplan_xstrfmt("%s: %s; a key column needs a type that can be sorted and "
							"compared for uniqueness: choose another change.type",
							type, m)
				       : NULL);
		usable = !m;
		free(m);
		free(sql);
	}
	/* The uniqueness proof groups by the new type: not without a usable one. */
	const ecplan_index_info *pk = primary_key(change, cat);
	if (pk && usable && phase <= ECPLAN_PHASE_BACKFILL) {
		char *e = NULL;
		if (!injective(conn, change, cat, &e) && !e) {
			ecplan_prove_unique(l, conn, change, cat, pk);
		} else if (phase == ECPLAN_PHASE_EXPAND) {
			ecplan_checklist_add(l, "the new key values are unique", !e,
					     e ? ecplan_xstrfmt("the check failed: %s", e)
					       : ecplan_xstrfmt("%s keeps every value distinct; no scan needed",
								ecplan_change_retypes(change)
									? "an integer cast to a type at least as wide"
									: "a rename"));
		}
		free(e);
	}
	if (PQstatus(conn) != CONNECTION_OK)
		return ecplan_error_set(err, ECPLAN_ERR, "connection to the database was lost");
	return 0;
}

/* Rows sharing a value of the primary key with the new column in place of
 * the old, filled rows only; NULL when the column is not in the primary key. */
static char *verify(const ecplan_plan *change, const ecplan_catalog *cat)
{
	const ecplan_index_info *pk = primary_key(change, cat);
	if (!pk)
		return NULL;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, cols = ECPLAN_STRBUF_INIT;
	for (size_t k = 0; k < pk->nkeys; k++) {
		const char *c = pk->keys[k].name;
		if (!c)
			continue;
		ecplan_strbuf_adds(&cols, cols.len ? ", " : "");
		const char *nn = ecplan_dep_new_name(change, c); /* this change's, or another's of the table */
		ecplan_sql_ident(&cols, nn ? nn : c);
	}
	ecplan_strbuf_adds(&sb, "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM ");
	ecplan_sql_qualified(&sb, change->schema, change->table);
	ecplan_strbuf_adds(&sb, " WHERE ");
	ecplan_sql_ident(&sb, change->new_column);
	ecplan_strbuf_addf(&sb, " IS NOT NULL GROUP BY %s HAVING count(*) > 1) AS ecplan_dup", cols.buf);
	ecplan_strbuf_release(&cols);
	return ecplan_strbuf_detach(&sb);
}

const ecplan_change_kind ecplan_kind_key = {
	.name = "key change",
	.summary = "a rename or type change of a primary-key column, or of a unique key other tables reference. "
		   "Before expand: the new type can be a key, and up gives no two rows the same new key (a "
		   "read-only full scan unless the change cannot merge values). Backfill builds the new key's "
		   "unique index CONCURRENTLY (SHARE UPDATE EXCLUSIVE) and adds the referencing foreign keys' "
		   "copies NOT VALID (SHARE ROW EXCLUSIVE, parent first), validated before switch. Contract, in "
		   "one ACCESS EXCLUSIVE transaction per table (one for all tables linked by foreign keys, "
		   "parents locked first): drops the old foreign keys and column, makes the unique index the "
		   "primary key under the old name, moves and widens the sequence or identity, renames the "
		   "foreign keys' copies to the old names",
	.matches = matches,
	.new_type = new_type,
	.up = up,
	.down = down,
	.precheck = precheck,
	.verify = verify,
	.verify_field = "key_duplicates",
	.verify_label = "rows sharing a new key value with another row",
};
