/* SPDX-License-Identifier: MIT */
/*
 * Contexts: options, pool sets attached to the store, the optimistic
 * decide/commit/retry loop, counters, and the read-only calls (lookups,
 * iteration, statistics). The write calls are in ops.c.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctx_internal.h"

static uint64_t next_random(ipam_ctx *ctx);

static size_t claimset_size(unsigned npools)
{
	return sizeof(struct ipam__claimset) + npools * sizeof(struct ipam__claims);
}

IPAM_EXPORT void ipam_ctx_options_init(ipam_ctx_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->max_attempts = 16;
	o->backoff_base_us = 50;
	o->backoff_max_us = 20000;
}

IPAM_EXPORT int ipam_ctx_new(ipam_ctx **out, ipam_store *store, const ipam_ctx_options *opts)
{
	ipam_ctx *ctx;
	struct timespec ts;
	int r;

	if (!out || !store || !store->ops)
		return ipam__fail(-EINVAL, "ctx", NULL, "a context needs a store");
	*out = NULL;
	if (opts && (opts->size < sizeof(size_t) || opts->size > sizeof(*opts)))
		return ipam__fail(-EINVAL, "options.size", NULL, "set it to sizeof(ipam_ctx_options)");
	ctx = ipam__zalloc(sizeof(*ctx));
	if (!ctx)
		return ipam__fail_code(-ENOMEM);
	ipam_ctx_options_init(&ctx->opt);
	if (opts)
		memcpy(&ctx->opt, opts, opts->size);
	ctx->opt.size = sizeof(ctx->opt);
	if (ctx->opt.max_attempts == 0)
		ctx->opt.max_attempts = 16;
	if (ctx->opt.backoff_max_us < ctx->opt.backoff_base_us)
		ctx->opt.backoff_max_us = ctx->opt.backoff_base_us;
	/* The node goes into every lease this context writes: checked as a
	 * lease's node is (length, no control bytes), once, here. */
	if (ctx->opt.node && (r = ipam__text_check(ctx->opt.node, sizeof(ctx->node), "node", 0)) < 0) {
		ipam__release(ctx, sizeof(*ctx));
		return r;
	}
	if (ctx->opt.node)
		ipam__copy_field(ctx->node, sizeof(ctx->node), ctx->opt.node, "node");
	ctx->opt.node = NULL; /* not kept: the caller's string may go away */
	ctx->store = store;
	pthread_mutex_init(&ctx->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	atomic_store(&ctx->rng, (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)ctx);
	*out = ctx;
	return 0;
}

IPAM_EXPORT ipam_ctx *ipam_ctx_free(ipam_ctx *ctx)
{
	if (!ctx)
		return NULL;
	for (unsigned i = 0; i < atomic_load(&ctx->nsets); i++) {
		struct ipam__set_entry *e = &ctx->sets[i];
		ipam__release(e->claims, claimset_size(e->view->npools));
		pthread_cond_destroy(&e->claim_cond);
		pthread_mutex_destroy(&e->claim_lock);
		ipam__store_detach(ctx->store, e->view);
		ipam_poolset_free(e->set);
	}
	pthread_mutex_destroy(&ctx->lock);
	ipam__release(ctx, sizeof(*ctx));
	return NULL;
}

/* 1 once anything was committed to the view. */
static int view_committed(ipam_view *view)
{
	uint64_t rev;

	ipam__view_rdlock(view);
	rev = ipam_view_revision(view);
	ipam__view_rdunlock(view);
	return rev != 0;
}

IPAM_EXPORT int ipam_ctx_add_poolset(ipam_ctx *ctx, ipam_poolset *set)
{
	ipam_view *view = NULL;
	struct ipam__claimset *claims;
	unsigned n;
	int r;

	if (!ctx || !set)
		return ipam__fail(-EINVAL, "poolset", NULL, "missing argument");
	if (ipam_poolset_count(set) == 0)
		return ipam__fail(-EINVAL, "poolset", ipam_poolset_name(set), "has no pools");
	pthread_mutex_lock(&ctx->lock);
	n = atomic_load(&ctx->nsets);
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(ipam_poolset_name(ctx->sets[i].set), ipam_poolset_name(set)) == 0) {
			pthread_mutex_unlock(&ctx->lock);
			return ipam__fail(-EEXIST, "poolset", ipam_poolset_name(set), "already defined");
		}
	}
	if (n == IPAM__CTX_MAX_SETS) {
		pthread_mutex_unlock(&ctx->lock);
		return ipam__fail(-E2BIG, "poolset", NULL, "at most %d pool sets", IPAM__CTX_MAX_SETS);
	}
	/* The context's own part first: once the store has attached the set
	 * (on the memory store, perhaps taken a new definition), nothing fails. */
	claims = ipam__zalloc(claimset_size(ipam_poolset_count(set)));
	if (!claims) {
		pthread_mutex_unlock(&ctx->lock);
		return ipam__fail_code(-ENOMEM);
	}
	r = ipam__store_attach(ctx->store, set, &view);
	if (r == 0 && view->npools != ipam_poolset_count(set)) {
		r = ipam__fail(-EIO, "store", NULL, "attach returned a view of %u pools for a set of %u",
			       view->npools, ipam_poolset_count(set));
		ipam__store_detach(ctx->store, view);
	}
	if (r < 0) {
		ipam__release(claims, claimset_size(ipam_poolset_count(set)));
		pthread_mutex_unlock(&ctx->lock);
		return r;
	}
	if (ctx->opt.spread && (!ipam__store_direct(ctx->store) || !view_committed(view))) {
		/* A per-client starting point, drawn from this context's seed.
		 * On the memory store only while nothing is committed: its
		 * contexts share the view and its cursor, and a later
		 * context's spread would move the others'. */
		for (unsigned i = 0; i < view->npools; i++) {
			struct ipam__pool_state *ps = &view->pools[i];
			struct ipam__index_counts c;
			uint64_t x = next_random(ctx);
			ipam__view_rdlock(view);
			ipam__index_counts(ps->idx, &c);
			ipam__view_rdunlock(view);
			pthread_mutex_lock(&ps->cursor_lock);
			ps->cursor = c.total ? (((ipam__u128)x << 64) | next_random(ctx)) % c.total : 0;
			pthread_mutex_unlock(&ps->cursor_lock);
		}
	}
	{
		struct ipam__set_entry *en = &ctx->sets[n];
		pthread_condattr_t ca;
		en->claims = claims;
		pthread_mutex_init(&en->claim_lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&en->claim_cond, &ca);
		pthread_condattr_destroy(&ca);
		atomic_init(&en->claims->epoch, 0);
		atomic_init(&en->claims->waiters, 0);
		en->set = set;
		en->view = view;
		atomic_store_explicit(&ctx->nsets, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&ctx->lock);
	return r;
}

static struct ipam__set_entry *find_entry(const ipam_ctx *ctx, const char *name)
{
	unsigned n = atomic_load_explicit(&((ipam_ctx *)ctx)->nsets, memory_order_acquire);

	for (unsigned i = 0; name && i < n; i++)
		if (strcmp(ipam_poolset_name(ctx->sets[i].set), name) == 0)
			return (struct ipam__set_entry *)&ctx->sets[i];
	return NULL;
}

IPAM_EXPORT const ipam_poolset *ipam_ctx_poolset(const ipam_ctx *ctx, const char *name)
{
	struct ipam__set_entry *e = ctx ? find_entry(ctx, name) : NULL;
	return e ? e->set : NULL;
}

struct ipam__set_entry *ipam__ctx_entry(ipam_ctx *ctx, const char *set, int *err)
{
	struct ipam__set_entry *e;
	int r;

	if (!ctx || !set) {
		*err = ipam__fail(-EINVAL, "poolset", NULL, "missing argument");
		return NULL;
	}
	e = find_entry(ctx, set);
	if (!e) {
		*err = ipam__fail(-ENOENT, "poolset", set, "no such pool set");
		return NULL;
	}
	r = ipam__store_refresh(ctx->store, e->view);
	if (r < 0) {
		*err = r;
		return NULL;
	}
	*err = 0;
	return e;
}

int64_t ipam__ctx_now_ms(const ipam_ctx *ctx)
{
	struct timespec ts;

	if (ctx->opt.clock)
		return ctx->opt.clock(ctx->opt.clock_ud);
	/* The coarse clock (one tick, a few ms, behind): lease times are in
	 * seconds and delays in seconds or more, and it costs a quarter of
	 * the precise one (6.6 vs 25.2 ns here), read twice per allocate and
	 * release cycle. */
#ifdef CLOCK_REALTIME_COARSE
	if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0)
		return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

IPAM_EXPORT void ipam_ctx_stats_get(const ipam_ctx *ctx, ipam_ctx_stats *out)
{
	ipam_ctx *c = (ipam_ctx *)ctx;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	out->allocations = atomic_load(&c->allocations);
	out->rebinds = atomic_load(&c->rebinds);
	out->releases = atomic_load(&c->releases);
	out->commits = atomic_load(&c->commits);
	out->conflicts = atomic_load(&c->conflicts);
	out->retries = atomic_load(&c->retries);
	out->exhausted = atomic_load(&c->exhausted);
	out->gave_up = atomic_load(&c->gave_up);
}

/* ---- change sets and the optimistic loop ------------------------------------------- */

void ipam__txnbuf_init(struct ipam__txnbuf *tb)
{
	tb->ops = tb->op_room;
	tb->nops = 0;
	tb->cap_ops = IPAM__TXNBUF_OPS;
	tb->conds = tb->cond_room;
	tb->nconds = 0;
	tb->cap_conds = IPAM__TXNBUF_CONDS;
	tb->pub = tb->pub_room;
	tb->cap_pub = IPAM__TXNBUF_OPS;
	tb->claims = NULL;
	tb->claim_fallback = 0;
	tb->claim_seen = 0;
	tb->store_again = 0;
	tb->no_conds = 0;
}

void ipam__txnbuf_fini(struct ipam__txnbuf *tb)
{
	if (tb->ops != tb->op_room)
		ipam__release(tb->ops, tb->cap_ops * sizeof(*tb->ops));
	if (tb->conds != tb->cond_room)
		ipam__release(tb->conds, tb->cap_conds * sizeof(*tb->conds));
	if (tb->pub != tb->pub_room)
		ipam__release(tb->pub, tb->cap_pub * sizeof(*tb->pub));
	ipam__txnbuf_init(tb);
}

/* Double an array; one still in its room is copied out of it. */
static int grow(void **items, unsigned *cap, size_t size, const void *room)
{
	unsigned ncap = *cap ? *cap * 2 : 4;
	void *n;

	if (*items == room) {
		n = ipam__alloc((size_t)ncap * size);
		if (n)
			memcpy(n, room, (size_t)*cap * size);
	} else {
		n = ipam__resize(*items, (size_t)*cap * size, (size_t)ncap * size);
	}
	if (!n)
		return -ENOMEM;
	*items = n;
	*cap = ncap;
	return 0;
}

struct ipam__dop *ipam__txnbuf_op(struct ipam__txnbuf *tb)
{
	if (tb->nops == tb->cap_ops &&
	    grow((void **)&tb->ops, &tb->cap_ops, sizeof(*tb->ops), tb->op_room) < 0)
		return NULL;
	/* All but the packed attachment, read only when attach_packed is set. */
	memset(&tb->ops[tb->nops], 0, offsetof(struct ipam__dop, bin));
	return &tb->ops[tb->nops++];
}

/* The public form of tb's ops (read lock held: their base records are
 * alive), for a store that takes ipam_txn. */
static int txnbuf_export(struct ipam__txnbuf *tb, const ipam_view *v)
{
	if (tb->cap_pub < tb->cap_ops) {
		ipam_op *n = ipam__alloc((size_t)tb->cap_ops * sizeof(*n));
		if (!n)
			return -ENOMEM;
		if (tb->pub != tb->pub_room)
			ipam__release(tb->pub, tb->cap_pub * sizeof(*tb->pub));
		tb->pub = n;
		tb->cap_pub = tb->cap_ops;
	}
	for (unsigned i = 0; i < tb->nops; i++)
		ipam__dop_export(v, &tb->ops[i], &tb->pub[i]);
	return 0;
}

ipam_cond *ipam__txnbuf_cond(struct ipam__txnbuf *tb)
{
	if (tb->nconds == tb->cap_conds &&
	    grow((void **)&tb->conds, &tb->cap_conds, sizeof(*tb->conds), tb->cond_room) < 0)
		return NULL;
	memset(&tb->conds[tb->nconds], 0, sizeof(*tb->conds));
	return &tb->conds[tb->nconds++];
}

static int cond_pool(struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool)
{
	ipam_cond *c;

	for (unsigned i = 0; i < tb->nconds; i++)
		if (tb->conds[i].kind == IPAM_COND_POOL && tb->conds[i].pool == pool)
			return 0;
	c = ipam__txnbuf_cond(tb);
	if (!c)
		return -ENOMEM;
	c->kind = IPAM_COND_POOL;
	c->pool = pool;
	c->generation = v->pools[pool].version;
	return 0;
}

int ipam__cond_addr_gen(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool,
			const ipam_addr *addr, uint64_t generation)
{
	ipam_cond *c;

	if (tb->no_conds)
		return 0;
	if (ctx->opt.coarse)
		return cond_pool(tb, v, pool);
	c = ipam__txnbuf_cond(tb);
	if (!c)
		return -ENOMEM;
	c->kind = IPAM_COND_ADDR;
	c->pool = pool;
	c->addr = *addr;
	c->generation = generation;
	return 0;
}

int ipam__cond_owner_gen(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v, unsigned pool,
			 const char *owner, const char *ifname, uint64_t generation)
{
	ipam_cond *c;

	if (tb->no_conds)
		return 0;
	if (ctx->opt.coarse)
		return cond_pool(tb, v, pool);
	c = ipam__txnbuf_cond(tb);
	if (!c)
		return -ENOMEM;
	c->kind = IPAM_COND_OWNER;
	c->pool = pool;
	c->owner = owner;
	c->ifname = ifname;
	c->generation = generation;
	return 0;
}

static uint64_t next_random(ipam_ctx *ctx)
{
	uint64_t z = atomic_fetch_add(&ctx->rng, 0x9e3779b97f4a7c15ull) + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Jittered exponential backoff before attempt number `attempt` (>= 1). */
static void backoff(ipam_ctx *ctx, unsigned attempt)
{
	uint64_t cap = ctx->opt.backoff_base_us;
	struct timespec ts;
	uint64_t us;

	for (unsigned i = 1; i < attempt && cap < ctx->opt.backoff_max_us; i++)
		cap *= 2;
	if (cap > ctx->opt.backoff_max_us)
		cap = ctx->opt.backoff_max_us;
	if (cap == 0)
		return;
	us = next_random(ctx) % cap;
	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

_Thread_local int ipam__in_oracle;

/* ---- candidate claims (see ctx_internal.h) ------------------------------------------ */

unsigned ipam__claims_count(const struct ipam__set_entry *e, unsigned pool)
{
	const struct ipam__claims *c = &e->claims->pool[pool];
	unsigned n = 0;

	for (unsigned i = 0; i < c->hwm; i++)
		n += atomic_load_explicit(&c->key[i], memory_order_relaxed) != 0;
	return n;
}

void ipam__claim(struct ipam__set_entry *e, struct ipam__txnbuf *tb, unsigned pool, ipam__u128 v)
{
	struct ipam__claims *c = &e->claims->pool[pool];
	struct ipam__claimlist *l = tb->claims;

	if (!l || l->n == IPAM__TXN_MAX_CLAIMS || pool > UINT16_MAX)
		return;
	for (unsigned i = 0; i < IPAM__CLAIMS_MAX; i++) {
		if (atomic_load_explicit(&c->key[i], memory_order_relaxed) != 0)
			continue;
		/* Only claimers (serialised by cursor_lock) fill slots. */
		atomic_store_explicit(&c->key[i], ipam__claim_key(v), memory_order_release);
		if (i >= c->hwm)
			c->hwm = i + 1;
		l->c[l->n].pool = (uint16_t)pool;
		l->c[l->n].slot = (uint16_t)i;
		l->n++;
		return;
	}
}

int ipam__claims_drop(struct ipam__set_entry *e, struct ipam__txnbuf *tb)
{
	struct ipam__claimlist *l = tb->claims;

	if (!l || l->n == 0)
		return 0;
	for (unsigned i = 0; i < l->n; i++)
		atomic_store_explicit(&e->claims->pool[l->c[i].pool].key[l->c[i].slot], 0,
				      memory_order_release);
	l->n = 0;
	/* Bump, then look for waiters; a waiter registers, then reads the
	 * epoch (both sequentially consistent): one of the two sees the
	 * other, so no wake-up is lost. */
	atomic_fetch_add(&e->claims->epoch, 1);
	if (atomic_load(&e->claims->waiters)) {
		pthread_mutex_lock(&e->claim_lock);
		pthread_cond_broadcast(&e->claim_cond);
		pthread_mutex_unlock(&e->claim_lock);
	}
	return 1;
}

/* Wait until some claims are dropped after `seen`: 1 if they were, 0 if
 * the time ran out (the claims' holder is stalled, descheduled, say). The
 * wait is short, a first backoff step: a commit in flight on the memory
 * store takes microseconds. */
static int wait_claims(ipam_ctx *ctx, struct ipam__set_entry *e, uint64_t seen)
{
	uint64_t us = ctx->opt.backoff_base_us;
	struct timespec ts;
	int woken = 1;

	if (us < 20)
		us = 20;
	if (us > 2000)
		us = 2000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(us * 1000);
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_mutex_lock(&e->claim_lock);
	atomic_fetch_add(&e->claims->waiters, 1);
	while (atomic_load(&e->claims->epoch) == seen && woken)
		woken = pthread_cond_timedwait(&e->claim_cond, &e->claim_lock, &ts) == 0;
	atomic_fetch_sub(&e->claims->waiters, 1);
	woken = atomic_load(&e->claims->epoch) != seen;
	pthread_mutex_unlock(&e->claim_lock);
	return woken;
}

int ipam__scope_fail(const struct ipam__set_entry *e)
{
	return ipam__fail(-ENOTSUP, "scope", ipam_poolset_name(e->set),
			  "the store was opened for one owner and attachment (a file store scope): "
			  "this call needs leases of set %s that were not loaded",
			  ipam_poolset_name(e->set));
}

int ipam__need_whole_view(const struct ipam__set_entry *e)
{
	int partial;

	ipam__view_rdlock(e->view);
	partial = e->view->scope != NULL;
	ipam__view_rdunlock(e->view);
	return partial ? ipam__scope_fail(e) : 0;
}

static int run(ipam_ctx *ctx, struct ipam__set_entry *e, ipam__decide_fn decide, void *arg,
	       struct ipam__txnbuf *tb, uint64_t *rev)
{
	unsigned attempt = 0, waits = 0;
	unsigned long fails;
	enum { FIRST, AFTER_CONFLICT, AFTER_WAIT } redo = FIRST;
	int direct = ipam__store_direct(ctx->store);
	int r;

	*rev = 0;
	if (ipam__in_oracle)
		return ipam__fail(-EDEADLK, "gc", NULL,
				  "a GC oracle may read but not change leases (called from inside one)");
	tb->claims = NULL;
	tb->claim_fallback = 0;
	while (attempt < ctx->opt.max_attempts) {
		ipam_txn txn;
		uint64_t stamp;
		unsigned long misses;
		int64_t now;

		if (redo != FIRST) {
			atomic_fetch_add(&ctx->retries, 1);
			if (redo == AFTER_CONFLICT)
				backoff(ctx, attempt);
			r = ipam__store_refresh(ctx->store, e->view);
			if (r < 0) {
				tb->store_again = r == -EAGAIN; /* the store's, not a conflict */
				return r;
			}
		}
		now = ipam__ctx_now_ms(ctx);
		tb->nops = 0;
		tb->nconds = 0;
		tb->claims = NULL;
		misses = ipam__scope_misses; /* after the refresh: only the decision's */
		ipam__view_rdlock(e->view);
		stamp = e->view->stamp;
		r = decide(ctx, e, arg, tb, now);
		if (r == 0 && tb->nops && !direct)
			r = txnbuf_export(tb, e->view);
		ipam__view_rdunlock(e->view);
		if (ipam__scope_misses != misses) { /* decided on part of the state */
			ipam__claims_drop(e, tb);
			return ipam__scope_fail(e);
		}
		if (r == -EINPROGRESS && !tb->claim_fallback) {
			/* Every candidate is another decider's commit in
			 * flight: let it finish rather than commit a decision
			 * bound to conflict, then decide again. If it does
			 * not finish soon, take a claimed candidate and let
			 * the preconditions arbitrate: no decider ever
			 * blocks behind a stalled one. */
			uint64_t seen = tb->claim_seen + (uint64_t)ipam__claims_drop(e, tb); /* not ours */
			if (!wait_claims(ctx, e, seen) || ++waits >= ctx->opt.max_attempts)
				tb->claim_fallback = 1; /* stop waiting: take a claimed one */
			redo = AFTER_WAIT;
			continue;
		}
		if (r < 0 || tb->nops == 0) {
			ipam__claims_drop(e, tb);
			return r < 0 ? r : 0;
		}
		fails = ipam__fail_count();
		if (direct) {
			r = ipam__store_commit_dops(ctx->store, e->view, tb->ops, tb->nops, tb->conds,
						    tb->nconds, now, stamp, rev);
		} else {
			memset(&txn, 0, sizeof(txn));
			txn.ops = tb->pub;
			txn.nops = tb->nops;
			txn.conds = tb->conds;
			txn.nconds = tb->nconds;
			txn.now_ms = now;
			txn.decided_at = stamp;
			r = ipam__store_commit(ctx->store, e->view, &txn, rev);
		}
		ipam__claims_drop(e, tb);
		if (r == 0) {
			atomic_fetch_add(&ctx->commits, 1);
			return 0;
		}
		if (r != -EAGAIN)
			return r;
		if (ipam__failed_since(fails, -EAGAIN)) {
			/* Recorded by the store: its backend did not answer (an
			 * etcd timeout, say), which deciding again cannot cure;
			 * a conflict is a bare -EAGAIN (<ipam/store.h>). */
			tb->store_again = 1;
			return r;
		}
		atomic_fetch_add(&ctx->conflicts, 1);
		attempt++;
		redo = AFTER_CONFLICT;
	}
	atomic_fetch_add(&ctx->gave_up, 1);
	return ipam__fail(-EAGAIN, "commit", ipam_poolset_name(e->set),
			  "still conflicting after %u attempts; try again later",
			  ctx->opt.max_attempts);
}

/* A failure that recorded nothing (a bare -ENOMEM in a decision, a store
 * that returns only a code) gets its code recorded: never a stale message. */
static int recorded(unsigned long fails, int r)
{
	return r < 0 && !ipam__failed_since(fails, r) ? ipam__fail_code(r) : r;
}

int ipam__ctx_run(ipam_ctx *ctx, struct ipam__set_entry *e, ipam__decide_fn decide, void *arg,
		  struct ipam__txnbuf *tb, uint64_t *rev)
{
	unsigned long fails = ipam__fail_count();

	return recorded(fails, run(ctx, e, decide, arg, tb, rev));
}

int ipam__ctx_commit(ipam_ctx *ctx, struct ipam__set_entry *e, ipam__decide_fn decide, void *arg)
{
	struct ipam__txnbuf tb;
	uint64_t rev;
	int r;

	ipam__txnbuf_init(&tb);
	r = ipam__ctx_run(ctx, e, decide, arg, &tb, &rev);

	ipam__txnbuf_fini(&tb);
	return r;
}

int ipam__ctx_commit_set(ipam_ctx *ctx, const char *set, ipam__decide_fn decide, void *arg)
{
	struct ipam__set_entry *e;
	int r;

	e = ipam__ctx_entry(ctx, set, &r);
	return e ? ipam__ctx_commit(ctx, e, decide, arg) : r;
}

int ipam__ctx_commit_set_inplace(ipam_ctx *ctx, const char *set, ipam__decide_fn decide,
				 void *arg)
{
	struct ipam__set_entry *e;
	struct ipam__txnbuf tb;
	unsigned long fails;
	uint64_t rev;
	int64_t now;
	int r;

	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	/* Coarse mode stands for stores that compare a whole pool's version
	 * at every write (the benchmark's baseline): it keeps the loop. */
	if (!ipam__store_direct(ctx->store) || ctx->opt.coarse || ipam__in_oracle)
		return ipam__ctx_commit(ctx, e, decide, arg);
	ipam__txnbuf_init(&tb);
	tb.no_conds = 1;
	now = ipam__ctx_now_ms(ctx);
	fails = ipam__fail_count();
	ipam_view_lock(e->view);
	r = decide(ctx, e, arg, &tb, now);
	if (r == 0 && tb.nops)
		r = ipam__view_apply_dops(e->view, tb.ops, tb.nops, now, &rev);
	ipam_view_unlock(e->view);
	if (r == 0 && tb.nops)
		atomic_fetch_add(&ctx->commits, 1);
	ipam__txnbuf_fini(&tb);
	return recorded(fails, r);
}

/* ---- reads ------------------------------------------------------------------------ */

IPAM_EXPORT int ipam_lookup_addr(ipam_ctx *ctx, const char *set, const ipam_addr *addr,
				 ipam_lease *out)
{
	struct ipam__set_entry *e;
	const ipam_pool *pool;
	const struct ipam__rec *rec;
	unsigned long misses = ipam__scope_misses;
	int r, pi;

	if (!out)
		return ipam__fail(-EINVAL, "lookup", NULL, "missing argument");
	if ((r = ipam__addr_arg(addr, "address")) < 0)
		return r;
	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	pool = ipam_poolset_find_addr(e->set, addr);
	if (!pool)
		return ipam__fail_addr(-ENOENT, "address", addr, "not handed out by any pool of set %s",
				       set);
	ipam__view_rdlock(e->view);
	pi = ipam__view_pool_index(e->view, ipam_pool_name(pool));
	rec = pi < 0 ? NULL : ipam__view_find_addr(e->view, (unsigned)pi, ipam__addr_value(addr));
	if (rec)
		ipam__rec_export(e->view, rec, ipam_pool_name(pool), out);
	ipam__view_rdunlock(e->view);
	if (ipam__scope_misses != misses)
		return ipam__scope_fail(e);
	return rec ? 0 : ipam__fail_addr(-ENOENT, "address", addr, "no lease in set %s", set);
}

/* Collect records of a chain that match; returns the count found. */
static unsigned collect(const ipam_view *v, struct ipam__rec *r, int link, const char *owner,
			const char *ifname, const char *attachment, ipam_lease *out, unsigned room)
{
	size_t attach_len = attachment ? strlen(attachment) : 0;
	unsigned n = 0;

	for (; r; r = ipam__rec_next(v, r, link)) {
		if (!ipam__state_is_bound(r->state))
			continue;
		if (owner && strcmp(ipam__rec_owner(r), owner) != 0)
			continue;
		if (ifname && strcmp(ipam__rec_ifname(v, r), ifname) != 0)
			continue;
		if (attachment && !ipam__rec_attach_eq(r, attachment, attach_len))
			continue;
		if (n < room)
			ipam__rec_export(v, r, ipam_pool_name(v->pools[r->pool].pool), &out[n]);
		n++;
	}
	return n;
}

IPAM_EXPORT int ipam_lookup_owner(ipam_ctx *ctx, const char *set, const char *owner,
				  const char *ifname, ipam_lease *out, unsigned *n)
{
	struct ipam__set_entry *e;
	unsigned long misses;
	int r;

	if (!owner || !n || (*n && !out))
		return ipam__fail(-EINVAL, "lookup", NULL, "missing argument");
	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	misses = ipam__scope_misses;
	ipam__view_rdlock(e->view);
	*n = collect(e->view, ipam__view_owner_chain(e->view, owner), IPAM__LINK_OWNER, owner,
		     ifname, NULL, out, *n);
	ipam__view_rdunlock(e->view);
	if (ipam__scope_misses != misses) {
		*n = 0;
		return ipam__scope_fail(e);
	}
	return 0;
}

IPAM_EXPORT int ipam_lookup_attachment(ipam_ctx *ctx, const char *set, const char *attachment,
				       ipam_lease *out, unsigned *n)
{
	struct ipam__set_entry *e;
	unsigned long misses;
	int r;

	if (!attachment || !n || (*n && !out))
		return ipam__fail(-EINVAL, "lookup", NULL, "missing argument");
	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	misses = ipam__scope_misses;
	ipam__view_rdlock(e->view);
	*n = collect(e->view, ipam__view_attach_chain(e->view, attachment), IPAM__LINK_ATTACH, NULL,
		     NULL, attachment, out, *n);
	ipam__view_rdunlock(e->view);
	if (ipam__scope_misses != misses) {
		*n = 0;
		return ipam__scope_fail(e);
	}
	return 0;
}

static int filter_match(const ipam_view *v, const struct ipam__rec *r, const ipam_lease_filter *f)
{
	if (!f)
		return 1;
	if (f->pool && strcmp(ipam_pool_name(v->pools[r->pool].pool), f->pool) != 0)
		return 0;
	if (f->owner && strcmp(ipam__rec_owner(r), f->owner) != 0)
		return 0;
	if (f->node && strcmp(ipam__rec_node(v, r), f->node) != 0)
		return 0;
	if (f->states && !(f->states & (1u << r->state)))
		return 0;
	if (f->older_than && ipam__rec_created(r) >= f->older_than)
		return 0;
	return 1;
}

#define FOREACH_BATCH 64

IPAM_EXPORT int ipam_foreach_lease(ipam_ctx *ctx, const char *set, const ipam_lease_filter *filter,
				   int (*cb)(void *ud, const ipam_lease *lease), void *ud)
{
	struct ipam__set_entry *e;
	ipam_lease *batch;
	uint64_t pos = 0; /* hash value the walk resumes at */
	unsigned cap = FOREACH_BATCH;
	int r;

	if (!cb)
		return ipam__fail(-EINVAL, "foreach", NULL, "missing callback");
	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	if ((r = ipam__need_whole_view(e)) < 0)
		return r;
	batch = ipam__calloc(FOREACH_BATCH, sizeof(*batch));
	if (!batch)
		return ipam__fail_code(-ENOMEM);
	/* Walk the address buckets in batches: copies are taken under the
	 * read lock, the callback runs without it. A bucket is never split
	 * between batches, and buckets hold contiguous ranges of hash values
	 * (view.h), so the walk remembers the hash value it stopped at: after
	 * a resize between batches it resumes in the bucket that holds that
	 * value, skipping the records below it. Every record present for the
	 * whole walk is seen exactly once. */
	for (;;) {
		unsigned n = 0;
		ipam__view_rdlock(e->view);
		const struct ipam__chains *t = &e->view->tab[IPAM__LINK_ADDR];
		size_t bucket = ipam__bucket(t, pos);
		int first = 1;
		while (bucket < t->nb) {
			unsigned in_bucket = 0;
			for (const struct ipam__rec *x = ipam__chain_head(e->view, IPAM__LINK_ADDR, bucket); x;
			     x = ipam__rec_next(e->view, x, IPAM__LINK_ADDR))
				in_bucket += filter_match(e->view, x, filter) &&
					     (!first || ipam__view_rec_hash(e->view, x, IPAM__LINK_ADDR) >= pos);
			if (n && n + in_bucket > cap)
				break;
			if (in_bucket > cap) { /* one long chain: make room for all of it */
				ipam_lease *nb = ipam__resize(batch, cap * sizeof(*batch),
							      in_bucket * sizeof(*batch));
				if (!nb) {
					ipam__view_rdunlock(e->view);
					ipam__release(batch, cap * sizeof(*batch));
					return ipam__fail_code(-ENOMEM);
				}
				batch = nb;
				cap = in_bucket;
			}
			for (const struct ipam__rec *x = ipam__chain_head(e->view, IPAM__LINK_ADDR, bucket); x;
			     x = ipam__rec_next(e->view, x, IPAM__LINK_ADDR))
				if (filter_match(e->view, x, filter) &&
				    (!first || ipam__view_rec_hash(e->view, x, IPAM__LINK_ADDR) >= pos))
					ipam__rec_export(e->view, x, ipam_pool_name(e->view->pools[x->pool].pool),
							 &batch[n++]);
			first = 0;
			bucket++;
		}
		/* The first hash value of the next bucket (none after the last). */
		int done = bucket >= t->nb;
		if (!done)
			pos = (uint64_t)bucket << t->shift;
		ipam__view_rdunlock(e->view);
		for (unsigned i = 0; i < n; i++) {
			r = cb(ud, &batch[i]);
			if (r) {
				ipam__release(batch, cap * sizeof(*batch));
				return r;
			}
		}
		if (done)
			break;
	}
	ipam__release(batch, cap * sizeof(*batch));
	return 0;
}

IPAM_EXPORT int ipam_pool_stats_get(ipam_ctx *ctx, const char *set, const char *pool,
				    ipam_pool_stats *out)
{
	struct ipam__set_entry *e;
	struct ipam__index_counts c;
	int r, pi;

	if (!pool || !out)
		return ipam__fail(-EINVAL, "stats", NULL, "missing argument");
	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	pi = ipam__view_pool_index(e->view, pool);
	if (pi < 0)
		return ipam__fail(-ENOENT, "pool", pool, "no such pool in set %s", set);
	ipam__view_rdlock(e->view);
	ipam__index_counts(e->view->pools[pi].idx, &c);
	out->total = ipam__u128_to(c.total);
	out->used = ipam__u128_to(c.used);
	out->quarantined = ipam__u128_to(c.quarantined);
	out->free = ipam__u128_to(c.free);
	out->reserved = e->view->pools[pi].reserved;
	out->version = e->view->pools[pi].version;
	ipam__view_rdunlock(e->view);
	return 0;
}

IPAM_EXPORT int ipam_verify(ipam_ctx *ctx, const char *set)
{
	struct ipam__set_entry *e;
	int r;

	e = ipam__ctx_entry(ctx, set, &r);
	if (!e)
		return r;
	if ((r = ipam__need_whole_view(e)) < 0)
		return r;
	ipam__view_rdlock(e->view);
	r = ipam__view_verify(e->view);
	ipam__view_rdunlock(e->view);
	return r;
}
