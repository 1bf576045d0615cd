#ifndef ECPLAN_PLAN_H
#define ECPLAN_PLAN_H
/*
 * Plan format v1: loading, validation and defaults. Pure: no database.
 *
 * A plan is read from JSON text, checked against the v1 contract (see
 * README.md and plans/schema.json) and turned into an ecplan_plan. Every
 * problem is reported, not just the first: each gets its own ecplan_error in
 * the caller's ecplan_diags, with the JSON path, and the line and column of
 * the offending value (or key) in the source text.
 */
#include <stdbool.h>
#include <stddef.h>

#include "ecplan/error.h"
#include "ecplan/phase.h"

#define ECPLAN_PLAN_FORMAT "ecplan/v1"

typedef struct ecplan_header {
	char *name;
	char *value; /* may contain ${env.X} and ${plan.name}-style references */
} ecplan_header;

typedef struct ecplan_webhook_spec {
	char *name;
	char *url;
	char *method;      /* default "POST" */
	char *body;        /* NULL: the default JSON payload */
	char *secret_env;  /* NULL: unsigned */
	char **events;
	size_t nevents;
	ecplan_header *headers;
	size_t nheaders;
	long timeout_ms;   /* default 5000 */
	int retries;       /* default 3 */
	bool gate;         /* default false */
	bool follow_redirects; /* default false */
	/* Signature schemes sent when secret_env is set ("signature": [...]);
	 * default ECPLAN_SIGNATURE_ECPLAN. */
	unsigned signature;
} ecplan_webhook_spec;

#define ECPLAN_SIGNATURE_ECPLAN (1u << 0)   /* X-Ecplan-Signature (sign.h) */
#define ECPLAN_SIGNATURE_STANDARD (1u << 1) /* Standard Webhooks headers (sign.h) */

typedef struct ecplan_check {
	char *name;
	ecplan_phase before;
	char *sql;         /* a query returning one boolean: true passes */
} ecplan_check;

/* backfill.throttle.pause_during_autovacuum */
typedef enum ecplan_autovacuum_mode {
	ECPLAN_AUTOVACUUM_NEVER = 0,   /* "never" */
	ECPLAN_AUTOVACUUM_WRAPAROUND,  /* "wraparound" (default): anti-wraparound only */
	ECPLAN_AUTOVACUUM_ALWAYS       /* "always": any autovacuum of the table */
} ecplan_autovacuum_mode;

/* backfill.throttle: health signals checked before every batch (throttle.h).
 * A limit of 0 disables its signal. */
typedef struct ecplan_throttle_settings {
	long max_replica_lag_ms;    /* default 10000: replay_lag of any standby */
	long max_replica_lag_bytes; /* default 256 MiB: WAL bytes a standby has not replayed */
	long max_slot_lag_bytes;    /* default 1 GiB: WAL bytes a logical slot has not confirmed */
	ecplan_autovacuum_mode pause_during_autovacuum;
	char *query;                /* NULL: none; true pauses */
	long query_timeout_ms;      /* default 2000 */
	long max_batch_ms_factor;   /* default 10: a batch over factor x target_batch_ms backs off; 0 off */
} ecplan_throttle_settings;

typedef struct ecplan_plan {
	char *source;      /* file name the plan was read from, or "<string>" */
	char *name;
	char *description; /* may be NULL */
	char *schema;      /* default "public" */
	char *table;
	char *column;
	char *new_column;
	char *type;        /* NULL: the old column's type (pure rename) */
	char *up;          /* NULL: default (old column, cast to type) */
	char *down;        /* NULL: default (new column, cast back) */
	bool not_null;
	char *default_expr;/* NULL: none */
	/* change.functions: functions whose bodies name the column, which the
	 * team updates between switch and contract ("schema.name" each). */
	char **functions;
	size_t nfunctions;
	/* change.functions_ignored: functions the scan lists that do not use this
	 * column (they name another table's column of the same name). */
	char **functions_ignored;
	size_t nfunctions_ignored;
	struct {
		long batch_size;          /* default 5000 */
		long target_batch_ms;     /* default 200; 0 disables adaptation */
		long pause_ms;            /* default 0 */
		long max_rows_per_second; /* default 0: unlimited */
		bool disable_triggers;    /* default false: batches run with
					   * session_replication_role = replica */
		long workers;             /* default 1: connections filling disjoint
					   * key ranges at once (ranges.h) */
		ecplan_throttle_settings throttle;
	} backfill;
	struct {
		long lock_timeout_ms;       /* default 1000 */
		long statement_timeout_ms;  /* default 300000 */
		long lock_retries;          /* default 10 */
		long max_transaction_age_s; /* default 60 */
		char *checks_role;          /* checks[].sql run as this role; NULL: ecplan's */
		long max_index_wait_s;      /* default 3600: longest total wait of an index
					     * build or VALIDATE for other sessions */
	} safety;
	struct {
		long min_soak_s; /* default 0 */
		bool archive;    /* default true */
	} contract;
	ecplan_webhook_spec *webhooks;
	size_t nwebhooks;
	ecplan_check *checks;
	size_t nchecks;
	char *canonical;   /* canonical JSON (sorted keys, compact), for hashing */
	char *sha256;      /* hex SHA-256 of canonical */
	/*
	 * Several changes ("changes": [...]). A plan with one change ("change",
	 * or "changes" with one entry) holds it in the fields above and
	 * nchanges is 1, changes NULL. A plan with more holds each in a
	 * sub-plan: changes[i] is a whole ecplan_plan view whose change fields
	 * (schema .. functions_ignored) are its own and whose other fields are
	 * the parent's (shared, not owned; is_sub set). The parent's own change
	 * fields are then NULL, apart from schema/table (the plan's default
	 * table, NULL when the plan gives none). Use ecplan_plan_change().
	 */
	size_t nchanges;
	struct ecplan_plan **changes;
	bool is_sub;
	int change_index;  /* index in the parent's changes (0 for a one-change plan) */
	int table_index;   /* which of the plan's tables (0-based, order of first mention) */
	size_t ntables;    /* how many tables the plan changes */
	char json_path[32]; /* "$.change" or "$.changes[i]": where errors point */
	const struct ecplan_plan *root; /* a sub-plan's parent; NULL otherwise */
} ecplan_plan;

/* The whole plan a change belongs to (plan itself when it is not a sub-plan). */
static inline const ecplan_plan *ecplan_plan_root(const ecplan_plan *plan)
{
	return plan->root ? plan->root : plan;
}

/* Change i (0 <= i < nchanges): plan itself when it has one change. */
const ecplan_plan *ecplan_plan_change(const ecplan_plan *plan, size_t i);
/* The first change on table t (0 <= t < ntables). */
const ecplan_plan *ecplan_plan_table_first(const ecplan_plan *plan, size_t t);
/* The change of the plan (root or sub-plan: the whole plan is searched) of
 * column `column` of table schema.table, or NULL. */
const ecplan_plan *ecplan_plan_find_change(const ecplan_plan *plan, const char *schema, const char *table,
					   const char *column);
/* What webhooks and ${table}, ${column}, ${new_column} name: the tables
 * ("schema.table", once when the plan changes one table, else each change's),
 * the columns or the new columns of every change, ", "-separated. Caller frees. */
typedef enum ecplan_change_field { ECPLAN_FIELD_TABLE, ECPLAN_FIELD_COLUMN, ECPLAN_FIELD_NEW_COLUMN } ecplan_change_field;
char *ecplan_plan_changes_text(const ecplan_plan *plan, ecplan_change_field what);
/* A plan with more than one change is refused by code that handles one
 * ("ecplan verify"): true when it has exactly one. */
static inline bool ecplan_plan_single(const ecplan_plan *plan) { return plan->nchanges <= 1; }

/*
 * Parses and validates plan JSON text. `source` names it in errors (a file
 * name). On success returns 0 and sets *out to a plan the caller frees with
 * ecplan_plan_free(). On failure returns ECPLAN_EINVALID, leaves *out NULL
 * and appends one error per problem to diags (which the caller releases).
 */
int ecplan_plan_parse(ecplan_plan **out, const char *text, size_t len,
		      const char *source, ecplan_diags *diags);

/* The largest plan file ecplan reads; a larger one is refused, never cut. */
#define ECPLAN_PLAN_MAX_FILE_SIZE (16u * 1024 * 1024)

/*
 * Reads a file and parses it. A missing or unreadable file, one that is not
 * a regular file (a directory, a FIFO, a device: refused at once, without
 * waiting for a writer), or one larger than ECPLAN_PLAN_MAX_FILE_SIZE is one
 * error. The whole file is parsed: nothing is ever cut off.
 */
int ecplan_plan_load_file(ecplan_plan **out, const char *path, ecplan_diags *diags);

void ecplan_plan_free(ecplan_plan *plan);

/* The name of a pause_during_autovacuum mode ("never", "wraparound", "always"). */
const char *ecplan_autovacuum_mode_name(ecplan_autovacuum_mode m);

/*
 * True when the JSON path (as in drift details: "$.backfill.pause_ms") is an
 * operational setting, which may change after the plan started: backfill.*,
 * safety.*, webhooks, checks, contract.min_soak_s, description. Every other
 * field defines what the change is, and a change to it is drift.
 */
bool ecplan_plan_path_is_operational(const char *path);

/* True when name is 1-63 chars of [a-z0-9_-]. */
bool ecplan_plan_name_valid(const char *name);

/*
 * The webhooks subscribed to event, in plan order, however many. Returns
 * their number and sets *out to an array of that many pointers into plan
 * (NULL when none), which the caller free()s (not the webhooks).
 */
size_t ecplan_plan_webhooks_for(const ecplan_plan *plan, const char *event,
				const ecplan_webhook_spec ***out);

#endif
