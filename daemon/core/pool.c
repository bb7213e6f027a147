/*
 * pool: a few worker threads that share a batch of indices with the
 * caller (see pool.h). A batch is a generation: pool_run publishes fn, ctx
 * and n under the mutex, bumps the generation and wakes the workers; each
 * index is claimed from an atomic counter. When the caller has run out of
 * indices it closes the batch (a worker that wakes after that does not
 * join it) and waits only for the workers that did join, so a worker that
 * the scheduler starts late never delays the caller.
 *
 * The only file in the core that includes pthread.h.
 */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a new batch, or quit */
	pthread_cond_t idle; /* the last worker of a batch finished */
	pthread_t *threads;
	unsigned n_threads; /* started */
	/* the batch, written under mu before gen changes */
	pool_fn fn;
	void *ctx;
	size_t n;
	atomic_size_t next; /* next index to claim */
	unsigned gen;	    /* batches published */
	bool open;	    /* workers may still join the current batch */
	unsigned active;    /* workers in the current batch */
	bool quit;
};

/* Claim and run indices until none is left. */
static void claim_all(pool *p, pool_fn fn, void *ctx, size_t n)
{
	size_t i;
	while ((i = atomic_fetch_add(&p->next, 1)) < n)
		fn(ctx, i);
}

/* Join one open batch (mu held on entry and on return). */
static void worker_batch(pool *p)
{
	pool_fn fn = p->fn;
	void *ctx = p->ctx;
	size_t n = p->n;
	p->active++;
	pthread_mutex_unlock(&p->mu);
	claim_all(p, fn, ctx, n);
	pthread_mutex_lock(&p->mu);
	if (--p->active == 0)
		pthread_cond_signal(&p->idle);
}

static void *worker(void *arg)
{
	pool *p = arg;
	pthread_mutex_lock(&p->mu);
	unsigned seen = p->gen;
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		if (p->open)
			worker_batch(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

pool *pool_new(unsigned threads)
{
	pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->threads = calloc(threads ? threads : 1, sizeof(*p->threads));
	if (p->threads == NULL) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	atomic_init(&p->next, 0);
	while (p->n_threads < threads &&
	       pthread_create(&p->threads[p->n_threads], NULL, worker, p) == 0)
		p->n_threads++;
	return p;
}

void pool_free(pool **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	pool *p = *pp;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p->threads);
	free(p);
	*pp = NULL;
}

int pool_run(pool *p, size_t n, pool_fn fn, void *ctx)
{
	if (p == NULL || p->n_threads == 0 || n < 2) {
		for (size_t i = 0; i < n; i++)
			fn(ctx, i);
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store(&p->next, 0);
	p->gen++;
	p->open = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	claim_all(p, fn, ctx, n);
	pthread_mutex_lock(&p->mu);
	p->open = false;
	while (p->active > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return 0;
}
