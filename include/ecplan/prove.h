#ifndef ECPLAN_PROVE_H
#define ECPLAN_PROVE_H
/*
 * Proofs over the whole table, before anything depends on them (the check
 * command only samples rows):
 *   - "up" (and "down", applied to up's result) evaluates without error on
 *     every row; otherwise the first failing row by key, its old value and
 *     the error. Once the sync trigger is in, the application's own INSERTs
 *     and UPDATEs would fail with that error.
 *   - for every unique index that ecplan rebuilds on the new column, up(old)
 *     gives no duplicate; otherwise the first duplicate value and some keys.
 *     The index build would fail on it after the whole backfill.
 * Each runs in a READ ONLY transaction without a statement timeout (a full
 * scan); nothing is written. Expressions that do not compile are left to
 * the "compiles" preconditions.
 */
#include <libpq-fe.h>

#include "ecplan/catalog.h"
#include "ecplan/error.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"
#include "ecplan/precheck.h"

/*
 * Appends the proofs that belong to `phase` to list: up/down before expand
 * and before sync, uniqueness before expand, sync and backfill (the build).
 * A failed proof is a failed item (with the key, value and error in its
 * detail), not an error. Returns 0, or ECPLAN_ERR when the connection is
 * unusable.
 */
int ecplan_prove_precheck(ecplan_checklist *list, PGconn *conn, const ecplan_plan *plan,
			  const ecplan_catalog *cat, ecplan_phase phase, ecplan_error *err);

/*
 * The uniqueness proof for one unique index ix on the old column (the
 * primary key's is the key change's, kind_key.c): appends a failed item with
 * the first duplicate value and some keys when up(old) gives one.
 */
void ecplan_prove_unique(ecplan_checklist *list, PGconn *conn, const ecplan_plan *plan,
			 const ecplan_catalog *cat, const ecplan_index_info *ix);

#endif
