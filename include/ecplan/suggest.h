#ifndef ECPLAN_SUGGEST_H
#define ECPLAN_SUGGEST_H
/*
 * "Did you mean": the closest of a list of known words to a mistyped one.
 * Pure: no allocation, no I/O. Used for commands, flags and plan keys.
 */
#include <stddef.h>

/*
 * Optimal string alignment distance (Levenshtein plus swaps of two adjacent
 * characters), byte-wise and case-sensitive. Strings longer than 64 bytes
 * are compared on their first 64 bytes.
 */
size_t ecplan_suggest_distance(const char *a, const char *b);

/*
 * Returns the candidate closest to `word` (the first of equals), or NULL when
 * none is close enough: the distance must be at most 2 and smaller than
 * half the longer string (so "ab" never suggests "xy"), except that a
 * candidate of which `word` is a prefix (at least 3 characters) always
 * qualifies. `candidates` is NULL-terminated; the pointer returned is one of
 * them (not owned by the caller). NULL word or candidates: NULL.
 */
const char *ecplan_suggest(const char *word, const char *const *candidates);

#endif
