/*
 * pool: the core's one batch mechanism for work that needs both cores
 * (parsing and Ed25519 checks of a batch of records). A few worker threads
 * wait for a batch; pool_run hands them a pure function over the indices
 * 0..n-1, takes part itself, and returns when every index is done. The
 * function writes its results into the caller's arrays, one slot per
 * index, so no result is shared between threads and the outcome never
 * depends on which thread ran which index.
 *
 * This is the only file pair in the core that knows about threads.
 */
#ifndef HT_POOL_H
#define HT_POOL_H

#include <stddef.h>

typedef struct pool pool;

/* Runs one index of a batch: pure except for its own result slot i. */
typedef void (*pool_fn)(void *ctx, size_t i);

/* A pool of `threads` workers besides the caller's thread. NULL when out
 * of memory. Workers that cannot be started are left out: the pool then
 * has fewer (or none) and pool_run does the rest on the caller's thread. */
pool *pool_new(unsigned threads);

/* Stop and join the workers; accepts NULL and sets *p to NULL. */
void pool_free(pool **p);

/* Run fn(ctx, i) for every i in 0..n-1, each exactly once, on the caller's
 * thread and the pool's workers (which claim indices one at a time, so a
 * worker that starts late takes fewer and never delays the batch), and
 * return once all are done: everything fn wrote is then visible to the
 * caller. p NULL runs the batch on the caller's thread alone. One caller
 * at a time per pool (a pool belongs to one owner, e.g. a node). Returns
 * 0. */
int pool_run(pool *p, size_t n, pool_fn fn, void *ctx);

#endif
