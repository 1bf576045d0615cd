/*
 * Dependent-object kind: the column's own properties. NOT NULL, the default,
 * the collation, the comment, column-level privileges, the statistics
 * target, storage, compression and attribute options of the old column end
 * on the new one; a sequence the column owns (serial) moves to it at
 * contract. Generated columns are refused; an identity is dep_identity.c's.
 *
 * NOT NULL and the default are applied by the renderer itself (render.c:
 * ecplan_render_not_null, ecplan_render_default), the collation in the ADD
 * COLUMN (ecplan_render_collation) and the comment at contract; the others
 * go in with the new column, in the expand transaction (metadata only).
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/render.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

enum prop {
	P_NOT_NULL = 1, P_DEFAULT, P_COLLATION, P_COMMENT, P_STATISTICS, P_STORAGE, P_COMPRESSION,
	P_OPTIONS, P_GRANT, P_SEQUENCE, P_REFUSED
};

extern const ecplan_dep_kind ecplan_dep_column;

static ecplan_dep *prop(ecplan_inventory *inv, int kind, enum prop p, char *label, char *extra)
{
	ecplan_dep *d = ecplan_inventory_add(inv, kind);
	d->number = p;
	d->label = label;
	d->extra = extra;
	d->name = ecplan_xstrdup("");
	return d;
}

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	const ecplan_column_info *c = &cat->column;
	char oid[16], att[16];
	ecplan_dep_params(oid, att, cat);
	const char *type = ecplan_change_new_type(plan, cat);
	const char *params[3] = { oid, att, type };
	bool v14 = cat->server_version_num >= 140000;
	PGresult *res = NULL;
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	int rc;

	if (c->generated) {
		ecplan_dep *d = prop(inv, kind, P_REFUSED, ecplan_xstrfmt("generated column \"%s\"", c->name), NULL);
		d->refusal = ecplan_xstrdup("the column is generated; change its expression instead");
	}
	if (c->not_null)
		prop(inv, kind, P_NOT_NULL, ecplan_xstrdup("NOT NULL"),
		     ecplan_xstrdup("proved by a validated CHECK in backfill, set at contract"));
	if (c->default_expr && !c->identity && !c->generated) {
		ecplan_dep *d = prop(inv, kind, P_DEFAULT,
				     ecplan_xstrfmt("default %s%s", c->default_expr,
						    plan->default_expr ? " (change.default replaces it)" : ""),
				     ecplan_xstrdup(c->default_expr));
		d->copy_definition = ecplan_render_carried_default(plan, cat);
	}
	if (c->comment)
		prop(inv, kind, P_COMMENT, ecplan_xstrdup("column comment"), ecplan_xstrdup(c->comment));
	/* ecplan moves one sequence with the column (its serial's, or its
	 * identity's): any other sequence OWNED BY it would go with the old
	 * column's drop. */
	if (c->owned_sequence) {
		char *nseq = NULL;
		const char *sp[2] = { oid, att };
		if ((rc = ecplan_db_query_value(&nseq, conn,
			"SELECT CASE WHEN count(*) > 1 THEN string_agg(sc.oid::regclass::text, ', ' ORDER BY sc.oid) END"
			" FROM pg_catalog.pg_depend sd JOIN pg_catalog.pg_class sc ON sc.oid = sd.objid AND sc.relkind = 'S'"
			" WHERE sd.classid = 'pg_catalog.pg_class'::regclass AND sd.refclassid = 'pg_catalog.pg_class'::regclass"
			"   AND sd.refobjid = $1::oid AND sd.refobjsubid = $2::int2 AND sd.deptype IN ('a', 'i')",
			2, sp, err)) < 0)
			return rc;
		if (nseq) {
			ecplan_dep *d = prop(inv, kind, P_REFUSED, ecplan_xstrfmt("sequences owned by the column: %s", nseq),
					     NULL);
			d->refusal = ecplan_xstrdup("the column owns more than one sequence and ecplan moves only one to "
						    "the new column (the others would be dropped with the old one): make the "
						    "others owned by nothing (ALTER SEQUENCE ... OWNED BY NONE) or by "
						    "another column first");
			free(nseq);
		}
	}
	if (c->owned_sequence && !c->identity) { /* an identity's: dep_identity.c */
		ecplan_dep *d = prop(inv, kind, P_SEQUENCE, ecplan_xstrfmt("owned sequence %s", c->owned_sequence),
				     ecplan_xstrdup(c->owned_sequence));
		/* A sequence narrower than the new type is widened at contract (its
		 * value is kept), or the wider column would still run out at the
		 * sequence's end: integer -> bigint of a serial key. */
		char *wider = NULL;
		const char *sp[2] = { c->owned_sequence, ecplan_change_new_type(plan, cat) };
		if ((rc = ecplan_db_query_value(&wider, conn,
			"SELECT CASE WHEN s.seqtypid <> t.oid AND t.oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)"
			"   AND s.seqmax = CASE s.seqtypid WHEN 'int2'::regtype THEN 32767"
			"                   WHEN 'int4'::regtype THEN 2147483647 ELSE s.seqmax END"
			"  THEN pg_catalog.format_type(t.oid, NULL) END"
			" FROM pg_catalog.pg_sequence s, pg_catalog.pg_type t"
			" WHERE s.seqrelid = $1::regclass AND t.oid = to_regtype($2)"
			" UNION ALL SELECT NULL LIMIT 1", 2, sp, err)) < 0)
			return rc;
		if (wider) {
			d->copy_definition = ecplan_xstrfmt("AS %s", wider);
			free(d->label);
			d->label = ecplan_xstrfmt("owned sequence %s (widened to %s at contract)", c->owned_sequence, wider);
		}
		free(wider);
	}

	ecplan_strbuf_addf(
		&sql,
		"SELECT coalesce(a.attstattarget::int, -1), a.attstorage::text, t.typstorage::text, %s,"
		" array_to_string(a.attoptions, ', '),"
		" (SELECT nt.typstorage::text FROM pg_catalog.pg_type nt WHERE nt.oid = to_regtype($3)),"
		" (SELECT nt.typcollation <> 0 FROM pg_catalog.pg_type nt WHERE nt.oid = to_regtype($3)),"
		" CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation"
		"   THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END"
		" FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
		" LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
		" LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
		" WHERE a.attrelid = $1::oid AND a.attnum = $2::int2",
		v14 ? "a.attcompression::text" : "''::text");
	if ((rc = ecplan_db_query(&res, conn, sql.buf, 3, params, err)) < 0)
		goto done;
	if (PQntuples(res) == 1) {
		int stat = atoi(PQgetvalue(res, 0, 0));
		const char *storage = PQgetvalue(res, 0, 1), *type_storage = PQgetvalue(res, 0, 2);
		const char *comp = PQgetvalue(res, 0, 3), *opts = PQgetvalue(res, 0, 4);
		const char *new_storage = PQgetisnull(res, 0, 5) ? "" : PQgetvalue(res, 0, 5);
		bool new_collatable = !PQgetisnull(res, 0, 6) && PQgetvalue(res, 0, 6)[0] == 't';
		if (stat >= 0)
			prop(inv, kind, P_STATISTICS, ecplan_xstrfmt("statistics target %d", stat),
			     ecplan_xstrfmt("SET STATISTICS %d", stat));
		if (strcmp(storage, type_storage) && strcmp(new_storage, "p")) {
			const char *s = !strcmp(storage, "p") ? "PLAIN" : !strcmp(storage, "e") ? "EXTERNAL"
				      : !strcmp(storage, "m") ? "MAIN" : "EXTENDED";
			prop(inv, kind, P_STORAGE, ecplan_xstrfmt("storage %s", s), ecplan_xstrfmt("SET STORAGE %s", s));
		}
		if (comp[0] && strcmp(new_storage, "p")) {
			const char *m = !strcmp(comp, "l") ? "lz4" : "pglz";
			prop(inv, kind, P_COMPRESSION, ecplan_xstrfmt("compression %s", m),
			     ecplan_xstrfmt("SET COMPRESSION %s", m));
		}
		if (opts[0])
			prop(inv, kind, P_OPTIONS, ecplan_xstrfmt("attribute options (%s)", opts),
			     ecplan_xstrfmt("SET (%s)", opts));
		if (!PQgetisnull(res, 0, 7)) {
			ecplan_dep *d = prop(inv, kind, P_COLLATION,
					     ecplan_xstrfmt("collation %s", PQgetvalue(res, 0, 7)),
					     ecplan_xstrdup(PQgetvalue(res, 0, 7)));
			if (!new_collatable)
				d->refusal = ecplan_xstrfmt("the new type %s has no collation; the column's collation "
							    "%s would be lost: choose a collatable type", type,
							    PQgetvalue(res, 0, 7));
		}
	}
	PQclear(res);
	res = NULL;
	/* Column privileges, as GRANT statements (the grantor is the runner). */
	if ((rc = ecplan_db_query(
		     &res, conn,
		     "SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,"
		     " x.privilege_type, x.is_grantable"
		     " FROM pg_catalog.pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) x"
		     " LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.grantee"
		     " WHERE a.attrelid = $1::oid AND a.attnum = $2::int2 ORDER BY 1, 2",
		     2, params, err)) < 0)
		goto done;
	for (int i = 0; i < PQntuples(res); i++) {
		bool grantable = PQgetvalue(res, i, 2)[0] == 't';
		prop(inv, kind, P_GRANT,
		     ecplan_xstrfmt("GRANT %s TO %s%s", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0),
				    grantable ? " WITH GRANT OPTION" : ""),
		     ecplan_xstrfmt("%s|%s|%d", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0), grantable));
	}
done:
	PQclear(res);
	ecplan_strbuf_release(&sql);
	return rc;
}

static void alter_column(ecplan_strbuf *sb, const ecplan_plan *plan)
{
	ecplan_strbuf_adds(sb, "ALTER TABLE ");
	ecplan_dep_table(sb, plan);
	ecplan_strbuf_adds(sb, " ALTER COLUMN ");
	ecplan_sql_ident(sb, plan->new_column);
	ecplan_strbuf_addch(sb, ' ');
}

static void render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat,
		   const ecplan_dep *d, ecplan_dep_slot slot)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	(void)out;
	(void)cat;
	/* Given at expand, and again at contract from the inventory taken then:
	 * a privilege or setting added to the old column since is not lost. */
	bool expand_or_contract = slot == ECPLAN_SLOT_EXPAND || slot == ECPLAN_SLOT_CONTRACT_AFTER;
	if (expand_or_contract &&
	    (d->number == P_STATISTICS || d->number == P_STORAGE || d->number == P_COMPRESSION ||
	     d->number == P_OPTIONS)) {
		alter_column(&sb, plan);
		ecplan_strbuf_adds(&sb, d->extra);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
	} else if (expand_or_contract && d->number == P_GRANT) {
		/* extra: privilege|grantee (SQL-ready)|grantable */
		char *copy = ecplan_xstrdup(d->extra);
		char *priv = copy, *grantee = strchr(copy, '|');
		*grantee++ = '\0';
		char *grantable = strrchr(grantee, '|');
		*grantable++ = '\0';
		ecplan_strbuf_addf(&sb, "GRANT %s (", priv);
		ecplan_sql_ident(&sb, plan->new_column);
		ecplan_strbuf_adds(&sb, ") ON TABLE ");
		ecplan_dep_table(&sb, plan);
		ecplan_strbuf_addf(&sb, " TO %s%s", grantee, grantable[0] == '1' ? " WITH GRANT OPTION" : "");
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		free(copy);
	} else if (slot == ECPLAN_SLOT_CONTRACT_AFTER && d->number == P_DEFAULT && d->copy_definition) {
		/* From now on no trigger fills the new column from the old one. */
		alter_column(&sb, plan);
		ecplan_strbuf_addf(&sb, "SET DEFAULT (%s)", d->copy_definition);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
	} else if (slot == ECPLAN_SLOT_CONTRACT_DROP && d->number == P_SEQUENCE) {
		/* The sequence would go with the old column: give it to the new one. */
		ecplan_strbuf_addf(&sb, "ALTER SEQUENCE %s OWNED BY ", d->extra);
		ecplan_dep_table(&sb, plan);
		ecplan_strbuf_addch(&sb, '.');
		ecplan_sql_ident(&sb, plan->new_column);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		if (d->copy_definition) {
			ecplan_strbuf_addf(&sb, "ALTER SEQUENCE %s %s", d->extra, d->copy_definition);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), "the sequence only, brief (its value is kept)");
		}
	}
}

static char *precheck(PGconn *conn, const ecplan_plan *plan, const ecplan_catalog *cat, const ecplan_dep *d,
		      ecplan_phase phase)
{
	if (d->number == P_COLLATION && phase == ECPLAN_PHASE_CONTRACT && cat->new_column_exists &&
	    (!cat->new_col.collation || strcmp(cat->new_col.collation, d->extra)))
		return ecplan_xstrfmt("the old column's collation %s differs from the new column's (%s): it was "
				      "changed after expand; roll back to \"planned\" and advance again", d->extra,
				      cat->new_col.collation ? cat->new_col.collation : "the type's default");
	if (d->number != P_DEFAULT || !d->copy_definition || ecplan_phase_order(phase, ECPLAN_PHASE_SYNC) > 0)
		return NULL;
	/* No FROM: a default may not name columns. */
	const char *type = plan->type ? plan->type : cat->column.type;
	char *sql = ecplan_xstrfmt("SELECT CAST((%s) AS %s) LIMIT 0", d->copy_definition, type);
	char *m = ecplan_dep_compile(conn, sql);
	char *r = m ? ecplan_xstrfmt("the column's default %s does not convert to the new type %s (%s): give "
				     "the new column its own default with change.default", d->extra, type, m)
		    : NULL;
	free(sql);
	free(m);
	return r;
}

const char *ecplan_dep_column_collation(const ecplan_catalog *cat)
{
	for (size_t i = 0; cat && i < cat->deps.count; i++) {
		const ecplan_dep *d = &cat->deps.items[i];
		if (ecplan_dep_kinds[d->kind] == &ecplan_dep_column && d->number == P_COLLATION && !d->refusal)
			return d->extra;
	}
	return NULL;
}

const ecplan_dep_kind ecplan_dep_column = {
	.name = "column property",
	.inventory = inventory,
	.render = render,
	.precheck = precheck,
	.summary = "given to the new column: privileges, statistics, storage and options at expand "
		   "(in the ADD COLUMN transaction), the default at contract, NOT NULL through a validated "
		   "CHECK and SET NOT NULL at contract, the comment and the owned sequence at contract",
};
