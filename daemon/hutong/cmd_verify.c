/*
 * cmd_verify: `hutong verify`, every stored record re-checked offline
 * (core ledger_verify: encoding, id, signature, chain links, arrival log,
 * event log, frontier, receipts, what this node's own receipts committed),
 * and `verify --against PEER`: this node's receipts as a neighbour's copy
 * holds them, against this node's logs (ledger_history_against). Names
 * each problem on stderr; exit 1 if any.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "util.h"

static void verify_problem(void *ctx, const uint8_t *id, const char *region,
			   uint64_t seq, const char *reason)
{
	json_t *list = ctx;
	char hex[CLI_HEX_ID];
	const char *ids = id ? util_hex(id, RECORD_ID_BYTES, hex) : "-";
	json_array_append_new(
	    list, json_pack("{s:s, s:s, s:I, s:s}", "id", ids, "origin", region,
			    "seq", (json_int_t)seq, "problem", reason));
	fprintf(stderr, "BAD %s origin=%s seq=%llu: %s\n", ids, region,
		(unsigned long long)seq, reason);
}

/* A receipt that contradicts the chains: evidence against its signer,
 * shown, not a problem of this node. ctx: {problems, disputes}. */
static void verify_dispute(void *ctx, const ledger_dispute *d)
{
	json_t *list = json_object_get(ctx, "disputes");
	char hex[CLI_HEX_ID];
	util_hex(d->id, RECORD_ID_BYTES, hex);
	json_array_append_new(
	    list, json_pack("{s:s, s:s, s:I, s:s, s:I, s:s}", "signer",
			    d->signer, "receipt", hex, "receipt_seq",
			    (json_int_t)d->signer_seq, "origin", d->origin,
			    "seq", (json_int_t)d->seq, "reason", d->reason));
	fprintf(
	    stderr, "DISPUTE against %s: receipt %s origin=%s seq=%llu: %s\n",
	    d->signer, hex, d->origin, (unsigned long long)d->seq, d->reason);
}

static void verify_problem_of(void *ctx, const uint8_t *id, const char *region,
			      uint64_t seq, const char *reason)
{
	verify_problem(json_object_get(ctx, "problems"), id, region, seq,
		       reason);
}

/* found: {problems, disputes}; freed here. */
static void verify_put(int n, uint64_t count, json_t *found, bool json)
{
	size_t nd = json_array_size(json_object_get(found, "disputes"));
	if (json) {
		cli_put_json(json_pack("{s:b, s:I, s:O, s:O}", "ok", n == 0,
				       "records", (json_int_t)count, "problems",
				       json_object_get(found, "problems"),
				       "disputes",
				       json_object_get(found, "disputes")),
			     true);
	} else {
		printf("%s: %llu records, %d problem%s, %zu dispute%s\n",
		       n ? "FAILED" : "OK", (unsigned long long)count, n,
		       n == 1 ? "" : "s", nd, nd == 1 ? "" : "s");
	}
	json_decref(found);
}

typedef struct verify_args {
	cli_query q;
	const char *against; /* PEER: a node directory or a ledger file */
} verify_args;

static void quiet(void *ctx, const char *line)
{
	(void)ctx;
	(void)line; /* a peer's config need only name its ledger */
}

/* The ledger file of PEER: PEER itself, or the ledger its hutongd.conf
 * names (ledger.db when it has none). */
static int peer_path(const char *peer, char *out, size_t len)
{
	struct stat sb;
	char conf_path[PATH_MAX];
	if (stat(peer, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return snprintf(out, len, "%s", peer) < (int)len ? 0 : -1;
	if (util_path_join(peer, "hutongd.conf", conf_path,
			   sizeof(conf_path)) != 0)
		return -1;
	conf *cf = stat(conf_path, &sb) == 0 ? conf_load(conf_path, quiet, NULL)
					     : NULL;
	int rc = cf ? (snprintf(out, len, "%s", cf->ledger) < (int)len ? 0 : -1)
		    : util_path_join(peer, "ledger.db", out, len);
	conf_free(&cf);
	return rc;
}

/* Problems between l and PEER's copy of our receipts, or an error. */
static int verify_against(ledger *l, const char *peer, json_t *problems,
			  ht_err *err)
{
	char path[PATH_MAX];
	if (peer_path(peer, path, sizeof(path)) != 0)
		return ht_err_set(err, HT_EINVAL, "--against",
				  "%s: path too "
				  "long",
				  peer);
	ledger *p = ledger_open(path, LEDGER_RDONLY, NULL, err);
	if (p == NULL)
		return HT_EIO; /* err names the file and why */
	int n = ledger_read_begin(l, err);
	if (n == 0) {
		if ((n = ledger_read_begin(p, err)) == 0) {
			n = ledger_history_against(l, p, peer, verify_problem,
						   problems, err);
			ledger_read_end(p);
		}
		ledger_read_end(l);
	}
	ledger_close(&p);
	return n;
}

/* 0 when clean, CLI_FAIL when problems were found (each printed). */
static int verify_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const verify_args *a = ctx;
	const cli_query *q = &a->q;
	json_t *found = json_pack("{s:[], s:[]}", "problems", "disputes");
	ledger_set_self(l, c->cf->region);
	int n = a->against
		    ? verify_against(l, a->against,
				     json_object_get(found, "problems"), err)
		    : ledger_verify_ex(l, c->cf->max_clock_skew.ms, false,
				       verify_problem_of, verify_dispute, found,
				       err);
	if (n < 0) {
		json_decref(found);
		return n;
	}
	verify_put(n, ledger_record_count(l), found, q->json);
	return n == 0 ? 0 : CLI_FAIL;
}

static const char verify_help[] =
    "usage: hutong -d NODEDIR verify [--json] [--against PEER]\n\n"
    "Re-checks every stored record offline: envelope encoding, id, "
    "signature with\nits origin's genesis key, chain links and sequence,"
    " the arrival log, the\nevent log, the frontier, and receipts (each "
    "entry against the chain it names,\neach node's receipts never going"
    " back, the receipt index against the receipt\nrecords; this node's "
    "own receipts: the arrival and event log heads they\ncommitted and "
    "every record they cover still held).\n\n--against PEER compares "
    "instead this node's receipts as PEER holds them (PEER:\na "
    "neighbour's node directory or a copy of its ledger.db, read only) "
    "with\nthis node's ledger: the same receipt at each seq, and arrival"
    " and event log\nheads that agree with this node's logs.\n\n"
    "A receipt entry that contradicts the chains held is a dispute "
    "against its\nsigner (see 'hutong audit disputes'): shown, and not a "
    "problem of this node.\nJSON keys: ok, records, problems, disputes.\n\n"
    "Exit 0 when clean; otherwise names each problem and exits 1.\n";

int cmd_verify(cli *c, int argc, char **argv)
{
	verify_args a = {0};
	int rest = 0;
	/* --against is verify's own; the rest are the shared query flags */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--against") == 0 && i + 1 < argc)
			a.against = argv[++i];
		else if (strncmp(argv[i], "--against=", 10) == 0)
			a.against = argv[i] + 10;
		else if (strcmp(argv[i], "--against") == 0)
			return cli_usage(c, "--against: needs PEER (a node "
					    "directory or a ledger file)");
		else
			argv[rest++] = argv[i];
	}
	argv[rest] = NULL;
	int rc = cli_parse_query(c, rest, argv, &a.q, verify_help);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, verify_run, &a);
}
