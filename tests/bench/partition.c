/*
 * bench_partition: the C half of tests/bench/partition.sh (bytes on the
 * wire while a partition heals, against the size of what was missing).
 * It reads a node's ledger read-only:
 *
 *   bench_partition head NODEDIR ORIGIN
 *       the seq of ORIGIN's head (0 if unknown)
 *   bench_partition bytes NODEDIR ORIGIN FIRST LAST
 *       the summed size of ORIGIN's envelopes FIRST..LAST, as stored (the
 *       bytes a Records frame carries for them, before framing)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ledger.h"
#include "util.h"

static void report_conf(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static ledger *open_node(const char *dir)
{
	char path[PATH_MAX];
	ht_err e = {0};
	conf *cf = NULL;
	ledger *l = NULL;
	if (util_path_join(dir, "hutongd.conf", path, sizeof(path)) == 0 &&
	    (cf = conf_load(path, report_conf, NULL)) != NULL &&
	    (l = ledger_open(cf->ledger, LEDGER_RDONLY, NULL, &e)) == NULL)
		fprintf(stderr, "%s: %s\n", cf->ledger, e.msg);
	conf_free(&cf);
	return l;
}

typedef struct tally {
	uint64_t records, bytes;
} tally;

static int add(void *ctx, const uint8_t *env, size_t len, uint64_t seq)
{
	tally *t = ctx;
	(void)env;
	(void)seq;
	t->records++;
	t->bytes += len;
	return 0;
}

static int cmd_bytes(const char *dir, const char *origin, uint64_t first,
		     uint64_t last)
{
	ledger *l = open_node(dir);
	tally t = {0};
	ht_err e = {0};
	int rc = 1;
	if (l == NULL)
		return 1;
	for (uint64_t seq = first; seq <= last;) {
		uint64_t before = t.records, want = last - seq + 1;
		if (ledger_range(l, origin, seq, want < 4096 ? want : 4096,
				 SIZE_MAX, add, &t, &e) < 0) {
			fprintf(stderr, "%s: %s\n", dir, e.msg);
			goto out;
		}
		if (t.records == before)
			break; /* beyond the head */
		seq += t.records - before;
	}
	printf("records=%llu bytes=%llu\n", (unsigned long long)t.records,
	       (unsigned long long)t.bytes);
	rc = 0;
out:
	ledger_close(&l);
	return rc;
}

static int cmd_head(const char *dir, const char *origin)
{
	ledger *l = open_node(dir);
	if (l == NULL)
		return 1;
	const ledger_origin *o = ledger_origin_find(l, origin);
	printf("%llu\n", o ? (unsigned long long)o->seq : 0ULL);
	ledger_close(&l);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t first, last;
	if (argc == 4 && strcmp(argv[1], "head") == 0)
		return cmd_head(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "bytes") == 0 &&
	    util_parse_u64(argv[4], 1, UINT32_MAX, &first) == 0 &&
	    util_parse_u64(argv[5], first, UINT32_MAX, &last) == 0)
		return cmd_bytes(argv[2], argv[3], first, last);
	fprintf(stderr, "usage: bench_partition head NODEDIR ORIGIN\n"
			"       bench_partition bytes NODEDIR ORIGIN FIRST "
			"LAST\n");
	return 2;
}
