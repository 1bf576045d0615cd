#ifndef ECPLAN_BACKFILL_H
#define ECPLAN_BACKFILL_H
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

/* Rows per second and seconds left; -1 when unknown. */
double ecplan_backfill_rate(long long rows_done, double seconds);
double ecplan_backfill_eta(long long rows_done, long long rows_total, double seconds);

#endif
