#ifndef ECPLAN_BACKFILL_H
#define ECPLAN_BACKFILL_H

#include <stdbool.h>
/*
 * The pure arithmetic of the backfill: batch size adaptation and throttling.
 * The batch loop itself lives in runner.c.
 */

/*
 * The next batch size: scaled so that a batch takes about target_ms, changing
 * by at most a factor of 2 per batch, and kept within [1, 20 x initial]
 * (at most 1,000,000). target_ms <= 0 disables adaptation (returns current).
 */
long ecplan_backfill_next_size(long current, double elapsed_ms, long target_ms, long initial);

/*
 * How long to sleep after a batch: at least pause_ms, and long enough that
 * rows_done rows over elapsed_s seconds stays at or under max_rps rows per
 * second (0 = unlimited). Returns milliseconds, >= 0.
 */
long ecplan_backfill_throttle_ms(long long rows_done, double elapsed_s, long max_rps,
				 long pause_ms);

/*
 * The rows per second a backfill reaches when its batches run at rate rows/s
 * (time inside batches only), with pause_ms after every batch of batch_size
 * rows and at most max_rps rows/s (0: no limit). *limited (may be NULL) is
 * set when pause_ms or max_rps lower it. Returns rate when it is <= 0.
 */
double ecplan_backfill_effective_rate(double rate, long batch_size, long pause_ms, long max_rps,
				      bool *limited);

/* Rows per second and seconds left; -1 when unknown. */
double ecplan_backfill_rate(long long rows_done, double seconds);
double ecplan_backfill_eta(long long rows_done, long long rows_total, double seconds);

#endif
