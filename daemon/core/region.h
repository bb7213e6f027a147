/*
 * region: the GB/T 2260 table of administrative division codes, compiled in
 * from data/regions.tsv at build time. It answers whether a six-digit code
 * is known and what it is called. Codes change over time, so an unknown code
 * is for a warning, never a refusal (record_warnings uses it so).
 */
#ifndef HT_REGION_H
#define HT_REGION_H

#include <stdbool.h>
#include <stddef.h>

/* One row of the generated table (region_table.c in the build directory),
 * sorted by code. Read it through the functions below. */
typedef struct region_entry {
	char code[7];
	const char *name;
} region_entry;

extern const region_entry region_table[];
extern const size_t region_table_len;

/* True if code is a six-digit code in the table. */
bool region_known(const char *code);

/* The table's name of code ("南京市"), or NULL if the code is not in it.
 * The string is static. */
const char *region_name(const char *code);

/* True if the first two digits of code name a provincial-level division
 * in the table (code needs only two characters). */
bool region_province_known(const char *code);

#endif
