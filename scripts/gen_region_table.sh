#!/bin/sh
# Generate the C table behind region_known()/region_name() (daemon/core/
# region.c) from data/regions.tsv, sorted by code for binary search.
#   scripts/gen_region_table.sh data/regions.tsv OUT.c
# CMake runs it at build time; the output lives in the build directory and
# is never committed.
set -eu
tsv=$1
out=$2
tmp="$out.tmp"
{
	cat <<'HEAD'
/* GENERATED from data/regions.tsv by scripts/gen_region_table.sh. */
#include <stddef.h>

#include "region.h"

const region_entry region_table[] = {
HEAD
	grep -v '^#' "$tsv" | LC_ALL=C sort -t '	' -k1,1 | awk -F '\t' '
		NF == 0 { next }
		$1 !~ /^[0-9][0-9][0-9][0-9][0-9][0-9]$/ || NF < 2 ||
		    $2 ~ /["\\]/ {
			printf "bad line: %s\n", $0 > "/dev/stderr"; exit 1
		}
		# a city without counties is listed again as its own county
		$1 == last { next }
		{ printf "\t{\"%s\", \"%s\"},\n", $1, $2; last = $1; n++ }
		END { if (n == 0) { print "no regions" > "/dev/stderr"; exit 1 } }
	'
	cat <<'TAIL'
};

const size_t region_table_len = sizeof(region_table) / sizeof(region_table[0]);
TAIL
} >"$tmp"
mv "$tmp" "$out"
