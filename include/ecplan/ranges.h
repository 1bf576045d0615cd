#ifndef ECPLAN_RANGES_H
#define ECPLAN_RANGES_H
/*
 * Key ranges of a parallel backfill (backfill.workers > 1).
 *
 * The key space the backfill walks is cut into disjoint ranges, each
 * lower < key <= upper (a NULL lower: from the first key; a NULL upper: to
 * the last), compared as rows, (a, b) > ($1, $2), exactly as the batch SQL
 * compares the cursor. Together the ranges of a (plan, step) cover the whole
 * key space without overlap: a split only ever cuts one range in two at a
 * key value inside it. Each range has its own cursor (the last key its
 * batches covered), saved with rows_done in the same transaction as the
 * batch's UPDATE, in ecplan.backfill_ranges (state migration 4), keyed by
 * (plan, step index of the backfill step, range number).
 *
 * Split points come from a sample of the key: TABLESAMPLE SYSTEM over the
 * table (a partitioned table samples every partition), restricted to the
 * range being split, sorted by the key; the points are the sample's
 * quantiles, so each piece holds about the same number of rows whatever the
 * key's distribution. Values travel as text in ecplan's pinned session
 * settings (ecplan_db_value_settings), like the single cursor.
 *
 * Pure parts (no database): ecplan_ranges_pick, ecplan_ranges_apportion and
 * the SQL texts. Every identifier goes through ecplan_sql_ident; every value
 * is a query parameter.
 */
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "ecplan/error.h"

typedef struct ecplan_range {
	int id;              /* range number, unique within its (plan, step) */
	char **lower;        /* nkey values, or NULL: from the first key */
	char **upper;        /* nkey values, or NULL: to the last key */
	char **cursor;       /* nkey values, or NULL: no batch done yet */
	long long rows_done;
	bool done;
	/* for ecplan_ranges_store: not yet in the table / upper changed */
	bool is_new;
	bool upper_changed;
} ecplan_range;

/* A set of ranges; owns every string in it. */
typedef struct ecplan_ranges {
	ecplan_range *items;
	size_t count;
	size_t nkey;
} ecplan_ranges;

void ecplan_ranges_release(ecplan_ranges *rs);
/* Ranges not done. */
size_t ecplan_ranges_unfinished(const ecplan_ranges *rs);
/* Appends a range (values copied; any may be NULL); returns it. */
ecplan_range *ecplan_ranges_add(ecplan_ranges *rs, int id, char *const *lower, char *const *upper,
				char *const *cursor);
/* "(v1, v2)" or "the start"/"the end" for a NULL bound, for messages. Caller frees. */
char *ecplan_ranges_describe(const ecplan_ranges *rs, const ecplan_range *r);

/*
 * Split points for `parts` pieces of a sorted sample of nsample distinct
 * keys: writes the sample indices of at most parts - 1 points, strictly
 * increasing, to out (room for parts - 1) and returns how many. The piece
 * boundaries are the i * nsample / parts quantiles; fewer points come back
 * when the sample is smaller than parts - 1 (none for an empty sample).
 */
size_t ecplan_ranges_pick(size_t nsample, size_t parts, size_t *out);

/*
 * Shares `want` pieces among n ranges whose samples hold sizes[i] keys:
 * every range gets at least 1, the rest go in proportion to the sizes
 * (largest remainder, ties to the lower index), and no range more than
 * sizes[i] + 1 (a sample of s keys gives at most s points). Writes parts[i];
 * their sum is max(n, min(want, sum of (sizes[i] + 1))).
 */
void ecplan_ranges_apportion(const size_t *sizes, size_t n, size_t want, size_t *parts);

/*
 * The sample query: the key columns of schema.table TABLESAMPLE SYSTEM ($1
 * percent), where (key) > ($2..) when has_lower, and (key) <= (..) when
 * has_upper (parameters numbered on), ordered by the key. Caller frees.
 */
char *ecplan_ranges_sample_sql(const char *schema, const char *table, char *const *key, size_t nkey,
			       bool has_lower, bool has_upper);

/*
 * The batch bound of a range: bound_sql (the backfill's bound query, which
 * returns the key of the batch's last row or nothing) kept only when that
 * key is <= the range's upper bound, given as parameters $first_param.. .
 * Nothing back: the range's last batch. Caller frees.
 */
char *ecplan_ranges_clip_sql(const char *bound_sql, char *const *key, size_t nkey, int first_param);

/*
 * The bookkeeping statement of a range's batch, run in the batch's own
 * transaction: the range's cursor (ARRAY[$8..] of nkey values; NULL when
 * !has_cursor), rows_done += $4, done = $5, cursor_settings = $6; and the
 * plan's rows_done += $4, backfill_seconds += $7. Parameters: $1 plan, $2
 * step, $3 range, $4 rows, $5 done, $6 settings, $7 seconds, $8.. the
 * cursor. Touches exactly one row of ecplan.plans when the
 * range exists (PQcmdTuples "1"). Caller frees.
 */
char *ecplan_ranges_save_sql(size_t nkey, bool has_cursor);
#define ECPLAN_RANGES_SAVE_FIXED_PARAMS 7

/* ---- the state table (ecplan.backfill_ranges) ------------------------- */

/*
 * Loads the ranges of (plan, step), in range order; out->count 0 when none.
 * *same_settings says whether every range was written under this session's
 * value settings. Cursors of another key width are refused.
 */
int ecplan_ranges_load(ecplan_ranges *out, bool *same_settings, PGconn *conn, const char *plan,
		       int step, size_t nkey, ecplan_error *err);

/*
 * Cuts unfinished ranges so that at least `want` are unfinished (never more
 * than the sample allows): samples each unfinished range's remaining part
 * (after its cursor) at sample_percent of the table (raised while the
 * sample is thin), shares the pieces among them (ecplan_ranges_apportion)
 * and cuts each at its sample's quantiles. A cut range keeps its id and
 * cursor with a lower upper (upper_changed); the new pieces get fresh ids
 * (is_new). Only reads the database: ecplan_ranges_store writes. *samples
 * (may be NULL) gets the number of sampled keys.
 */
int ecplan_ranges_split(ecplan_ranges *rs, PGconn *conn, const char *schema, const char *table,
			char *const *key, double sample_percent, size_t want, long long *samples,
			ecplan_error *err);

/* Writes new ranges and changed uppers (in the caller's transaction) and
 * clears the marks. */
int ecplan_ranges_store(PGconn *conn, const char *plan, int step, ecplan_ranges *rs, ecplan_error *err);

/* Deletes every range of the plan (all steps). */
int ecplan_ranges_clear(PGconn *conn, const char *plan, ecplan_error *err);

#endif
