/*
 * sampler: the daemon's audit duties on its loop's timer. Receipts
 * when the policy allows (node_maybe_receipt with the configured
 * receipt_interval), and the links' per-peer counters sampled into the
 * ledger's event log (records sent, connects and disconnects) for
 * `hutong audit peers`. Received, stored and refused records are logged by
 * node_receive itself, in the transaction that stores them.
 */
#ifndef HT_SAMPLER_H
#define HT_SAMPLER_H

#include <stdbool.h>

#include "conf.h"
#include "links.h"
#include "log.h"
#include "node.h"

#define SAMPLER_INTERVAL_MS 5000 /* link counters into the event log */

typedef struct sampler sampler;

/* A sampler that has seen no peer yet; NULL when out of memory. */
sampler *sampler_new(void);

/* Free; accepts NULL and *a == NULL, and sets *a to NULL. */
void sampler_free(sampler **a);

/* Call on every pass of the loop; cheap when nothing is due. Returns true
 * when it stored a record (a receipt), so the caller pumps the links. */
bool sampler_tick(sampler *a, node *n, const links *l, const conf *cf,
		  ht_log *log);

#endif
