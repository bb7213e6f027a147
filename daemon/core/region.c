/*
 * region: lookups in the generated GB/T 2260 table (scripts/
 * gen_region_table.sh writes it from data/regions.tsv, sorted by code). The
 * table is constant data, so this module has no state.
 */
#include "region.h"

#include <stdlib.h>
#include <string.h>

static int by_code(const void *key, const void *entry)
{
	return strcmp(key, ((const region_entry *)entry)->code);
}

static const region_entry *find(const char *code)
{
	if (code == NULL || strlen(code) != 6)
		return NULL;
	return bsearch(code, region_table, region_table_len,
		       sizeof(region_table[0]), by_code);
}

bool region_known(const char *code) { return find(code) != NULL; }

const char *region_name(const char *code)
{
	const region_entry *e = find(code);
	return e != NULL ? e->name : NULL;
}

bool region_province_known(const char *code)
{
	char prov[7];
	if (code == NULL || strlen(code) < 2)
		return false;
	memcpy(prov, code, 2);
	memcpy(prov + 2, "0000", 5);
	return find(prov) != NULL;
}
