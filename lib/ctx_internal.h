/* SPDX-License-Identifier: MIT */
#ifndef IPAM_CTX_INTERNAL_H
#define IPAM_CTX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <ipam/ctx.h>

#include "lease/view.h"
#include "store_internal.h"

#define IPAM__CTX_MAX_SETS 64

struct ipam__set_entry {
	ipam_poolset *set;
	ipam_view *view;
};

struct ipam_ctx {
	ipam_store *store;
	ipam_ctx_options opt;
	char node[IPAM_NODE_MAX + 1];
	pthread_mutex_t lock; /* serialises adding sets */
	struct ipam__set_entry sets[IPAM__CTX_MAX_SETS];
	_Atomic unsigned nsets;
	_Atomic uint64_t rng; /* backoff jitter */
	_Atomic uint64_t allocations, rebinds, releases, commits, conflicts, retries, exhausted,
		gave_up;
};

/* The entry of a set by name, refreshed from the store; NULL with -ENOENT
 * recorded if there is none. */
struct ipam__set_entry *ipam__ctx_entry(ipam_ctx *ctx, const char *set, int *err);

int64_t ipam__ctx_now_ms(const ipam_ctx *ctx);

/* A change set being built by a decision. */
struct ipam__txnbuf {
	ipam_op *ops;
	unsigned nops, cap_ops;
	ipam_cond *conds;
	unsigned nconds, cap_conds;
};

void ipam__txnbuf_fini(struct ipam__txnbuf *tb);
/* A new zeroed op / cond at the end; NULL on -ENOMEM. */
ipam_op *ipam__txnbuf_op(struct ipam__txnbuf *tb);
ipam_cond *ipam__txnbuf_cond(struct ipam__txnbuf *tb);

/*
 * The optimistic loop: decide (under the view's read lock) into a fresh
 * txnbuf, commit, and on -EAGAIN refresh, back off and decide again.
 * decide returns 0 (possibly with no ops: nothing to do), or a negative
 * code that ends the loop. On success *rev is the commit's revision (0 if
 * nothing was committed) and tb holds what was committed.
 */
typedef int (*ipam__decide_fn)(ipam_ctx *ctx, struct ipam__set_entry *e, void *arg,
			       struct ipam__txnbuf *tb, int64_t now_ms);
int ipam__ctx_run(ipam_ctx *ctx, struct ipam__set_entry *e, ipam__decide_fn decide, void *arg,
		  struct ipam__txnbuf *tb, uint64_t *rev);

/* ipam__ctx_run() with a change set of its own, for callers that need
 * neither the committed change set nor its revision; the second form
 * first finds (and refreshes) the set by name. */
int ipam__ctx_commit(ipam_ctx *ctx, struct ipam__set_entry *e, ipam__decide_fn decide, void *arg);
int ipam__ctx_commit_set(ipam_ctx *ctx, const char *set, ipam__decide_fn decide, void *arg);

/* Set while a GC oracle runs on this thread: writes are refused. */
extern _Thread_local int ipam__in_oracle;

/* Add an ADDR (or, coarse, POOL) precondition on the record at addr. */
int ipam__cond_addr(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool,
		    const ipam_addr *addr);
/* Add an OWNER (or POOL) precondition on (pool, owner, ifname). */
int ipam__cond_owner(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool,
		     const char *owner, const char *ifname);

#endif /* IPAM_CTX_INTERNAL_H */
