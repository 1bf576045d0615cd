/*
 * Retry arithmetic for webhook delivery: full-jitter exponential backoff,
 * the retry classifier and a Retry-After parser. Pure, so the policy can be
 * unit-tested exactly; the clock and the random source come from the caller.
 * HTTP-dates are parsed by hand rather than with strptime() because that
 * depends on the locale and timegm() is not in POSIX.
 */
#include "ecplan/backoff.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

uint64_t ecplan_backoff_splitmix64(void *ctx)
{
	uint64_t *state = ctx;
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

long ecplan_backoff_ceiling_ms(int n, long base_ms, long cap_ms)
{
	long v = base_ms;
	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	if (n < 0)
		n = 0;
	/* Double until the cap is reached; n beyond ~62 cannot matter. */
	for (int i = 0; i < n && v < cap_ms; i++)
		v = v > cap_ms / 2 ? cap_ms : v * 2;
	return v < cap_ms ? v : cap_ms;
}

long ecplan_backoff_delay_ms(int n, long base_ms, long cap_ms,
			     ecplan_rng_fn rng, void *rng_ctx)
{
	long ceiling = ecplan_backoff_ceiling_ms(n, base_ms, cap_ms);
	if (ceiling <= 0 || !rng)
		return ceiling > 0 ? ceiling : 0;
	/* The modulo bias is below 2^-40 for ceilings up to 30 s: irrelevant. */
	return (long)(rng(rng_ctx) % ((uint64_t)ceiling + 1));
}

long ecplan_backoff_next_delay_ms(int n, long retry_after_ms, long base_ms,
				  long cap_ms, ecplan_rng_fn rng, void *rng_ctx)
{
	if (retry_after_ms >= 0) {
		if (cap_ms < 0)
			cap_ms = 0;
		return retry_after_ms < cap_ms ? retry_after_ms : cap_ms;
	}
	return ecplan_backoff_delay_ms(n, base_ms, cap_ms, rng, rng_ctx);
}

bool ecplan_backoff_is_success(long http_status, ecplan_net_class net)
{
	return net == ECPLAN_NET_OK && http_status >= 200 && http_status <= 299;
}

bool ecplan_backoff_should_retry(long http_status, ecplan_net_class net)
{
	switch (net) {
	case ECPLAN_NET_CONNECT:
	case ECPLAN_NET_TIMEOUT:
		return true;
	case ECPLAN_NET_OK:
		return http_status == 408 || http_status == 429 ||
		       (http_status >= 500 && http_status <= 599);
	case ECPLAN_NET_TLS:
	case ECPLAN_NET_OTHER:
	default:
		return false;
	}
}

/* --- HTTP-date ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(long long y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

static int parse_month(const char *s)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (!strncmp(s, names + 3 * i, 3))
			return i + 1;
	return 0;
}

/* Reads exactly `width` digits (or 1..width when width is negative). */
static int read_num(const char **p, int width, long long *out)
{
	int max = width < 0 ? -width : width, n = 0;
	long long v = 0;
	while (n < max && isdigit((unsigned char)(*p)[n])) {
		v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (n == 0 || (width > 0 && n != width))
		return -1;
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n))
		return -1;
	*p += n;
	return 0;
}

/* "HH:MM:SS" */
static int read_time(const char **p, long long *h, long long *mi, long long *s)
{
	if (read_num(p, 2, h) || expect(p, ":") || read_num(p, 2, mi) ||
	    expect(p, ":") || read_num(p, 2, s))
		return -1;
	return *h <= 23 && *mi <= 59 && *s <= 60 ? 0 : -1;
}

static int skip_dayname(const char **p, bool long_form)
{
	static const char *const days[7] = {
		"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
	};
	for (int i = 0; i < 7; i++) {
		size_t n = long_form ? strlen(days[i]) : 3;
		if (!strncmp(*p, days[i], n)) {
			*p += n;
			return 0;
		}
	}
	return -1;
}

int ecplan_backoff_parse_http_date(const char *value, long long *out)
{
	const char *p = value;
	long long day = 0, year = 0, h = 0, mi = 0, s = 0;
	int mon;

	if (!value)
		return -1;
	if (!skip_dayname(&p, false) && *p == ',') {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		p++;
		if (expect(&p, " ") || read_num(&p, 2, &day) || expect(&p, " "))
			return -1;
		if (!(mon = parse_month(p)))
			return -1;
		p += 3;
		if (expect(&p, " ") || read_num(&p, 4, &year) || expect(&p, " ") ||
		    read_time(&p, &h, &mi, &s) || expect(&p, " GMT"))
			return -1;
	} else if (p = value, !skip_dayname(&p, true) && *p == ',') {
		/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
		p++;
		if (expect(&p, " ") || read_num(&p, 2, &day) || expect(&p, "-"))
			return -1;
		if (!(mon = parse_month(p)))
			return -1;
		p += 3;
		if (expect(&p, "-") || read_num(&p, 2, &year) || expect(&p, " ") ||
		    read_time(&p, &h, &mi, &s) || expect(&p, " GMT"))
			return -1;
		year += year < 70 ? 2000 : 1900;
	} else if (p = value, !skip_dayname(&p, false) && *p == ' ') {
		/* asctime: "Sun Nov  6 08:49:37 1994" */
		p++;
		if (!(mon = parse_month(p)))
			return -1;
		p += 3;
		if (expect(&p, " "))
			return -1;
		if (*p == ' ')
			p++;
		if (read_num(&p, -2, &day) || expect(&p, " ") ||
		    read_time(&p, &h, &mi, &s) || expect(&p, " ") ||
		    read_num(&p, 4, &year))
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0' || day < 1 || day > days_in_month(year, mon))
		return -1;
	*out = days_from_civil(year, mon, (int)day) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

long ecplan_backoff_parse_retry_after(const char *value, long long now_s, long cap_ms)
{
	char buf[64];
	size_t len;
	long long when;

	if (!value)
		return -1;
	if (cap_ms < 0)
		cap_ms = 0;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
		       value[len - 1] == '\r' || value[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, value, len);
	buf[len] = '\0';

	if (isdigit((unsigned char)buf[0])) {
		long long secs = 0;
		for (const char *p = buf; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			if (secs <= cap_ms / 1000 + 1)
				secs = secs * 10 + (*p - '0');
		}
		return secs * 1000 < cap_ms ? (long)(secs * 1000) : cap_ms;
	}
	if (ecplan_backoff_parse_http_date(buf, &when))
		return -1;
	if (when <= now_s)
		return 0;
	if (when - now_s > cap_ms / 1000)
		return cap_ms;
	return (long)((when - now_s) * 1000);
}
