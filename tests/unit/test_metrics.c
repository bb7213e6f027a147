/*
 * test_metrics: the exposition renderer (daemon/ctl/metrics.c) over a
 * plain input: a peer that refuses our records shows in
 * hutong_records_refused_by_peer_total, label values are escaped, the
 * histogram buckets are cumulative and end at +Inf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "metrics.h"

static void test_escape(void)
{
	char out[64];
	CHECK(strcmp(metrics_escape("a\"b\\c\nd", out, sizeof(out)),
		     "a\\\"b\\\\c\\nd") == 0);
}

static void test_render(void)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	ledger *l = ledger_open(path, LEDGER_RDWR, NULL, NULL);
	CHECK(l != NULL);
	status_peer p = {0};
	strcpy(p.name, "hefei");
	p.connected = true;
	p.tx.refused_by_peer = 2;
	p.tx.peer_behind = 5;
	status_links links = {0};
	node_counters c = {0};
	node_hist_add(&c.commit, 300);	    /* 0.0005 bucket */
	node_hist_add(&c.commit, 20000000); /* above 10s */
	metrics_crl crl = {"Root \"A\"", 1800000000000};
	metrics_input in = {.name = "nanjing",
			    .region = "320100",
			    .ledger = l,
			    .peers = &p,
			    .n_peers = 1,
			    .links = &links,
			    .counters = &c,
			    .cert_not_after_ms = 1900000000000,
			    .crls = &crl,
			    .n_crls = 1,
			    .now_ms = 1};
	ht_err err = {0};
	char *t = metrics_render(&in, &err);
	CHECK(t != NULL);
	CHECK(
	    strstr(t, "# TYPE hutong_records_refused_by_peer_total counter\n"));
	CHECK(strstr(
	    t, "hutong_records_refused_by_peer_total{peer=\"hefei\"} 2\n"));
	CHECK(strstr(t, "hutong_peer_behind_records{peer=\"hefei\"} 5\n"));
	CHECK(strstr(t, "hutong_peer_connected{peer=\"hefei\"} 1\n"));
	CHECK(strstr(
	    t, "hutong_commit_duration_seconds_bucket{le=\"0.00025\"} 0\n"));
	CHECK(strstr(
	    t, "hutong_commit_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
	CHECK(
	    strstr(t, "hutong_commit_duration_seconds_bucket{le=\"10\"} 1\n"));
	CHECK(strstr(t,
		     "hutong_commit_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	CHECK(strstr(t, "hutong_commit_duration_seconds_count 2\n"));
	CHECK(strstr(t, "{issuer=\"Root \\\"A\\\"\"} 1800000000\n"));
	CHECK(strstr(
	    t, "hutong_certificate_expiry_timestamp_seconds 1900000000\n"));
	CHECK(strstr(t, "last_seen_age_seconds{") == NULL); /* never seen */
	free(t);
	ledger_close(&l);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_escape();
	test_render();
	return check_done("test_metrics");
}
