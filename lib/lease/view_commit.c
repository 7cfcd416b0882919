/* SPDX-License-Identifier: MIT */
/*
 * Checking and applying change sets to a view. A store calls these with the
 * view's write lock held (ipam_view_commit() does all three steps for a
 * store whose durable state is the view itself: the memory store).
 */
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "lease/view.h"

static int cond_holds(const ipam_view *v, const ipam_cond *c)
{
	const struct ipam__rec *r;

	switch (c->kind) {
	case IPAM_COND_ADDR: {
		ipam__u128 a = ipam__addr_value(&c->addr);
		r = ipam__view_rec_at(v, c->pool, a, ipam__view_hash_addr(v, c->pool, a));
		/* A lease a partial view did not load: its generation is
		 * unknown, so the condition cannot be shown to hold. */
		if (!r && ipam__view_ghost(v, c->pool, a))
			return 0;
		return (r ? r->generation : 0) == c->generation;
	}
	case IPAM_COND_OWNER:
		if (!c->owner || !c->ifname)
			return -EINVAL;
		r = ipam__view_find_bound(v, c->pool, c->owner, c->ifname);
		return (r ? r->generation : 0) == c->generation;
	case IPAM_COND_POOL:
		return v->pools[c->pool].version == c->generation;
	default:
		return -EINVAL;
	}
}

static int allocatable(const struct ipam__pool_state *ps, const ipam_addr *a)
{
	ipam__u128 ord;

	return a->family == ipam_pool_family(ps->pool) && ipam__index_ordinal(ps->idx, a, &ord) == 0;
}

/*
 * What applying a decoded op (a load or a replay, under a definition that
 * may be newer than the op) does with it:
 * OP_APPLY    as given;
 * OP_OFF_POOL its address is not handed out by its pool: a held lease is
 *             set aside (stranded, below), anything else takes out what
 *             was set aside there;
 * OP_DROP     a quarantined record (a wait before reuse, not a lease) in a
 *             pool without a quarantine: applied as a delete, leaving the
 *             address free.
 * A change set of the library's own is always OP_APPLY: op_check() refuses
 * the other two.
 */
enum { OP_APPLY, OP_OFF_POOL, OP_DROP };

static int op_fate(const ipam_view *v, const ipam_op *op)
{
	const struct ipam__pool_state *ps = &v->pools[op->pool];

	if (!allocatable(ps, &op->lease.addr))
		return OP_OFF_POOL;
	if (op->kind == IPAM_OP_PUT && op->lease.state == IPAM_LEASE_QUARANTINED && !ps->quarantine)
		return OP_DROP;
	return OP_APPLY;
}

static int held(unsigned state)
{
	return state == IPAM_LEASE_BOUND || state == IPAM_LEASE_SUSPECT ||
	       state == IPAM_LEASE_RESERVED;
}

/* ---- stranded leases (see struct ipam__stranded) */

static uint32_t strand_bucket(const struct ipam__strandset *t, unsigned pool, const char *gone,
			      size_t gone_len, ipam__u128 a)
{
	uint64_t h = ipam__hash(&a, sizeof(a), pool);

	if (pool == IPAM__POOL_GONE)
		h = ipam__hash(gone, gone_len, h);
	return (uint32_t)(h & (t->cap - 1));
}

static struct ipam__stranded *stranded_find(const ipam_view *v, unsigned pool, const char *gone,
					    size_t gone_len, ipam__u128 a)
{
	const struct ipam__strandset *t = &v->stranded;

	if (!t->n)
		return NULL;
	for (uint32_t i = t->b[strand_bucket(t, pool, gone, gone_len, a)]; i; i = t->e[i - 1].next) {
		struct ipam__stranded *x = &t->e[i - 1];
		if (x->pool == pool && x->addr == a &&
		    (pool != IPAM__POOL_GONE ||
		     (strlen(x->gone) == gone_len && memcmp(x->gone, gone, gone_len) == 0)))
			return x;
	}
	return NULL;
}

/* Room for `more` more entries (as many buckets as entries, a power of
 * two): 0 or -ENOMEM. */
static int stranded_reserve(ipam_view *v, uint32_t more)
{
	struct ipam__strandset *t = &v->stranded;
	struct ipam__stranded *g;
	uint32_t n, *b;

	if (t->n + more <= t->cap)
		return 0;
	if (t->n + more > (1u << 30))
		return -ENOMEM;
	n = t->cap ? 2 * t->cap : 8;
	while (n < t->n + more)
		n *= 2;
	b = ipam__calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	g = ipam__resize(t->e, t->cap * sizeof(*g), n * sizeof(*g));
	if (!g) {
		ipam__release(b, n * sizeof(*b));
		return -ENOMEM;
	}
	ipam__release(t->b, t->cap * sizeof(*t->b));
	t->e = g;
	t->b = b;
	t->cap = n;
	for (uint32_t i = 0; i < t->n; i++) { /* rehash */
		struct ipam__stranded *x = &t->e[i];
		uint32_t k = strand_bucket(t, x->pool, x->gone, strlen(x->gone), x->addr);
		x->next = t->b[k];
		t->b[k] = i + 1;
	}
	return 0;
}

static void put_text(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* A held lease at (pool, address) set aside, replacing what was there
 * (room reserved); gone names the pool when pool is IPAM__POOL_GONE. */
static void strand(ipam_view *v, unsigned pool, const char *gone, size_t gone_len,
		   const ipam_addr *a, const char *owner, size_t owner_len)
{
	struct ipam__strandset *t = &v->stranded;
	ipam__u128 at = ipam__addr_value(a);
	struct ipam__stranded *x = stranded_find(v, pool, gone, gone_len, at);

	if (!x) {
		uint32_t k;
		x = &t->e[t->n++];
		x->pool = pool;
		x->family = a->family;
		x->addr = at;
		x->live = 0;
		put_text(x->gone, sizeof(x->gone), gone ? gone : "", gone ? gone_len : 0);
		k = strand_bucket(t, pool, x->gone, strlen(x->gone), at);
		x->next = t->b[k];
		t->b[k] = t->n;
	}
	if (!x->live)
		t->live++;
	x->live = 1;
	put_text(x->owner, sizeof(x->owner), owner, owner_len);
}

/* Whatever was set aside at (pool, address) is released. */
static void unstrand(ipam_view *v, unsigned pool, const char *gone, size_t gone_len,
		     ipam__u128 a)
{
	struct ipam__stranded *x = stranded_find(v, pool, gone, gone_len, a);

	if (x && x->live) {
		x->live = 0;
		v->stranded.live--;
	}
}

void ipam__view_stranded_clear(ipam_view *v)
{
	struct ipam__strandset *t = &v->stranded;

	if (t->n)
		memset(t->b, 0, t->cap * sizeof(*t->b));
	t->n = t->live = 0;
}

/* strand() with room made first: 0 or -ENOMEM (recorded). */
static int strand_one(ipam_view *v, unsigned pool, const char *gone, size_t gone_len,
		      const ipam_addr *a, const char *owner, size_t owner_len)
{
	int e = stranded_reserve(v, 1);

	if (e < 0)
		return ipam__fail_code(e);
	strand(v, pool, gone, gone_len, a, owner, owner_len);
	return 0;
}

int ipam__view_strand_gone(ipam_view *v, const char *pool, size_t pool_len, const ipam_addr *a,
			   unsigned state, const char *owner, size_t owner_len)
{
	if (held(state))
		return strand_one(v, IPAM__POOL_GONE, pool, pool_len, a, owner, owner_len);
	unstrand(v, IPAM__POOL_GONE, pool, pool_len, ipam__addr_value(a));
	return 0;
}

int ipam__view_stranded(ipam_view *v)
{
	const struct ipam__strandset *t = &v->stranded;
	const struct ipam__stranded *x = NULL;
	ipam_addr a;
	char buf[IPAM_ADDR_STRLEN] = "?";
	int r;

	for (uint32_t i = 0; i < t->n && !x; i++)
		if (t->e[i].live)
			x = &t->e[i];
	if (!x) {
		ipam__view_stranded_clear(v);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.family = x->family;
	ipam__addr_set_value(&a, x->addr);
	ipam_addr_format(&a, buf, sizeof(buf));
	if (x->pool == IPAM__POOL_GONE)
		r = ipam__fail(-EINVAL, "load", buf,
			       "a lease of %s at %s in pool %s, which the pool set no longer "
			       "defines (%u such lease%s)",
			       x->owner, buf, x->gone, t->live, t->live == 1 ? "" : "s");
	else
		r = ipam__fail(-EINVAL, "load", buf,
			       "a lease of %s at %s, which pool %s as now defined does not hand "
			       "out (%u such lease%s)",
			       x->owner, buf, ipam_pool_name(v->pools[x->pool].pool), t->live,
			       t->live == 1 ? "" : "s");
	ipam__view_stranded_clear(v);
	return r;
}

/* Is the op well-formed for this view? `checked`: its lease already
 * passed ipam__lease_check() (decoded from a file). */
static int op_check(const ipam_view *v, const ipam_txn *txn, unsigned i, int checked)
{
	const ipam_op *op = &txn->ops[i];
	const struct ipam__pool_state *ps;
	int r;

	if (op->pool >= v->npools)
		return ipam__fail(-EINVAL, "txn", NULL, "op names pool %u of %u", op->pool, v->npools);
	ps = &v->pools[op->pool];
	if (checked && op_fate(v, op) != OP_APPLY)
		return 0; /* apply_txn() drops it or sets it aside */
	if (!allocatable(ps, &op->lease.addr)) {
		char a[IPAM_ADDR_STRLEN] = "?";
		ipam_addr_format(&op->lease.addr, a, sizeof(a));
		return ipam__fail(-EINVAL, "txn", a, "a lease of %.64s at %s: not allocatable in pool %s",
				  op->lease.owner, a, ipam_pool_name(ps->pool));
	}
	if (op->kind == IPAM_OP_PUT) {
		r = checked ? 0 : ipam__lease_check(&op->lease);
		if (r < 0)
			return r;
		if (op->lease.state == IPAM_LEASE_QUARANTINED && !ps->quarantine)
			return ipam__fail(-EINVAL, "txn", NULL, "pool %s has no quarantine",
					  ipam_pool_name(ps->pool));
		if (ipam__state_is_bound(op->lease.state) &&
		    (!v->scope || ipam__scope_wants_lease(v->scope, &op->lease))) {
			/* One bound lease per (pool, owner, ifname): another one
			 * may stand only if this change set replaces it. (A
			 * partial view has only the scope's: others are not
			 * loaded to be checked.) */
			/* Not counted as a scope miss: a partial view replays
			 * other owners' commits (a check, not a lookup for a
			 * decision; their other leases were never loaded). */
			size_t olen = strlen(op->lease.owner), ilen = strlen(op->lease.ifname);
			const struct ipam__rec *b = ipam__view_find_bound_raw_h(
				v, op->pool, op->lease.owner, olen, op->lease.ifname, ilen,
				ipam__view_hash_owner(v, op->lease.owner, olen));
			ipam__u128 here = ipam__addr_value(&op->lease.addr);
			if (b && !(ipam__rec_addr(b) == here)) {
				int replaced = 0;
				for (unsigned k = 0; k < txn->nops && !replaced; k++)
					replaced = txn->ops[k].pool == op->pool &&
						   ipam__addr_value(&txn->ops[k].lease.addr) == ipam__rec_addr(b) &&
						   (txn->ops[k].kind == IPAM_OP_DELETE ||
						    !ipam__state_is_bound(txn->ops[k].lease.state));
				if (!replaced)
					return ipam__fail(-EINVAL, "txn", op->lease.owner,
							  "the owner already holds a bound lease in pool %s",
							  ipam_pool_name(ps->pool));
			}
			for (unsigned k = 0; k < i; k++) { /* nor two in one change set */
				const ipam_op *o = &txn->ops[k];
				if (o->kind == IPAM_OP_PUT && o->pool == op->pool &&
				    ipam__state_is_bound(o->lease.state) &&
				    strcmp(o->lease.owner, op->lease.owner) == 0 &&
				    strcmp(o->lease.ifname, op->lease.ifname) == 0)
					return ipam__fail(-EINVAL, "txn", op->lease.owner,
							  "two bound leases for one owner in pool %s",
							  ipam_pool_name(ps->pool));
			}
		}
	} else if (op->kind != IPAM_OP_DELETE) {
		return ipam__fail(-EINVAL, "txn", NULL, "unknown op kind %d", (int)op->kind);
	}
	for (unsigned k = 0; k < i; k++)
		if (txn->ops[k].pool == op->pool &&
		    ipam_addr_cmp(&txn->ops[k].lease.addr, &op->lease.addr) == 0)
			return ipam__fail(-EINVAL, "txn", NULL, "two ops on one address");
	return 0;
}

/* 0 if every precondition holds, -EAGAIN if one does not, -EINVAL if one
 * is malformed: for both commit paths. */
static int conds_hold(const ipam_view *v, const ipam_cond *conds, unsigned nconds)
{
	for (unsigned i = 0; i < nconds; i++) {
		int r;
		if (conds[i].pool >= v->npools)
			return ipam__fail(-EINVAL, "txn", NULL, "precondition names pool %u of %u",
					  conds[i].pool, v->npools);
		r = cond_holds(v, &conds[i]);
		if (r < 0)
			return ipam__fail(r, "txn", NULL, "malformed precondition");
		if (!r)
			return -EAGAIN;
	}
	return 0;
}

IPAM_EXPORT int ipam_view_check(const ipam_view *v, const ipam_txn *txn)
{
	int r;

	if (!v || !txn || (txn->nconds && !txn->conds) || (txn->nops && !txn->ops))
		return ipam__fail_code(-EINVAL);
	/* Unless decided on this very state (the preconditions were read
	 * from it), the preconditions first. */
	if ((!txn->decided_at || txn->decided_at != v->stamp) &&
	    (r = conds_hold(v, txn->conds, txn->nconds)) < 0)
		return r;
	/* Then well-formed: a store may write the change set durably right
	 * after this check, and apply must then not refuse it. (After the
	 * preconditions, so a change set overtaken by another commit is a
	 * conflict to retry, not an error.) */
	for (unsigned i = 0; i < txn->nops; i++)
		if ((r = op_check(v, txn, i, 0)) < 0)
			return r;
	return 0;
}

/* Move the index of one address from the old record's state to the new
 * one's (0: no record). Room was reserved, so nothing here fails. */
static void index_transition(const ipam_view *v, struct ipam__pool_state *ps, const ipam_addr *a,
			     unsigned old, unsigned nw, const struct ipam__rec *nr, int64_t now_ms)
{
	if (held(old) && held(nw))
		return;
	if (held(nw)) { /* from free or quarantined */
		ipam__index_acquire(ps->idx, a, now_ms, nw == IPAM_LEASE_BOUND);
		return;
	}
	if (nw == IPAM_LEASE_QUARANTINED) {
		if (!held(old)) {
			if (old == IPAM_LEASE_QUARANTINED ||
			    ipam__index_state(ps->idx, a) == IPAM__ADDR_QUARANTINED)
				return; /* already waiting (or its wait is over) */
			ipam__index_take(ps->idx, a); /* a quarantined record loaded */
		}
		int64_t upd = ipam__rec_updated(nr);
		ipam__index_release(ps->idx, a, ipam__rec_owner_tag(v, nr),
				    old || upd > INT64_MAX / 1000 || upd < INT64_MIN / 1000
					    ? now_ms
					    : ipam__secs_to_ms(upd));
		return;
	}
	/* Deleted. */
	if (held(old) || ipam__index_state(ps->idx, a) != IPAM__ADDR_FREE)
		ipam__index_untake(ps->idx, a);
}

/* Replace the record at an address (old, may be NULL; its chain hashes in
 * ho, 0 where not known) by nr (may be NULL; hashes in h), after the index
 * transition. */
static void swap_records(ipam_view *v, struct ipam__pool_state *ps, struct ipam__rec *old,
			 unsigned old_state, const uint64_t ho[IPAM__NLINKS], struct ipam__rec *nr,
			 const uint64_t h[IPAM__NLINKS], uint64_t rev)
{
	if (old) {
		ipam__view_unlink_h(v, old, ho);
		if (old_state == IPAM_LEASE_RESERVED)
			ps->reserved--;
		ipam__rec_free(v, old);
	}
	if (nr) {
		ipam__view_link_h(v, nr, h);
		if (nr->state == IPAM_LEASE_RESERVED)
			ps->reserved++;
	}
	ps->version = rev;
}

IPAM_EXPORT int ipam_view_apply(ipam_view *v, const ipam_txn *txn, uint64_t rev)
{
	int r;

	if (!v || !txn || (txn->nops && !txn->ops))
		return ipam__fail_code(-EINVAL);
	for (unsigned i = 0; i < txn->nops; i++)
		if ((r = op_check(v, txn, i, 0)) < 0)
			return r;
	return ipam__view_apply_checked(v, txn, rev);
}

static int apply_txn(ipam_view *v, const ipam_txn *txn, uint64_t rev, int decoded);

int ipam__view_apply_decoded(ipam_view *v, const ipam_txn *txn, uint64_t rev)
{
	int r;

	for (unsigned i = 0; i < txn->nops; i++)
		if ((r = op_check(v, txn, i, 1)) < 0)
			return r;
	return apply_txn(v, txn, rev, 1);
}

int ipam__view_apply_checked(ipam_view *v, const ipam_txn *txn, uint64_t rev)
{
	return apply_txn(v, txn, rev, 0);
}

/* decoded: the ops come from a load or a replay (op_fate()); else every
 * op is OP_APPLY. */
static int apply_txn(ipam_view *v, const ipam_txn *txn, uint64_t rev, int decoded)
{
	struct ipam__rec *stack_recs[8], **recs = stack_recs;
	uint8_t stack_fate[8] = { 0 }, *fate = stack_fate;
	unsigned nput = 0, noff = 0;
	int r = 0;

	if (txn->nops > 8) { /* recs, then fate: zeroed, so OP_APPLY */
		recs = ipam__calloc(txn->nops, sizeof(*recs) + 1);
		if (!recs)
			return ipam__fail_code(-ENOMEM);
		fate = (uint8_t *)(recs + txn->nops);
	} else {
		memset(stack_recs, 0, sizeof(stack_recs));
	}
	/* 1. Everything that can fail. */
	for (unsigned i = 0; i < txn->nops && r == 0; i++) {
		const ipam_op *op = &txn->ops[i];
		if (decoded)
			fate[i] = (uint8_t)op_fate(v, op);
		noff += fate[i] == OP_OFF_POOL;
		if (op->kind != IPAM_OP_PUT || fate[i] != OP_APPLY)
			continue;
		/* A partial view replaying another owner's bound lease keeps
		 * only its address (a ghost), as a partial load does. */
		if (v->scope && !ipam__scope_wants_lease(v->scope, &op->lease))
			continue;
		r = ipam__rec_new(v, &recs[i], &op->lease, op->pool);
		if (r == 0) {
			if (!(op->flags & IPAM_OP_F_KEEP_GENERATION))
				recs[i]->generation = rev;
			nput++;
		}
	}
	if (noff && r == 0)
		r = stranded_reserve(v, noff);
	for (int k = 0; k < IPAM__NLINKS && r == 0; k++)
		r = ipam__view_reserve(v, k, nput);
	for (unsigned p = 0; p < v->npools && r == 0; p++) {
		unsigned n = 0;
		for (unsigned i = 0; i < txn->nops; i++)
			n += txn->ops[i].pool == p;
		if (n)
			r = ipam__index_reserve(v->pools[p].idx, 2 * n);
	}
	if (r < 0) {
		for (unsigned i = 0; i < txn->nops; i++)
			ipam__rec_free(v, recs[i]);
		if (recs != stack_recs)
			ipam__release(recs, txn->nops * (sizeof(*recs) + 1));
		return ipam__fail_code(r);
	}
	/* 2. The changes: nothing below can fail. */
	for (unsigned i = 0; i < txn->nops; i++) {
		const ipam_op *op = &txn->ops[i];
		struct ipam__pool_state *ps = &v->pools[op->pool];
		struct ipam__rec *nr = recs[i], *old;
		uint64_t h[IPAM__NLINKS]; /* each hash once, for lookup and links */
		unsigned old_state;
		int drop = fate[i] == OP_DROP; /* then a delete */

		if (fate[i] == OP_OFF_POOL) { /* no record can be there */
			ipam__u128 a = ipam__addr_value(&op->lease.addr);
			if (op->kind == IPAM_OP_PUT && held(op->lease.state))
				strand(v, op->pool, NULL, 0, &op->lease.addr, op->lease.owner,
				       strlen(op->lease.owner));
			else
				unstrand(v, op->pool, NULL, 0, a);
			continue;
		}
		h[IPAM__LINK_ADDR] = ipam__view_hash_addr(v, op->pool, ipam__addr_value(&op->lease.addr));
		old = ipam__view_rec_at(v, op->pool, ipam__addr_value(&op->lease.addr),
					h[IPAM__LINK_ADDR]);
		old_state = old ? old->state : 0;
		if (!old && v->scope && ipam__view_ghost(v, op->pool, ipam__addr_value(&op->lease.addr)))
			old_state = IPAM_LEASE_BOUND; /* a lease not loaded: held */
		if ((op->kind == IPAM_OP_DELETE || drop) && !old &&
		    ipam__index_state(ps->idx, &op->lease.addr) == IPAM__ADDR_FREE)
			continue; /* nothing there (a replayed delete) */
		if (nr) {
			h[IPAM__LINK_OWNER] = ipam__view_rec_hash(v, nr, IPAM__LINK_OWNER);
			h[IPAM__LINK_ATTACH] = ipam__view_rec_hash(v, nr, IPAM__LINK_ATTACH);
		}
		index_transition(v, ps, &op->lease.addr, old_state,
				 nr	? nr->state
				 : op->kind == IPAM_OP_PUT && !drop ? (unsigned)op->lease.state
								    : 0,
				 nr, txn->now_ms);
		{
			const uint64_t ho[IPAM__NLINKS] = { h[IPAM__LINK_ADDR], 0, 0 };
			swap_records(v, ps, old, old_state, ho, nr, h, rev);
		}
	}
	if (rev > v->revision)
		v->revision = rev;
	ipam__view_touch(v);
	if (recs != stack_recs)
		ipam__release(recs, txn->nops * (sizeof(*recs) + 1));
	return 0;
}

/* ---- the library's own change sets, on the memory store ---------------------------------- */

static int dops_apply(ipam_view *v, const struct ipam__dop *ops, unsigned nops, int64_t now_ms,
		      uint64_t rev)
{
	struct ipam__rec *stack_recs[8], **recs = stack_recs;
	unsigned nput = 0;
	int r = 0;

	if (nops > 8) {
		recs = ipam__calloc(nops, sizeof(*recs));
		if (!recs)
			return ipam__fail_code(-ENOMEM);
	}
	/* 1. Everything that can fail. */
	for (unsigned i = 0; i < nops; i++) {
		recs[i] = NULL;
		if (ops[i].kind == IPAM_OP_PUT && r == 0 && (r = ipam__rec_new_dop(v, &recs[i], &ops[i])) == 0) {
			recs[i]->generation = rev;
			nput++;
		}
	}
	for (int k = 0; k < IPAM__NLINKS && r == 0; k++)
		r = ipam__view_reserve(v, k, nput);
	/* Room for every op in each pool touched (more than one pool needs:
	 * reserving is idempotent, and change sets are small). */
	for (unsigned i = 0; i < nops && r == 0; i++)
		r = ipam__index_reserve(v->pools[ops[i].pool].idx, 2 * (size_t)nops);
	if (r < 0) {
		for (unsigned i = 0; i < nops; i++)
			ipam__rec_free(v, recs[i]);
		if (recs != stack_recs)
			ipam__release(recs, nops * sizeof(*recs));
		return ipam__fail_code(r);
	}
	/* 2. The changes: nothing below can fail. */
	for (unsigned i = 0; i < nops; i++) {
		const struct ipam__dop *op = &ops[i];
		struct ipam__pool_state *ps = &v->pools[op->pool];
		struct ipam__rec *nr = recs[i], *old;
		uint64_t h[IPAM__NLINKS];
		ipam_addr a = { 0, 0, ipam_pool_family(ps->pool) };
		unsigned old_state;

		ipam__addr_set_value(&a, op->addr);
		h[IPAM__LINK_ADDR] = ipam__view_hash_addr(v, op->pool, op->addr);
		old = ipam__view_rec_at(v, op->pool, op->addr, h[IPAM__LINK_ADDR]);
		old_state = old ? old->state : 0;
		if (op->kind == IPAM_OP_DELETE && !old)
			continue;
		if (nr) {
			h[IPAM__LINK_OWNER] = op->h_owner ? op->h_owner
							  : ipam__view_rec_hash(v, nr, IPAM__LINK_OWNER);
			h[IPAM__LINK_ATTACH] = op->h_attach ? op->h_attach
							    : ipam__view_rec_hash(v, nr, IPAM__LINK_ATTACH);
		}
		index_transition(v, ps, &a, old_state, nr ? nr->state : 0, nr, now_ms);
		/* The hashes the decision found for base, if old is it. */
		uint64_t ho[IPAM__NLINKS] = { h[IPAM__LINK_ADDR], 0, 0 };
		if (old && old == op->base) {
			ho[IPAM__LINK_OWNER] = op->hb_owner;
			ho[IPAM__LINK_ATTACH] = op->hb_attach;
		}
		swap_records(v, ps, old, old_state, ho, nr, h, rev);
	}
	v->revision = rev;
	ipam__view_touch(v);
	if (recs != stack_recs)
		ipam__release(recs, nops * sizeof(*recs));
	return 0;
}

int ipam__view_commit_dops(ipam_view *v, const struct ipam__dop *ops, unsigned nops,
			   const ipam_cond *conds, unsigned nconds, int64_t now_ms,
			   uint64_t decided_at, uint64_t *rev)
{
	int r = 0;

	ipam_view_lock(v);
	/* Decided on this very state: the preconditions were read from it
	 * (and every base record is the one at its address). Else they are
	 * checked; one holding pins the record at its address (its
	 * generation, or in coarse mode its pool's version, is unchanged), so
	 * a base read by the decision is still that record. That a base is
	 * still linked at its address is checked too, by pointer, before it
	 * is read: a record given the same generation by other means (a
	 * txn keeping generations) must not leave a freed one to be read. */
	if (!decided_at || decided_at != v->stamp) {
		r = conds_hold(v, conds, nconds);
		for (unsigned i = 0; i < nops && r == 0; i++)
			if (ops[i].base &&
			    ipam__view_rec_at(v, ops[i].pool, ops[i].addr,
					      ipam__view_hash_addr(v, ops[i].pool, ops[i].addr)) !=
				    ops[i].base)
				r = -EAGAIN;
	}
	if (r == 0)
		r = ipam__view_apply_dops(v, ops, nops, now_ms, rev);
	ipam_view_unlock(v);
	return r;
}

int ipam__view_apply_dops(ipam_view *v, const struct ipam__dop *ops, unsigned nops,
			  int64_t now_ms, uint64_t *rev)
{
	int r = dops_apply(v, ops, nops, now_ms, v->revision + 1);

	if (r == 0)
		*rev = v->revision;
	return r;
}

IPAM_EXPORT int ipam_view_commit(ipam_view *v, const ipam_txn *txn, uint64_t *rev)
{
	int r;

	if (!v || !txn)
		return ipam__fail_code(-EINVAL);
	ipam_view_lock(v);
	r = ipam_view_check(v, txn); /* preconditions and well-formedness */
	if (r == 0)
		r = ipam__view_apply_checked(v, txn, v->revision + 1);
	if (r == 0 && rev)
		*rev = v->revision;
	ipam_view_unlock(v);
	return r;
}

/*
 * Loading a snapshot: one record at a time, with the write lock held by
 * the caller for the whole load and the record already validated by the
 * decoder. The same effect as a one-op apply with the generation kept,
 * without building a change set or an ipam_lease: the load is on the path
 * of every process that opens a file store (a CNI plugin: every call).
 */
static int load_ref_h(ipam_view *v, const struct ipam__lease_ref *l, unsigned pool, uint64_t rev,
		      const uint64_t h[IPAM__NLINKS], const uint8_t *packed)
{
	struct ipam__pool_state *ps;
	struct ipam__rec *r;
	int e, fits;

	if (pool >= v->npools)
		return ipam__fail(-EINVAL, "load", NULL, "pool %u of %u", pool, v->npools);
	ps = &v->pools[pool];
	if (l->state < IPAM_LEASE_BOUND || l->state > IPAM_LEASE_SUSPECT)
		return ipam__fail(-EINVAL, "load", NULL, "unknown lease state %u", l->state);
	fits = allocatable(ps, &l->addr);
	if (l->state == IPAM_LEASE_QUARANTINED && (!fits || !ps->quarantine))
		return 0; /* a wait the pool no longer keeps (op_fate()) */
	if (!fits) /* a later op of the log may release it */
		return strand_one(v, pool, NULL, 0, &l->addr, l->owner, l->owner_len);
	/* Every loaded record marks its address in the index: a second record
	 * for one address finds it taken (cheaper than the address chain). */
	if (ipam__index_state(ps->idx, &l->addr) != IPAM__ADDR_FREE)
		return ipam__fail_n(-EBADMSG, "load", l->owner, l->owner_len,
				    "two records for one address");
	if (ipam__state_is_bound(l->state) &&
	    ipam__view_find_bound_raw_h(v, pool, l->owner, l->owner_len, l->ifname, l->ifname_len,
					h[IPAM__LINK_OWNER]))
		return ipam__fail_n(-EBADMSG, "load", l->owner, l->owner_len,
				    "the owner holds two bound leases in pool %s",
				    ipam_pool_name(ps->pool));
	for (int k = 0; k < IPAM__NLINKS; k++)
		if ((e = ipam__view_reserve(v, k, 1)) < 0)
			return ipam__fail_code(e);
	if ((e = ipam__index_reserve(ps->idx, 2)) < 0)
		return ipam__fail_code(e);
	if ((e = ipam__rec_new_ref(v, &r, l, pool, packed)) < 0)
		return ipam__fail_code(e);
	index_transition(v, ps, &l->addr, 0, r->state, r, ipam__secs_to_ms(l->updated));
	ipam__view_link_h(v, r, h);
	if (r->state == IPAM_LEASE_RESERVED)
		ps->reserved++;
	if (rev > ps->version)
		ps->version = rev;
	if (rev > v->revision)
		v->revision = rev;
	return 0;
}

int ipam__view_load_ghost(ipam_view *v, const struct ipam__lease_ref *l, unsigned pool,
			  uint64_t rev)
{
	struct ipam__pool_state *ps;
	int e;

	if (pool >= v->npools)
		return ipam__fail(-EINVAL, "load", NULL, "pool %u of %u", pool, v->npools);
	ps = &v->pools[pool];
	if (!ipam__state_is_bound(l->state))
		return ipam__fail(-EINVAL, "load", NULL, "a lease in state %u cannot be left out",
				  l->state);
	/* One index lookup checks the address and marks it. */
	e = l->addr.family != ipam_pool_family(ps->pool)
		    ? -ERANGE
		    : ipam__index_load_held(ps->idx, &l->addr, l->state == IPAM_LEASE_BOUND);
	if (e == -EEXIST)
		return ipam__fail_n(-EBADMSG, "load", l->owner, l->owner_len,
				    "two records for one address");
	if (e == -ERANGE || e == -EACCES || e == -EINVAL) /* as load_ref_h() */
		return strand_one(v, pool, NULL, 0, &l->addr, l->owner, l->owner_len);
	if (e < 0)
		return ipam__fail_code(e);
	if (rev > ps->version)
		ps->version = rev;
	if (rev > v->revision)
		v->revision = rev;
	return 0;
}

/* The chain hashes of a lease; a container id is packed once, here, for
 * the record too. */
static void load_hashes(const ipam_view *v, const struct ipam__lease_ref *l, unsigned pool,
			uint64_t h[IPAM__NLINKS], uint8_t bin[32], int *packed)
{
	h[IPAM__LINK_ADDR] = ipam__view_hash_addr(v, pool, ipam__addr_value(&l->addr));
	h[IPAM__LINK_OWNER] = ipam__view_hash_owner(v, l->owner, l->owner_len);
	h[IPAM__LINK_ATTACH] = ipam__view_hash_attach_packed(v, l->attach, l->attach_len, bin, packed);
}

int ipam__view_load_ref(ipam_view *v, const struct ipam__lease_ref *l, unsigned pool, uint64_t rev)
{
	uint64_t h[IPAM__NLINKS];
	uint8_t bin[32];
	int packed;

	load_hashes(v, l, pool, h, bin, &packed);
	return load_ref_h(v, l, pool, rev, h, packed ? bin : NULL);
}

void ipam__view_loader_init(struct ipam__view_loader *ld, ipam_view *v, uint64_t rev)
{
	ld->v = v;
	ld->rev = rev;
	ld->head = ld->n = 0;
}

static int loader_pop(struct ipam__view_loader *ld)
{
	unsigned i = ld->head;

	ld->head = (ld->head + 1) % IPAM__LOAD_RING;
	ld->n--;
	return load_ref_h(ld->v, &ld->ent[i].ref, ld->ent[i].pool, ld->rev, ld->ent[i].h,
			  ld->ent[i].packed ? ld->ent[i].bin : NULL);
}

int ipam__view_loader_add(struct ipam__view_loader *ld, const struct ipam__lease_ref *l,
			  unsigned pool)
{
	const ipam_view *v = ld->v;
	unsigned i;
	int e;

	if (ld->n == IPAM__LOAD_RING && (e = loader_pop(ld)) < 0)
		return e;
	i = (ld->head + ld->n++) % IPAM__LOAD_RING;
	ld->ent[i].ref = *l;
	ld->ent[i].pool = pool;
	load_hashes(v, l, pool, ld->ent[i].h, ld->ent[i].bin, &ld->ent[i].packed);
	/* The buckets this record will be linked into (a table may grow
	 * before then: a prefetch of the old place is merely wasted). */
	for (int k = 0; k < IPAM__NLINKS; k++)
		__builtin_prefetch(&v->tab[k].b[ipam__bucket(&v->tab[k], ld->ent[i].h[k])], 1);
	/* Half a ring later, its owner bucket is in: prefetch the first
	 * record of that chain, which the bound-owner check reads. */
	if (ld->n > IPAM__LOAD_RING / 2) {
		unsigned j = (i + IPAM__LOAD_RING - IPAM__LOAD_RING / 2) % IPAM__LOAD_RING;
		const struct ipam__chains *t = &v->tab[IPAM__LINK_OWNER];
		const struct ipam__rec *r =
			ipam__rec_of(v, t->b[ipam__bucket(t, ld->ent[j].h[IPAM__LINK_OWNER])]);
		if (r)
			__builtin_prefetch(r);
	}
	return 0;
}

int ipam__view_loader_flush(struct ipam__view_loader *ld)
{
	int e = 0;

	while (ld->n && e == 0)
		e = loader_pop(ld);
	ld->n = 0;
	return e;
}
