#ifndef ECPLAN_CATALOG_H
#define ECPLAN_CATALOG_H
/*
 * What ecplan needs to know about the target table, read from the system
 * catalogs in one place. The renderer (render.h) works with or without it:
 * without a catalog it says what it cannot know.
 */
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "ecplan/error.h"
#include "ecplan/inventory.h"
#include "ecplan/plan.h"

typedef struct ecplan_column_info {
	char *name;
	char *type;            /* format_type(atttypid, atttypmod) */
	bool not_null;
	char *default_expr;    /* pg_get_expr of the default, or NULL */
	bool default_volatile; /* the default calls a volatile function (nextval, random) */
	bool generated;        /* a generated column */
	char *comment;         /* col_description, or NULL */
	/* Added fields: */
	int attnum;            /* pg_attribute.attnum */
	char identity;         /* 'a' (ALWAYS), 'd' (BY DEFAULT) or 0; an identity
	                        * column has default_expr NULL but counts as
	                        * default_volatile (it draws from a sequence) */
	char *generation_expr; /* expression of a generated column, or NULL; the
	                        * default_expr of a generated column is NULL */
	char *collation;       /* collation when not the type's default, SQL-ready
	                        * (schema.name, quoted as needed), or NULL */
	bool inherited;        /* attinhcount > 0: comes from a parent table */
	char *owned_sequence;  /* sequence owned by the column (serial, OWNED BY,
	                        * identity), SQL-ready schema.name, or NULL;
	                        * dropping the column drops it */
} ecplan_column_info;

typedef struct ecplan_index_column {
	char *name;      /* column name; NULL for an expression */
	char *opclass;   /* qualified non-default operator class, or NULL */
	char *collation; /* qualified non-default collation, or NULL */
	bool desc;
	bool nulls_first;
	/* Added: the expression of an expression key as pg_get_indexdef prints
	 * it (e.g. "lower(email)": wrap it in parentheses in CREATE INDEX), or
	 * NULL for a plain column. opclass and collation above are SQL-ready:
	 * schema-qualified, each part quoted only if needed (quote_ident), e.g.
	 * pg_catalog.text_pattern_ops, pg_catalog."C"; do not quote them again.
	 * collation is given when it differs from the column's own collation
	 * (for an expression: from its type's default collation). */
	char *expression;
} ecplan_index_column;

typedef struct ecplan_index_info {
	char *name;
	char *method;          /* btree, hash, gin, ... */
	char *definition;      /* pg_get_indexdef, for display */
	bool unique;
	bool primary;
	bool valid;
	bool nulls_not_distinct;
	char *constraint_name; /* constraint the index backs (unique/pk/exclusion), or NULL */
	char constraint_type;  /* 'p', 'u', 'x' or 0 */
	ecplan_index_column *keys;
	size_t nkeys;
	char **include;        /* INCLUDE columns */
	size_t ninclude;
	char *predicate;       /* pg_get_expr of the WHERE clause, or NULL */
	bool uses_column_in_expression; /* old column inside an expression or predicate */
	int carrier;           /* 0, or k: change k-1 of the plan carries it (ecplan_depend_share) */
	/* Added for carrying every property over: */
	bool deferrable, deferred;  /* of the constraint the index backs */
	char *comment;              /* COMMENT ON INDEX, or NULL */
	char *constraint_comment;   /* COMMENT ON CONSTRAINT, or NULL */
	char *reloptions;           /* "fillfactor=70, ..." or NULL */
	char *tablespace;           /* quote_ident'ed, when not the database default, or NULL */
	bool clustered;             /* CLUSTER ON */
	/* On a partitioned table: the index of each partition (in the order of
	 * ecplan_catalog.partitions; NULL where a partition has none). */
	char **partition_indexes;
	size_t npartition_indexes;  /* = npartitions of the catalog */
	bool replident;             /* REPLICA IDENTITY USING INDEX */
} ecplan_index_info;

typedef struct ecplan_catalog {
	int server_version_num;     /* e.g. 150018 */
	bool table_exists;
	unsigned int table_oid;
	char relkind;               /* 'r', 'p', ... */
	bool column_exists;
	ecplan_column_info column;  /* valid when column_exists */
	bool new_column_exists;
	ecplan_column_info new_col; /* valid when new_column_exists */
	bool new_column_is_ours;    /* carries ecplan's comment marker for this plan */
	/* The key the backfill walks: the primary key, else a unique index whose
	 * columns are all NOT NULL (no expressions, no predicate). */
	char **key_columns;
	char **key_types;
	size_t nkey;
	char *key_source;           /* "primary key \"users_pkey\"" or NULL */
	/* Indexes on the old column (as key, INCLUDE, expression or predicate). */
	ecplan_index_info *indexes;
	size_t nindexes;
	/* Things that use the old column and stop the change, one line each,
	 * e.g. "view public.active_users". */
	char **dependents;
	size_t ndependents;
	double reltuples;           /* pg_class.reltuples; -1 when never analyzed */
	long long relation_bytes;   /* pg_relation_size */
	/* Added: CHECK constraints that use the old column; not blockers. One
	 * line each: name (quoted if needed) and pg_get_constraintdef, e.g.
	 * "price_positive CHECK ((price > (0)::numeric))". */
	char **check_constraints;
	size_t nchecks;
	char *key_index;            /* name of the index behind the key, or NULL */
	/* A partitioned table's partitions (relkind 'p'): their names, in the
	 * table's schema, by name; partition_problem says why ecplan cannot
	 * handle them (a partition in another schema, a sub-partitioned or
	 * foreign partition), or is NULL. */
	char **partitions;
	size_t npartitions;
	char *partition_problem;
	/* Every object that depends on or names the old column, carried or
	 * refused (depend.h); empty when the column does not exist. */
	ecplan_inventory deps;
} ecplan_catalog;

/*
 * Reads the catalog for plan's table. A missing table or column is not an
 * error here (the *_exists fields say so; preconditions report it); a
 * database error is. Returns 0 or ECPLAN_ERR; *out owned by the caller.
 *
 * Details of the implementation (catalog.c):
 * - Reads PostgreSQL 11 or later (an older server is ECPLAN_ERR); ecplan itself
 *   supports 13 or later, which the preconditions check (precheck.c).
 * - Names are looked up by value (nspname, relname, attname as query
 *   parameters), never pasted into SQL, so any name works.
 * - table_exists is true for any relation of that name; relkind says what it
 *   is ('r' table, 'p' partitioned table; a 'v' view is not something ecplan
 *   can change). The remaining fields are filled for whatever it is.
 * - default_volatile: the default's node tree calls (funcid/opfuncid) a
 *   function with provolatile = 'v', or the column is an identity column.
 *   Volatile type I/O functions behind a cast (CoerceViaIO) are not seen.
 * - new_column_is_ours: the new column's comment is "ecplan:<plan name>"
 *   followed by ':', a space or nothing.
 * - The key: the primary key, else the first by name of the valid unique
 *   btree indexes with no expressions and no predicate whose key columns
 *   are all NOT NULL. An index is passed over when one of its key columns is
 *   the new column, or the old column of a change (unless it is the primary
 *   key being changed: the backfill then walks the old key, which stays until
 *   contract), or uses
 *   a non-default operator class or collation (a row comparison on the
 *   columns would not follow the index order). nkey is 0 when nothing fits.
 * - indexes: every index whose key or INCLUDE columns, expressions or
 *   predicate use the old column (by indkey, the node trees and pg_depend),
 *   ordered by name. Empty when the old column does not exist.
 * - dependents, one line each, sorted: "view s.v", "materialized view s.v",
 *   "rule r on s.t", "generated column g of s.t", "policy p on s.t",
 *   "partition key of s.t", "column inherited from s.parent",
 *   "foreign key fk on s.other (references this column)",
 *   "foreign key fk on s.t (this column references s.other)", and anything
 *   else with a normal dependency on the column (pg_describe_object text,
 *   e.g. an SQL-standard function body or a publication column list).
 *   Triggers are not examined. Names are quote_ident'ed.
 */
int ecplan_catalog_load(ecplan_catalog **out, PGconn *conn, const ecplan_plan *plan,
			ecplan_error *err);
void ecplan_catalog_free(ecplan_catalog *cat);

/* A session that has held a transaction open too long with a lock on the
 * table: what DDL on the table would queue behind. */
typedef struct ecplan_long_txn {
	int pid;
	char *application_name; /* "" when unset */
	char *state;            /* pg_stat_activity.state, e.g. "idle in transaction"; NULL if hidden */
	double xact_age_s;      /* seconds since xact_start */
	char *query;            /* last query, at most 200 characters; NULL if hidden */
} ecplan_long_txn;

/*
 * Lists the sessions other than conn's own whose transaction began more than
 * max_age_s seconds ago and that hold (or wait for) any lock on schema.table,
 * oldest first. Only locks on the table itself count: not its indexes, not
 * its partitions. Prepared transactions are not listed. Without
 * pg_read_all_stats, other roles' state and query read NULL.
 * On success returns 0 and sets *out (NULL when none; free with
 * ecplan_long_txns_free) and *count. Returns ECPLAN_ERR on a database error.
 */
int ecplan_catalog_long_transactions(ecplan_long_txn **out, size_t *count, PGconn *conn,
				     const char *schema, const char *table, long max_age_s,
				     ecplan_error *err);
void ecplan_long_txns_free(ecplan_long_txn *txns, size_t count);

/* The catalog of every change of a plan: (*out)[i] for ecplan_plan_change(plan, i).
 * On failure the entries loaded so far stay for ecplan_catalogs_free. */
int ecplan_catalog_load_plan(ecplan_catalog ***out, PGconn *conn, const ecplan_plan *plan, ecplan_error *err);
void ecplan_catalogs_free(ecplan_catalog **cats, const ecplan_plan *plan);

#endif
