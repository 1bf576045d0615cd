/* "Did you mean": edit distance between a mistyped word and the known ones. */
#include "ecplan/suggest.h"

#include <stdbool.h>
#include <string.h>

#define MAXLEN 64

size_t ecplan_suggest_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > MAXLEN)
		n = MAXLEN;
	if (m > MAXLEN)
		m = MAXLEN;
	/* Three rows of the dynamic programme: i-2, i-1, i. */
	size_t rows[3][MAXLEN + 1];
	for (size_t j = 0; j <= m; j++)
		rows[1][j] = j;
	for (size_t i = 1; i <= n; i++) {
		size_t *cur = rows[(i + 1) % 3], *prev = rows[i % 3], *prev2 = rows[(i + 2) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = prev[j] + 1;              /* deletion */
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;          /* insertion */
			if (prev[j - 1] + cost < best)
				best = prev[j - 1] + cost;      /* substitution */
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;        /* transposition */
			cur[j] = best;
		}
	}
	return rows[(n + 1) % 3][m];
}

const char *ecplan_suggest(const char *word, const char *const *candidates)
{
	if (!word || !candidates || !*word)
		return NULL;
	size_t wlen = strlen(word);
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; candidates[i]; i++) {
		const char *c = candidates[i];
		if (!strcmp(c, word))
			continue;
		size_t d = ecplan_suggest_distance(word, c);
		size_t clen = strlen(c), longer = clen > wlen ? clen : wlen;
		int prefix = wlen >= 3 && !strncmp(c, word, wlen);
		if (!prefix && (d > 2 || 2 * d >= longer))
			continue;
		if (prefix)
			d = 0; /* a started word beats a typo */
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	return best;
}
