/* SPDX-License-Identifier: MIT */
#ifndef IPAM_CTX_INTERNAL_H
#define IPAM_CTX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <ipam/ctx.h>

#include "lease/view.h"
#include "store_internal.h"

#define IPAM__CTX_MAX_SETS 64

/*
 * Candidate claims. Deciders of one context share the view's read lock and
 * decide at the same time; without coordination two of them may pick the
 * same free address (when few are free, the next-fit cursor wraps onto an
 * address another decider is about to commit), and one commit then fails
 * its precondition. So every address chosen by an allocation decision is
 * claimed until its commit attempt is over (applied or refused), and the
 * other deciders of the context step over claimed addresses.
 *
 * (The shared next-fit cursor already moves at decision time, so with many
 * free addresses deciders rarely meet; claims cover the rest: a nearly full
 * pool, the lowest and random policies, exact addresses, hints.)
 *
 * Claims only steer choices, they never reserve anything: the address stays
 * free in the index, preconditions (fine or coarse) are unchanged, and a
 * claimed address is still taken when it is the only candidate: after a
 * short wait for the claim's commit to finish, and at once if it does not
 * (see ipam__ctx_run()). A hint (stickiness) is taken even if claimed. An
 * abandoned candidate is thus never lost, nor a pool reported exhausted
 * because of claims. Claims are per context: separate processes or
 * contexts are not coordinated (their preconditions keep them correct).
 */
#define IPAM__CLAIMS_MAX 16 /* per pool; more concurrent deciders just do not claim */

/* Claim slots hold a 64-bit key of the address (0: empty); two addresses
 * with one key only make a decider step over a free one. Slots are filled
 * under the pool's cursor_lock and emptied by their owner without it. */
struct ipam__claims {
	unsigned hwm; /* slots in use are below this (under cursor_lock) */
	_Atomic uint64_t key[IPAM__CLAIMS_MAX];
};

/* Written by every allocation: allocated apart from the read-mostly set
 * entry, so that writes do not evict its cache line from other threads. */
struct ipam__claimset {
	_Atomic uint64_t epoch; /* bumped when claims are dropped */
	_Atomic unsigned waiters;
	/* pool[p] is filled and read under the view's pools[p].cursor_lock,
	 * taken by deciders anyway. */
	struct ipam__claims pool[];
};

struct ipam__set_entry {
	ipam_poolset *set;
	ipam_view *view;
	struct ipam__claimset *claims;
	/* Deciders waiting for claims to go sleep on claim_cond, only
	 * touched when there are some. */
	pthread_mutex_t claim_lock;
	pthread_cond_t claim_cond;
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

#define IPAM__TXN_MAX_CLAIMS 16

/* The claims one decision made (kept by the caller of the loop). */
struct ipam__claimlist {
	unsigned n;
	struct {
		uint16_t pool, slot;
	} c[IPAM__TXN_MAX_CLAIMS];
};

/* A change set being built by a decision. The first few ops and
 * preconditions live in the buffer itself (most change sets: one or two
 * ops, a few preconditions), so a call allocates nothing for them; set it
 * up with ipam__txnbuf_init() (a zeroed one also works, allocating). */
#define IPAM__TXNBUF_OPS 2
#define IPAM__TXNBUF_CONDS 4
struct ipam__txnbuf {
	struct ipam__dop *ops;
	unsigned nops, cap_ops;
	/* The public form of ops, made for a store that is not the memory
	 * store (ipam__ctx_run()). */
	ipam_op *pub;
	unsigned cap_pub;
	ipam_cond *conds;
	unsigned nconds, cap_conds;
	/* Where a decision records its claims (NULL before each decision:
	 * one that claims sets it); ipam__ctx_run() drops them when the
	 * commit attempt is over. */
	struct ipam__claimlist *claims;
	/* Set by ipam__ctx_run(): take a claimed candidate rather than ask to
	 * wait (-EINPROGRESS) when nothing else is left. */
	int claim_fallback;
	uint64_t claim_seen; /* claims->epoch when a decision asked to wait */
	/* Set by ipam__ctx_commit_set_inplace(): the decision is applied under
	 * the same hold of the write lock, so ipam__cond_*_gen() record no
	 * preconditions. */
	int no_conds;
	/* Set by ipam__ctx_run(): the -EAGAIN returned is the store's own
	 * (its backend did not answer), not conflicts that persisted. */
	int store_again;
	struct ipam__dop op_room[IPAM__TXNBUF_OPS];
	ipam_cond cond_room[IPAM__TXNBUF_CONDS];
	ipam_op pub_room[IPAM__TXNBUF_OPS];
};

/* Set up an empty buffer without zeroing its rooms (not a copy: ops and
 * conds may point into the buffer itself). */
void ipam__txnbuf_init(struct ipam__txnbuf *tb);
void ipam__txnbuf_fini(struct ipam__txnbuf *tb);
/* A new zeroed op / cond at the end; NULL on -ENOMEM. */
struct ipam__dop *ipam__txnbuf_op(struct ipam__txnbuf *tb);
ipam_cond *ipam__txnbuf_cond(struct ipam__txnbuf *tb);

/*
 * The optimistic loop: decide (under the view's read lock) into a fresh
 * txnbuf, commit, and on -EAGAIN refresh, back off and decide again.
 * decide returns 0 (possibly with no ops: nothing to do), or a negative
 * code that ends the loop; -EINPROGRESS (only while tb->claim_fallback is
 * 0, with tb->claim_seen set) means every candidate is claimed by another
 * decider's commit in flight: the loop waits for claims to be dropped and
 * decides again, without committing. On success *rev is the commit's revision (0 if
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
/* The same for a decision that only looks records up and changes the ones
 * it finds (release, renew): on the memory store in fine mode it is made
 * and applied under one hold of the write lock, a lookup being all the
 * check such a change needs, so there are no preconditions and no retry;
 * otherwise as ipam__ctx_commit_set(). */
int ipam__ctx_commit_set_inplace(ipam_ctx *ctx, const char *set, ipam__decide_fn decide,
				 void *arg);

/*
 * Claims (the caller holds the pool's cursor_lock): is the address claimed
 * by a decider of this context; how many are; claim it for tb (no-op if tb
 * records no claims or a table is full: claims are advisory).
 */
static inline uint64_t ipam__claim_key(ipam__u128 v)
{
	uint64_t k = (uint64_t)v ^ (uint64_t)(v >> 64);
	return k ? k : 1;
}

static inline int ipam__claimed(const struct ipam__set_entry *e, unsigned pool, ipam__u128 v)
{
	const struct ipam__claims *c = &e->claims->pool[pool];
	uint64_t k = ipam__claim_key(v);

	for (unsigned i = 0; i < c->hwm; i++)
		if (atomic_load_explicit(&c->key[i], memory_order_acquire) == k)
			return 1;
	return 0;
}

unsigned ipam__claims_count(const struct ipam__set_entry *e, unsigned pool);
void ipam__claim(struct ipam__set_entry *e, struct ipam__txnbuf *tb, unsigned pool, ipam__u128 v);
/* Drop tb's claims (no lock needed): its commit attempt is over, or
 * never happened. Wakes deciders waiting for claims to go. Returns how much
 * it moved e->claims->epoch: 1 if tb held claims, else 0. */
int ipam__claims_drop(struct ipam__set_entry *e, struct ipam__txnbuf *tb);

/* Set while a GC oracle runs on this thread: writes are refused. */
extern _Thread_local int ipam__in_oracle;

/* -ENOTSUP for a call a partial view (a scoped file store) cannot answer. */
int ipam__scope_fail(const struct ipam__set_entry *e);
/* 0 if the set's view holds every record, else ipam__scope_fail(). */
int ipam__need_whole_view(const struct ipam__set_entry *e);

/* An ADDR (or, coarse, POOL) precondition on the record at addr, with the
 * generation the decider found there (0: none); and an OWNER (or POOL)
 * precondition on (pool, owner, ifname). */
int ipam__cond_addr_gen(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool,
			const ipam_addr *addr, uint64_t generation);
int ipam__cond_owner_gen(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool,
			 const char *owner, const char *ifname, uint64_t generation);

#endif /* IPAM_CTX_INTERNAL_H */
