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
 * The view is the whole state. Commits go through ipam_view_commit(): the
 * write lock is held for check-and-apply only. */

#define MEMSTORE_MAX_VIEWS 64

struct memstore {
	ipam_store base;
	pthread_mutex_t lock;
	ipam_view *views[MEMSTORE_MAX_VIEWS];
	unsigned nviews;
};

static void mem_destroy(ipam_store *st)
{
	struct memstore *m = (struct memstore *)st;

	for (unsigned i = 0; i < m->nviews; i++)
		ipam_view_free(m->views[i]);
	pthread_mutex_destroy(&m->lock);
	ipam__release(m, sizeof(*m));
}

static int mem_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct memstore *m = (struct memstore *)st;
	int r;

	pthread_mutex_lock(&m->lock);
	if (m->nviews == MEMSTORE_MAX_VIEWS) {
		pthread_mutex_unlock(&m->lock);
		return ipam__fail(-E2BIG, "store", NULL, "the memory store holds %d pool sets",
				  MEMSTORE_MAX_VIEWS);
	}
	r = ipam_view_new(view, set);
	if (r == 0)
		m->views[m->nviews++] = *view;
	pthread_mutex_unlock(&m->lock);
	return r;
}

static int mem_commit(ipam_store *st, ipam_view *view, const ipam_txn *txn, uint64_t *rev)
{
	(void)st;
	return ipam_view_commit(view, txn, rev);
}

static void mem_detach(ipam_store *st, ipam_view *view)
{
	struct memstore *m = (struct memstore *)st;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nviews; i++) {
		if (m->views[i] == view) {
			m->views[i] = m->views[--m->nviews];
			ipam_view_free(view);
			break;
		}
	}
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
