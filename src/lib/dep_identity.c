/*
 * Dependent-object kind: the identity of the old column (GENERATED ALWAYS or
 * BY DEFAULT AS IDENTITY) and its sequence.
 *
 * Until contract the old column keeps its identity and generates the ids;
 * the sync trigger copies them into the new column. For GENERATED ALWAYS the
 * trigger also refuses what PostgreSQL will refuse once the new column is the
 * identity: an INSERT that gives the new column a value, an UPDATE that
 * changes it (ecplan_dep_identity_trigger_guard). A BEFORE trigger may assign
 * a GENERATED ALWAYS column (PostgreSQL checks only the statement's own
 * target list), so the trigger's writes to the old column work after switch.
 *
 * At contract, in the contract transaction (ACCESS EXCLUSIVE on the table
 * already held, so no insert draws from the sequence):
 *   before DROP COLUMN  ALTER SEQUENCE seq INCREMENT BY <its own increment>
 *                       (SHARE ROW EXCLUSIVE on the sequence until commit: no
 *                       nextval() from anywhere, its value kept), then its
 *                       last_value and is_called saved in a transaction-local
 *                       setting; the drop of the old column drops the sequence
 *   after SET NOT NULL  ADD GENERATED <same kind> AS IDENTITY (SEQUENCE NAME
 *                       <same name>, same START, INCREMENT, MINVALUE,
 *                       MAXVALUE, CACHE, CYCLE), setval() to the saved
 *                       last_value/is_called (the next insert gets the next
 *                       id: nothing reused, no gap), the sequence's grants and
 *                       comment.
 * With a type change the sequence's type follows the column, and MINVALUE or
 * MAXVALUE at the old type's bound moves to the new type's, as PostgreSQL's
 * ALTER COLUMN ... TYPE does (its ALTER SEQUENCE ... AS). Rollback never
 * touches the identity: the old column keeps it until contract.
 *
 * Refused before expand: a new type other than smallint, integer or bigint;
 * change.default (an identity has no default); a partitioned table; a
 * sequence whose type is not the column's (PostgreSQL's identity always
 * creates it AS the column's type); a narrower type that cannot hold the
 * sequence's current value (checked again before every phase: the inventory
 * is taken again, so contract stops with exit 3 rather than failing).
 *
 * Inventory items (ecplan_dep.number says which):
 *   IDENT_MAIN   name: the sequence (SQL-ready schema.name); copy_definition:
 *                the identity clause for the new column; definition: the
 *                setting that carries the value; extra: INCREMENT BY n
 *   IDENT_GRANT  extra: privilege|grantee (SQL-ready)|grantable(0/1)
 *   IDENT_COMMENT comment: the sequence's comment
 */
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

enum ident_item { IDENT_MAIN = 1, IDENT_GRANT, IDENT_COMMENT };

extern const ecplan_dep_kind ecplan_dep_identity;

static ecplan_dep *item(ecplan_inventory *inv, int kind, enum ident_item n, const char *seq, char *label)
{
	ecplan_dep *d = ecplan_inventory_add(inv, kind);
	d->number = n;
	d->name = ecplan_xstrdup(seq);
	d->label = label;
	return d;
}

static const char *kind_sql(char identity)
{
	return identity == 'a' ? "ALWAYS" : "BY DEFAULT";
}

/* The sequence's parameters and what they become on the new column:
 * $1 the sequence, $2 the new type, $3 the table oid, $4 the old attnum. */
static const char PARAMS_SQL[] =
	"WITH b(typ, lo, hi) AS (VALUES ('int2'::regtype::oid, -32768::bigint, 32767::bigint),"
	"   ('int4'::regtype::oid, -2147483648, 2147483647),"
	"   ('int8'::regtype::oid, -9223372036854775808, 9223372036854775807))"
	" SELECT s.seqrelid::text,"                                           /* 0 */
	"  nt.oid IN (SELECT typ FROM b),"                                     /* 1 new type usable */
	"  s.seqtypid = a.atttypid,"                                           /* 2 sequence AS the column's type */
	"  pg_catalog.format_type(s.seqtypid, NULL),"                          /* 3 */
	"  s.seqstart::text, s.seqincrement::text,"                            /* 4, 5 */
	"  CASE WHEN nt.oid <> a.atttypid AND s.seqmin = ob.lo THEN nb.lo ELSE s.seqmin END::text," /* 6 */
	"  CASE WHEN nt.oid <> a.atttypid AND s.seqmax = ob.hi THEN nb.hi ELSE s.seqmax END::text," /* 7 */
	"  s.seqcache::text, s.seqcycle,"                                       /* 8, 9 */
	"  pg_catalog.obj_description(s.seqrelid, 'pg_class'),"                 /* 10 */
	"  pg_catalog.format_type(a.atttypid, NULL),"                           /* 11 */
	"  coalesce(pg_catalog.pg_sequence_last_value(s.seqrelid) BETWEEN nb.lo AND nb.hi, true)," /* 12 */
	"  pg_catalog.pg_sequence_last_value(s.seqrelid)::text"                 /* 13 */
	" FROM pg_catalog.pg_sequence s"
	" JOIN pg_catalog.pg_attribute a ON a.attrelid = $3::oid AND a.attnum = $4::int2"
	" LEFT JOIN pg_catalog.pg_type nt ON nt.oid = to_regtype($2)"
	" LEFT JOIN b ob ON ob.typ = s.seqtypid"
	" LEFT JOIN b nb ON nb.typ = nt.oid"
	" WHERE s.seqrelid = $1::regclass";

static int inventory(ecplan_inventory *inv, int kind, PGconn *conn, const ecplan_plan *plan,
		     const ecplan_catalog *cat, ecplan_error *err)
{
	const ecplan_column_info *c = &cat->column;
	if (!c->identity || c->generated)
		return 0;
	char oid[16], att[16];
	ecplan_dep_params(oid, att, cat);
	/* The identity's own sequence (an internal dependency), not another one
	 * the column may own as well. */
	char *own = NULL;
	const char *ip[2] = { oid, att };
	int rc = ecplan_db_query_value(
		&own, conn,
		"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
		" FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind = 'S'"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
		"   AND d.refobjid = $1::oid AND d.refobjsubid = $2::int2 AND d.deptype = 'i'"
		" UNION ALL SELECT NULL LIMIT 1",
		2, ip, err);
	if (rc < 0)
		return rc;
	const char *seq = own;
	ecplan_dep *d = item(inv, kind, IDENT_MAIN, seq ? seq : "",
			     ecplan_xstrfmt("identity (GENERATED %s) of \"%s\"%s%s", kind_sql(c->identity), c->name,
					    seq ? ", sequence " : "", seq ? seq : ""));
	PGresult *res = NULL;
	if (!seq) {
		d->refusal = ecplan_xstrdup("the identity's sequence was not found in the catalog; "
					    "check the column with \\d in psql");
		goto done;
	}
	if (plan->default_expr) {
		d->refusal = ecplan_xstrdup("an identity column has no default: remove change.default (the new "
					    "column becomes the identity at contract)");
		goto done;
	}
	if (cat->relkind == 'p') {
		d->refusal = ecplan_xstrdup("ecplan does not move an identity on a partitioned table; change a "
					    "column that is not an identity");
		goto done;
	}

	const char *type = ecplan_change_new_type(plan, cat);
	const char *params[4] = { seq, type, oid, att };
	if ((rc = ecplan_db_query(&res, conn, PARAMS_SQL, 4, params, err)) < 0)
		goto done;
	if (PQntuples(res) != 1) {
		d->refusal = ecplan_xstrfmt("the identity's sequence %s was not found", seq);
		goto done;
	}
	if (PQgetvalue(res, 0, 1)[0] != 't') {
		d->refusal = ecplan_xstrfmt("an identity column must be smallint, integer or bigint, not %s: keep "
					    "an integer type, or drop the identity first (ALTER COLUMN ... DROP "
					    "IDENTITY) and give the new column a default", type);
		goto done;
	}
	if (PQgetvalue(res, 0, 2)[0] != 't') {
		d->refusal = ecplan_xstrfmt("the identity's sequence %s is AS %s but the column is %s; PostgreSQL "
					    "creates an identity's sequence AS the column's type: make them agree "
					    "first (ALTER SEQUENCE %s AS %s)", seq, PQgetvalue(res, 0, 3),
					    PQgetvalue(res, 0, 11), seq, PQgetvalue(res, 0, 11));
		goto done;
	}
	if (PQgetvalue(res, 0, 12)[0] != 't') {
		d->refusal = ecplan_xstrfmt("the identity's sequence %s is at %s, which %s cannot hold: keep a type "
					    "wide enough for the ids already given", seq, PQgetvalue(res, 0, 13), type);
		goto done;
	}
	d->definition = ecplan_xstrfmt("ecplan.identity_%s", PQgetvalue(res, 0, 0));
	d->extra = ecplan_xstrfmt("INCREMENT BY %s", PQgetvalue(res, 0, 5));
	d->copy_definition = ecplan_xstrfmt(
		"GENERATED %s AS IDENTITY (SEQUENCE NAME %s START WITH %s INCREMENT BY %s MINVALUE %s "
		"MAXVALUE %s CACHE %s %sCYCLE)",
		kind_sql(c->identity), seq, PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6),
		PQgetvalue(res, 0, 7), PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 9)[0] == 't' ? "" : "NO ");
	if (!PQgetisnull(res, 0, 10)) {
		ecplan_dep *cm = item(inv, kind, IDENT_COMMENT, seq, ecplan_xstrfmt("comment on sequence %s", seq));
		cm->comment = ecplan_xstrdup(PQgetvalue(res, 0, 10));
	}
	PQclear(res);
	res = NULL;
	/* The sequence's privileges other than its owner's (the new sequence
	 * has the same owner: an identity's sequence belongs to the table's). */
	const char *sp[1] = { seq };
	if ((rc = ecplan_db_query(
		     &res, conn,
		     "SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,"
		     " x.privilege_type, x.is_grantable"
		     " FROM pg_catalog.pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) x"
		     " LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.grantee"
		     " WHERE c.oid = $1::regclass AND x.grantee <> c.relowner ORDER BY 1, 2",
		     1, sp, err)) < 0)
		goto done;
	for (int i = 0; i < PQntuples(res); i++) {
		bool grantable = PQgetvalue(res, i, 2)[0] == 't';
		ecplan_dep *g = item(inv, kind, IDENT_GRANT, seq,
				     ecplan_xstrfmt("GRANT %s ON SEQUENCE %s TO %s%s", PQgetvalue(res, i, 1), seq,
						    PQgetvalue(res, i, 0), grantable ? " WITH GRANT OPTION" : ""));
		g->extra = ecplan_xstrfmt("%s|%s|%d", PQgetvalue(res, i, 1), PQgetvalue(res, i, 0), grantable);
	}
done:
	PQclear(res);
	free(own);
	return rc;
}

/* CAST('<name>' AS regclass) for a SQL-ready name. */
static void regclass(ecplan_strbuf *sb, const char *name)
{
	ecplan_strbuf_adds(sb, "CAST(");
	ecplan_sql_literal(sb, name);
	ecplan_strbuf_adds(sb, " AS regclass)");
}

/* current_setting(<setting>), part n of "last_value,is_called", as type. */
static void saved(ecplan_strbuf *sb, const char *setting, int n, const char *type)
{
	ecplan_strbuf_adds(sb, "CAST(pg_catalog.split_part(pg_catalog.current_setting(");
	ecplan_sql_literal(sb, setting);
	ecplan_strbuf_addf(sb, "), ',', %d) AS %s)", n, type);
}

static void render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat,
		   const ecplan_dep *d, ecplan_dep_slot slot)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	(void)out;
	(void)cat;
	if (d->number == IDENT_MAIN && slot == ECPLAN_SLOT_CONTRACT_DROP) {
		/* Its own increment again: changes nothing but takes SHARE ROW
		 * EXCLUSIVE on the sequence, which nextval() waits for. */
		ecplan_strbuf_addf(&sb, "ALTER SEQUENCE %s %s", d->name, d->extra);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb),
				     "SHARE ROW EXCLUSIVE on the sequence until commit (no nextval; its value kept)");
		ecplan_strbuf_adds(&sb, "SELECT pg_catalog.set_config(");
		ecplan_sql_literal(&sb, d->definition);
		ecplan_strbuf_addf(&sb, ", last_value::text || ',' || is_called::text, true) FROM %s", d->name);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb),
				     "reads the sequence's value (kept in the transaction; the drop takes the sequence)");
	} else if (d->number == IDENT_MAIN && slot == ECPLAN_SLOT_CONTRACT_AFTER) {
		ecplan_strbuf_adds(&sb, "ALTER TABLE ");
		ecplan_dep_table(&sb, plan);
		ecplan_strbuf_adds(&sb, " ALTER COLUMN ");
		ecplan_sql_ident(&sb, plan->new_column);
		ecplan_strbuf_addf(&sb, " ADD %s", d->copy_definition);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		ecplan_strbuf_adds(&sb, "SELECT pg_catalog.setval(");
		regclass(&sb, d->name);
		ecplan_strbuf_adds(&sb, ", ");
		saved(&sb, d->definition, 1, "bigint");
		ecplan_strbuf_adds(&sb, ", ");
		saved(&sb, d->definition, 2, "boolean");
		ecplan_strbuf_addch(&sb, ')');
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), "the new sequence only (continues where the old one was)");
	} else if (d->number == IDENT_GRANT && slot == ECPLAN_SLOT_CONTRACT_AFTER) {
		/* extra: privilege|grantee (SQL-ready)|grantable */
		char *copy = ecplan_xstrdup(d->extra);
		char *grantee = strchr(copy, '|');
		*grantee++ = '\0';
		char *grantable = strrchr(grantee, '|');
		*grantable++ = '\0';
		ecplan_strbuf_addf(&sb, "GRANT %s ON SEQUENCE %s TO %s%s", copy, d->name, grantee,
				   grantable[0] == '1' ? " WITH GRANT OPTION" : "");
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
		free(copy);
	} else if (d->number == IDENT_COMMENT && slot == ECPLAN_SLOT_CONTRACT_AFTER) {
		ecplan_strbuf_addf(&sb, "COMMENT ON SEQUENCE %s IS ", d->name);
		ecplan_sql_literal(&sb, d->comment);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), ECPLAN_LOCK_HELD);
	}
}

/* The identity item of the catalog's inventory, carried, or NULL. */
static const ecplan_dep *main_item(const ecplan_catalog *cat)
{
	for (size_t i = 0; cat && i < cat->deps.count; i++) {
		const ecplan_dep *d = &cat->deps.items[i];
		if (ecplan_dep_kinds[d->kind] == &ecplan_dep_identity && d->number == IDENT_MAIN && !d->refusal)
			return d;
	}
	return NULL;
}

char *ecplan_dep_identity_trigger_guard(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	if (!main_item(cat) || cat->column.identity != 'a')
		return NULL;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, n = ECPLAN_STRBUF_INIT;
	ecplan_sql_ident(&n, plan->new_column);
	char *ins = ecplan_xstrfmt("cannot insert a non-DEFAULT value into column %s", n.buf);
	char *upd = ecplan_xstrfmt("column %s can only be updated to DEFAULT", n.buf);
	char *detail = ecplan_xstrfmt("Column %s becomes an identity column defined as GENERATED ALWAYS at "
				      "contract (ecplan plan %s); until then the identity of the old column "
				      "generates both.", n.buf, plan->name);
	/* The new column has no default until contract: not NULL means given. */
	ecplan_strbuf_addf(&sb, "  IF TG_OP = 'INSERT' THEN\n    IF NEW.%s IS NOT NULL THEN\n"
			   "      RAISE EXCEPTION USING ERRCODE = '428C9', MESSAGE = ", n.buf);
	ecplan_sql_literal(&sb, ins);
	ecplan_strbuf_adds(&sb, ", DETAIL = ");
	ecplan_sql_literal(&sb, detail);
	ecplan_strbuf_addf(&sb, ";\n    END IF;\n  ELSIF NEW.%s IS DISTINCT FROM OLD.%s THEN\n"
			   "    RAISE EXCEPTION USING ERRCODE = '428C9', MESSAGE = ", n.buf, n.buf);
	ecplan_sql_literal(&sb, upd);
	ecplan_strbuf_adds(&sb, ", DETAIL = ");
	ecplan_sql_literal(&sb, detail);
	ecplan_strbuf_adds(&sb, ";\n  END IF;\n");
	free(ins);
	free(upd);
	free(detail);
	ecplan_strbuf_release(&n);
	return ecplan_strbuf_detach(&sb);
}

const ecplan_dep_kind ecplan_dep_identity = {
	.name = "identity",
	.inventory = inventory,
	.render = render,
	.precheck = NULL,
	.summary = "kept on the old column until contract (the sync trigger copies its ids; for GENERATED "
		   "ALWAYS it refuses values given for the new column); at contract, in the contract "
		   "transaction, the sequence is locked and its value kept, the old column's drop takes it, "
		   "and the new column gets the same identity with the same sequence name and options "
		   "(MINVALUE/MAXVALUE at the old type's bound widened to the new type's) continuing at the "
		   "same value",
};
