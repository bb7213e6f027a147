/*
 * bench_propagation: the C half of tests/bench/propagation.sh (records
 * submitted at one end of a line of daemons; how long each hop takes).
 * It reads the nodes' ledgers read-only:
 *
 *   bench_propagation head NODEDIR ORIGIN
 *       the seq of ORIGIN's head in NODEDIR's ledger (0 if unknown)
 *   bench_propagation report ORIGIN FIRST LAST NODEDIR...
 *       for ORIGIN's records FIRST..LAST (the submitted ones) and the nodes
 *       in line order (the submitting node first): per hop h the time from
 *       its arrival at node h-1 to its arrival at node h (stored_ms), and
 *       the time from its creation to its arrival at node h; p50, p99 and
 *       max of each, then the same over all hops together
 *
 * stored_ms and created_ms are wall-clock milliseconds of one machine, so
 * each figure has 1 ms resolution.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ledger.h"
#include "record.h"
#include "util.h"

#define MAX_NODES 64

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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile of v[0..n) (sorted in place), nearest rank. */
static int64_t quantile(int64_t *v, size_t n, double q)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t k = (size_t)(q * (double)n + 0.999999);
	return v[k == 0 ? 0 : (k > n ? n : k) - 1];
}

static void print_row(const char *what, int64_t *hop, int64_t *cum, size_t n)
{
	int64_t h50 = quantile(hop, n, 0.5), h99 = quantile(hop, n, 0.99);
	int64_t c50 = quantile(cum, n, 0.5), c99 = quantile(cum, n, 0.99);
	printf("%s records=%zu hop_p50_ms=%lld hop_p99_ms=%lld hop_max_ms=%lld "
	       "from_submit_p50_ms=%lld from_submit_p99_ms=%lld\n",
	       what, n, (long long)h50, (long long)h99, (long long)hop[n - 1],
	       (long long)c50, (long long)c99);
}

/* stored_ms of origin/seq at each node, and the record's created_ms. */
static int arrivals(ledger **l, size_t nn, const char *origin, uint64_t seq,
		    int64_t *stored, int64_t *created)
{
	for (size_t i = 0; i < nn; i++) {
		record *r = NULL;
		ledger_meta m;
		ht_err e = {0};
		if (ledger_get_seq(l[i], origin, seq, &r, &m, &e) != 0) {
			fprintf(stderr, "node %zu: seq %llu: %s\n", i,
				(unsigned long long)seq, e.msg);
			return 1;
		}
		stored[i] = m.stored_ms;
		*created = record_header(r)->created_ms;
		record_free(&r);
	}
	return 0;
}

static int cmd_report(const char *origin, uint64_t first, uint64_t last,
		      char **dirs, size_t nn)
{
	ledger *l[MAX_NODES] = {0};
	size_t n = last - first + 1;
	int64_t *hop = calloc(n * nn, sizeof(*hop));
	int64_t *cum = calloc(n * nn, sizeof(*cum));
	int rc = 1;
	if (hop == NULL || cum == NULL)
		goto out;
	for (size_t i = 0; i < nn; i++)
		if ((l[i] = open_node(dirs[i])) == NULL)
			goto out;
	/* hop[h * n + k]: record k's time to reach node h */
	for (size_t k = 0; k < n; k++) {
		int64_t stored[MAX_NODES], created;
		if (arrivals(l, nn, origin, first + k, stored, &created) != 0)
			goto out;
		for (size_t h = 0; h < nn; h++) {
			hop[h * n + k] =
			    stored[h] - (h ? stored[h - 1] : created);
			cum[h * n + k] = stored[h] - created;
		}
	}
	for (size_t h = 0; h < nn; h++) {
		char what[32];
		snprintf(what, sizeof(what), "hop=%zu", h);
		print_row(what, hop + h * n, cum + h * n, n);
	}
	/* all hops between nodes (not the local submit at hop 0) */
	if (nn > 1)
		print_row("hop=all", hop + n, cum + n, n * (nn - 1));
	rc = 0;
out:
	for (size_t i = 0; i < nn; i++)
		ledger_close(&l[i]);
	free(hop);
	free(cum);
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
	if (argc >= 6 && argc - 5 <= MAX_NODES &&
	    strcmp(argv[1], "report") == 0 &&
	    util_parse_u64(argv[3], 1, UINT32_MAX, &first) == 0 &&
	    util_parse_u64(argv[4], first, UINT32_MAX, &last) == 0)
		return cmd_report(argv[2], first, last, argv + 5,
				  (size_t)argc - 5);
	fprintf(stderr, "usage: bench_propagation head NODEDIR ORIGIN\n"
			"       bench_propagation report ORIGIN FIRST LAST "
			"NODEDIR...\n");
	return 2;
}
