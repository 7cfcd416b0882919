/* SPDX-License-Identifier: MIT */
/*
 * Calls into stores, all of them through here: the table's version and its
 * methods are checked once, so a store built for an older interface (or one
 * leaving a method NULL) gets -ENOTSUP rather than a jump through garbage.
 * Also the memory store, the embedded default.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lease/view.h"
#include "pool_internal.h"
#include "store_internal.h"

static int usable(const ipam_store *st)
{
	return st && st->ops && st->ops->version >= 1 && st->ops->version <= IPAM_STORE_VERSION;
}

int ipam__store_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	int r;

	if (!usable(st) || !st->ops->attach)
		return ipam__fail(-ENOTSUP, "store", NULL, "the store cannot attach pool sets");
	*view = NULL;
	r = st->ops->attach(st, set, view);
	if (r == 0 && !*view)
		return ipam__fail(-EIO, "store", st->ops->name, "attach returned no view");
	return r > 0 ? -EIO : r;
}

int ipam__store_refresh(ipam_store *st, ipam_view *view)
{
	if (!usable(st))
		return -ENOTSUP;
	if (!st->ops->refresh)
		return 0; /* nothing changes elsewhere */
	return st->ops->refresh(st, view);
}

int ipam__store_commit(ipam_store *st, ipam_view *view, const ipam_txn *txn, uint64_t *rev)
{
	int r;

	if (!usable(st) || !st->ops->commit)
		return ipam__fail(-ENOTSUP, "store", NULL, "the store cannot commit");
	r = st->ops->commit(st, view, txn, rev);
	return r > 0 ? -EIO : r;
}

void ipam__store_detach(ipam_store *st, ipam_view *view)
{
	if (usable(st) && st->ops->detach)
		st->ops->detach(st, view);
}

IPAM_EXPORT ipam_store *ipam_store_free(ipam_store *st)
{
	if (st && st->ops && st->ops->destroy)
		st->ops->destroy(st);
	return NULL;
}

/* ---- the memory store ---------------------------------------------------------
 * The view is the whole state: one per pool set name, kept with the store's
 * own copy of the set's definition until the store is freed (a context may
 * go and another come back to the same leases). Contexts that attach a set
 * of the same name share its view, so they must define it the same way;
 * once no context holds it, a set may come back defined otherwise, and its
 * records move to a view of the new definition (mem_redefine()). Commits
 * go through ipam_view_commit(): the write lock is held for check-and-apply
 * only. */

#define MEMSTORE_MAX_VIEWS 64

struct memstore_set {
	ipam_poolset *def; /* the store's copy */
	ipam_view *view;
	unsigned users; /* contexts attached (under the store's lock) */
};

struct memstore {
	ipam_store base;
	pthread_mutex_t lock;
	struct memstore_set sets[MEMSTORE_MAX_VIEWS];
	unsigned nsets;
};

static void mem_destroy(ipam_store *st)
{
	struct memstore *m = (struct memstore *)st;

	for (unsigned i = 0; i < m->nsets; i++) {
		ipam_view_free(m->sets[i].view);
		ipam_poolset_free(m->sets[i].def);
	}
	pthread_mutex_destroy(&m->lock);
	ipam__release(m, sizeof(*m));
}

/* Quarantined records go in last, oldest release first: the quarantine is
 * a queue in release order. */
struct qrec {
	int64_t updated;
	const struct ipam__rec *x;
};

static int qrec_cmp(const void *a, const void *b)
{
	const struct qrec *p = a, *q = b;
	return (p->updated > q->updated) - (p->updated < q->updated);
}

static int carry(ipam_view *nv, const ipam_view *ov, const struct ipam__rec *x, int j, ipam_op *op)
{
	ipam_txn txn;

	op->kind = IPAM_OP_PUT;
	op->pool = (unsigned)j;
	op->flags = IPAM_OP_F_KEEP_GENERATION;
	memset(&txn, 0, sizeof(txn));
	txn.ops = op;
	txn.nops = 1;
	txn.now_ms = 0; /* nothing in the new quarantine expires on the way */
	return ipam__view_apply_decoded(nv, &txn, ov->revision);
}

/*
 * e's set, held by no context, comes back defined as set: move every record
 * of its view to a view of the new definition (pools matched by name), keep
 * the revision and each kept pool's next-fit cursor (as an address), then
 * swap. Records go in as a load puts them (ipam__view_apply_decoded(),
 * ipam__view_strand_gone()): a wait the new definition cannot keep is
 * dropped, and a held lease it does not cover (a pool gone, an address now
 * excluded or outside the ranges) is set aside and refuses it all, with a
 * message naming it (ipam__view_stranded()); the store keeps the old
 * definition and view. Under the store's lock.
 */
static int mem_redefine(struct memstore_set *e, const ipam_poolset *set)
{
	ipam_poolset *nd = NULL;
	ipam_view *nv = NULL, *ov = e->view;
	ipam_op *op = NULL;
	struct qrec *q = NULL;
	size_t nq = 0, qroom = 0;
	int map[IPAM__POOLSET_MAX_POOLS], r;

	if (ipam__poolset_clone(set, &nd) < 0 || !(op = ipam__zalloc(sizeof(*op)))) {
		r = ipam__fail_code(-ENOMEM);
		goto out;
	}
	if ((r = ipam_view_new(&nv, nd)) < 0)
		goto out;
	for (unsigned i = 0; i < ov->npools; i++)
		map[i] = ipam__view_pool_index(nv, ipam_pool_name(ov->pools[i].pool));
	ipam__view_rdlock(ov); /* no context holds it: for the form */
	ipam__view_presize(nv, ov->tab[IPAM__LINK_ADDR].count, ipam__heap_bytes(ov));
	for (size_t b = 0; b < ov->tab[IPAM__LINK_ADDR].nb && r == 0; b++) {
		for (const struct ipam__rec *x = ipam__chain_head(ov, IPAM__LINK_ADDR, b); x && r == 0;
		     x = ipam__rec_next(ov, x, IPAM__LINK_ADDR)) {
			const char *pn = ipam_pool_name(ov->pools[x->pool].pool);
			if (map[x->pool] < 0) {
				ipam__rec_export(ov, x, pn, &op->lease);
				r = ipam__view_strand_gone(nv, pn, strlen(pn), &op->lease.addr,
							   x->state, op->lease.owner,
							   strlen(op->lease.owner));
				continue;
			}
			if (x->state != IPAM_LEASE_QUARANTINED) {
				ipam__rec_export(ov, x, pn, &op->lease);
				r = carry(nv, ov, x, map[x->pool], op);
				continue;
			}
			if (nq == qroom) {
				size_t n = qroom ? 2 * qroom : 64;
				struct qrec *g = ipam__resize(q, qroom * sizeof(*q), n * sizeof(*q));
				if (!g) {
					r = ipam__fail_code(-ENOMEM);
					continue;
				}
				q = g;
				qroom = n;
			}
			q[nq].updated = ipam__rec_updated(x);
			q[nq++].x = x;
		}
	}
	if (r == 0 && nq)
		qsort(q, nq, sizeof(*q), qrec_cmp);
	for (size_t i = 0; i < nq && r == 0; i++) {
		ipam__rec_export(ov, q[i].x, ipam_pool_name(ov->pools[q[i].x->pool].pool), &op->lease);
		r = carry(nv, ov, q[i].x, map[q[i].x->pool], op);
	}
	if (r == 0)
		r = ipam__view_stranded(nv);
	if (r == 0) {
		for (unsigned i = 0; i < ov->npools; i++) {
			struct ipam__pool_state *os = &ov->pools[i], *ns;
			ipam_addr a;
			ipam__u128 ord;
			if (map[i] < 0)
				continue;
			ns = &nv->pools[map[i]];
			ns->rng = os->rng;
			if (ipam__index_address(os->idx, os->cursor, &a) == 0 &&
			    a.family == ipam_pool_family(ns->pool) &&
			    ipam__index_ordinal(ns->idx, &a, &ord) == 0)
				ns->cursor = ord;
		}
		if (nv->revision < ov->revision)
			nv->revision = ov->revision;
	}
	ipam__view_rdunlock(ov);
	if (r == 0) {
		e->view = nv;
		ipam_view_free(ov);
		ipam_poolset_free(e->def);
		e->def = nd;
		nv = NULL;
		nd = NULL;
	}
out:
	ipam__release(q, qroom * sizeof(*q));
	ipam__release(op, op ? sizeof(*op) : 0);
	ipam_view_free(nv);
	ipam_poolset_free(nd);
	return r;
}

static int mem_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct memstore *m = (struct memstore *)st;
	const char *name = ipam_poolset_name(set);
	struct memstore_set *e = NULL;
	int r = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nsets && !e; i++)
		if (strcmp(ipam_poolset_name(m->sets[i].def), name) == 0)
			e = &m->sets[i];
	if (e && e->users && !ipam__poolset_same(e->def, set)) {
		r = ipam__fail(-EBUSY, "poolset", name,
			       "pool set %s is in use with other pools: contexts that share a set on "
			       "the memory store define it alike (the same pools in the same order, "
			       "with the same ranges, exclusions, gateway, index, policy and "
			       "quarantine); it may be redefined once none holds it",
			       name);
	} else if (e && !e->users && !ipam__poolset_same(e->def, set)) {
		r = mem_redefine(e, set);
	} else if (!e && m->nsets == MEMSTORE_MAX_VIEWS) {
		r = ipam__fail(-E2BIG, "store", NULL, "the memory store holds %d pool sets",
			       MEMSTORE_MAX_VIEWS);
	} else if (!e) {
		struct memstore_set n = { NULL, NULL, 0 };
		if (ipam__poolset_clone(set, &n.def) < 0)
			r = ipam__fail_code(-ENOMEM);
		else if ((r = ipam_view_new(&n.view, n.def)) < 0)
			ipam_poolset_free(n.def);
		else
			e = memcpy(&m->sets[m->nsets++], &n, sizeof(n));
	}
	if (r == 0) {
		e->users++;
		*view = e->view;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

static int mem_commit(ipam_store *st, ipam_view *view, const ipam_txn *txn, uint64_t *rev)
{
	(void)st;
	return ipam_view_commit(view, txn, rev);
}

/* A context goes; the view and its leases stay with the store. */
static void mem_detach(ipam_store *st, ipam_view *view)
{
	struct memstore *m = (struct memstore *)st;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nsets; i++)
		if (m->sets[i].view == view && m->sets[i].users)
			m->sets[i].users--;
	pthread_mutex_unlock(&m->lock);
}

static const ipam_store_ops memstore_ops;

int ipam__store_direct(const ipam_store *st)
{
	return st && st->ops == &memstore_ops;
}

int ipam__store_commit_dops(ipam_store *st, ipam_view *view, const struct ipam__dop *ops,
			    unsigned nops, const ipam_cond *conds, unsigned nconds, int64_t now_ms,
			    uint64_t decided_at, uint64_t *rev)
{
	(void)st;
	return ipam__view_commit_dops(view, ops, nops, conds, nconds, now_ms, decided_at, rev);
}

static const ipam_store_ops memstore_ops = {
	.version = IPAM_STORE_VERSION,
	.name = "memory",
	.destroy = mem_destroy,
	.attach = mem_attach,
	.refresh = NULL,
	.commit = mem_commit,
	.detach = mem_detach,
};

IPAM_EXPORT int ipam_store_memory_new(ipam_store **out)
{
	struct memstore *m;

	if (!out)
		return ipam__fail_code(-EINVAL);
	m = ipam__zalloc(sizeof(*m));
	if (!m)
		return ipam__fail_code(-ENOMEM);
	m->base.ops = &memstore_ops;
	pthread_mutex_init(&m->lock, NULL);
	*out = &m->base;
	return 0;
}
