/* Backfill arithmetic: adaptive batch size, throttle, rate and ETA. Pure. */
#include "ecplan/backfill.h"

long ecplan_backfill_next_size(long current, double elapsed_ms, long target_ms, long initial)
{
	if (target_ms <= 0 || current < 1)
		return current < 1 ? 1 : current;
	double scale = elapsed_ms > 0 ? (double)target_ms / elapsed_ms : 2.0;
	if (scale > 2.0)
		scale = 2.0;
	if (scale < 0.5)
		scale = 0.5;
	double next = (double)current * scale;
	double max = (double)initial * 20.0;
	if (max > 1000000.0)
		max = 1000000.0;
	if (max < 1.0)
		max = 1.0;
	if (next > max)
		next = max;
	if (next < 1.0)
		next = 1.0;
	return (long)next;
}

long ecplan_backfill_throttle_ms(long long rows_done, double elapsed_s, long max_rps, long pause_ms)
{
	double wait = pause_ms > 0 ? (double)pause_ms : 0.0;
	if (max_rps > 0 && rows_done > 0) {
		double need_s = (double)rows_done / (double)max_rps - elapsed_s;
		if (need_s * 1000.0 > wait)
			wait = need_s * 1000.0;
	}
	return (long)wait;
}

double ecplan_backfill_rate(long long rows_done, double seconds)
{
	if (seconds <= 0 || rows_done <= 0)
		return rows_done == 0 && seconds > 0 ? 0 : -1;
	return (double)rows_done / seconds;
}

double ecplan_backfill_eta(long long rows_done, long long rows_total, double seconds)
{
	double rate = ecplan_backfill_rate(rows_done, seconds);
	if (rows_total < 0 || rate <= 0)
		return -1;
	if (rows_done >= rows_total)
		return 0;
	return (double)(rows_total - rows_done) / rate;
}

double ecplan_backfill_effective_rate(double rate, long batch_size, long pause_ms, long max_rps,
				      bool *limited)
{
	double eff = rate;
	if (limited)
		*limited = false;
	if (rate <= 0)
		return rate;
	if (pause_ms > 0 && batch_size > 0)
		eff = (double)batch_size / ((double)batch_size / rate + (double)pause_ms / 1000.0);
	if (max_rps > 0 && eff > (double)max_rps)
		eff = (double)max_rps;
	if (limited)
		*limited = eff < rate;
	return eff;
}
