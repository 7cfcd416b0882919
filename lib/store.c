/* SPDX-License-Identifier: MIT */
/*
 * Calls into stores, all of them through here: the table's version and its
 * methods are checked once, so a store built for an older interface (or one
 * leaving a method NULL) gets -ENOTSUP rather than a jump through garbage.
 * Also the memory store, the embedded default.
 */
#include <pthread.h>
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
 * of the same name share its view, so they must define it the same way.
 * Commits go through ipam_view_commit(): the write lock is held for
 * check-and-apply only. */

#define MEMSTORE_MAX_VIEWS 64

struct memstore_set {
	ipam_poolset *def; /* the store's copy */
	ipam_view *view;
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
	if (e && !ipam__poolset_same(e->def, set)) {
		r = ipam__fail(-EEXIST, "poolset", name,
			       "the memory store holds pool set %s with other pools (the same "
			       "pools in the same order, with the same ranges, exclusions, "
			       "gateway, index, policy and quarantine, are needed to share its "
			       "leases)",
			       name);
	} else if (!e && m->nsets == MEMSTORE_MAX_VIEWS) {
		r = ipam__fail(-E2BIG, "store", NULL, "the memory store holds %d pool sets",
			       MEMSTORE_MAX_VIEWS);
	} else if (!e) {
		struct memstore_set n = { NULL, NULL };
		if (ipam__poolset_clone(set, &n.def) < 0)
			r = ipam__fail_code(-ENOMEM);
		else if ((r = ipam_view_new(&n.view, n.def)) < 0)
			ipam_poolset_free(n.def);
		else
			e = memcpy(&m->sets[m->nsets++], &n, sizeof(n));
	}
	if (r == 0)
		*view = e->view;
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
	(void)st;
	(void)view;
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
