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
#include "ecplan/plan.h"

typedef struct ecplan_column_info {
	char *name;
	char *type;            /* format_type(atttypid, atttypmod) */
	bool not_null;
	char *default_expr;    /* pg_get_expr of the default, or NULL */
	bool default_volatile; /* the default calls a volatile function (nextval, random) */
	bool generated;        /* a generated column */
	char *comment;         /* col_description, or NULL */
} ecplan_column_info;

typedef struct ecplan_index_column {
	char *name;      /* column name; NULL for an expression */
	char *opclass;   /* qualified non-default operator class, or NULL */
	char *collation; /* qualified non-default collation, or NULL */
	bool desc;
	bool nulls_first;
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
} ecplan_catalog;

/*
 * Reads the catalog for plan's table. A missing table or column is not an
 * error here (the *_exists fields say so; preconditions report it); a
 * database error is. Returns 0 or ECPLAN_ERR; *out owned by the caller.
 */
int ecplan_catalog_load(ecplan_catalog **out, PGconn *conn, const ecplan_plan *plan,
			ecplan_error *err);
void ecplan_catalog_free(ecplan_catalog *cat);

#endif
