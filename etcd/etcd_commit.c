/* SPDX-License-Identifier: MIT */
/*
 * A commit on the etcd store: one etcd transaction.
 *
 * The change set was decided on the view; the view equals the cache of
 * block values (etcd_cache.c), so "the preconditions hold in etcd" is
 * "every block key the change set reads or writes still has the
 * mod_revision we cached". The transaction therefore compares:
 *   - each block key holding an address that an op writes or an ADDR
 *     precondition names (coarse: the pool's one key);
 *   - for a POOL precondition, every block key of the pool;
 *   - each owner index key that an op writes or an OWNER precondition names:
 *     absent (mod_revision 0) when the owner holds no bound lease, else its
 *     value is the address of that lease (whose block is compared too);
 * and, if they all hold, writes the new block values and owner keys. A
 * failed compare changes nothing: the store catches up and returns -EAGAIN.
 *
 * Workload: allocations and releases of one or two addresses, so a commit
 * touches one or two blocks and owner keys; a change set over 128 keys is
 * refused (-E2BIG) rather than split, so nothing is ever half-written.
 */
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

struct tblock {
	unsigned pool;
	ipam_u128 idx;
	int64_t expect; /* cached mod_revision; 0: the key does not exist */
	struct ipam_etcd__block b;
	int dirty;
};

enum { OKEY_COMPARE = 0, OKEY_PUT, OKEY_DELETE };

struct okey {
	char *key;
	unsigned pool;
	const char *owner, *ifname;
	char expect[IPAM_ADDR_STRLEN]; /* address of the bound lease; "": none */
	char value[IPAM_ADDR_STRLEN];
	int action;
};

struct plan {
	struct ipam_etcd__store *es;
	struct ipam_etcd__set *s;
	struct tblock *t;
	unsigned nt, capt;
	struct okey *o;
	unsigned no, capo;
};

static void plan_fini(struct plan *p)
{
	for (unsigned i = 0; i < p->nt; i++)
		ipam_etcd__block_fini(&p->t[i].b);
	for (unsigned i = 0; i < p->no; i++)
		free(p->o[i].key);
	free(p->t);
	free(p->o);
}

static int grow(void **items, unsigned *cap, unsigned n, size_t size)
{
	void *m;

	if (n < *cap)
		return 0;
	if (n >= 4 * IPAM_ETCD_MAX_TXN_OPS)
		return ipam_etcd__fail(-E2BIG, "txn", NULL,
				       "the change set touches more keys than one etcd transaction takes");
	m = realloc(*items, (size_t)(*cap ? *cap * 2 : 8) * size);
	if (!m)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	*items = m;
	*cap = *cap ? *cap * 2 : 8;
	return 0;
}

/* The block (pool, idx) in the plan, decoded from the cache on first use. */
static int touch(struct plan *p, unsigned pool, ipam_u128 idx, struct tblock **out)
{
	struct ipam_etcd__centry *e;
	struct tblock *t;
	int r;

	for (unsigned i = 0; i < p->nt; i++) {
		if (p->t[i].pool == pool && ipam_u128_cmp(p->t[i].idx, idx) == 0) {
			*out = &p->t[i];
			return 0;
		}
	}
	if ((r = grow((void **)&p->t, &p->capt, p->nt, sizeof(*p->t))) < 0)
		return r;
	t = &p->t[p->nt];
	memset(t, 0, sizeof(*t));
	t->pool = pool;
	t->idx = idx;
	e = ipam_etcd__cache_find(p->s, pool, idx);
	t->expect = e ? e->mod_rev : 0;
	r = ipam_etcd__cache_decode(p->es, p->s, pool, idx, &t->b);
	if (r < 0)
		return r;
	p->nt++;
	*out = t;
	return 0;
}

static int touch_addr(struct plan *p, unsigned pool, const ipam_addr *a, struct tblock **out)
{
	const ipam_pool *pl = ipam_poolset_pool(p->s->set, pool);
	struct tblock *dummy;

	return touch(p, pool, ipam_etcd__block_index(pl, a, p->es->shift), out ? out : &dummy);
}

/* Every block of a pool (a POOL precondition in block mode). */
static int touch_pool(struct plan *p, unsigned pool)
{
	const ipam_pool *pl = ipam_poolset_pool(p->s->set, pool);
	struct tblock *t;
	int r = 0;

	if (p->es->coarse)
		return touch(p, pool, ipam_u128_make(0, 0), &t);
	for (unsigned i = 0; r == 0 && i < ipam_pool_range_count(pl); i++) {
		const ipam_range *rg = ipam_pool_range(pl, i);
		ipam_u128 idx = ipam_etcd__block_index(pl, &rg->first, p->es->shift);
		ipam_u128 last = ipam_etcd__block_index(pl, &rg->last, p->es->shift);
		for (;;) {
			if ((r = touch(p, pool, idx, &t)) < 0 || ipam_u128_cmp(idx, last) >= 0)
				break;
			ipam_u128_add(idx, ipam_u128_make(0, 1), &idx);
		}
	}
	return r;
}

static int is_bound(const ipam_lease *l)
{
	return l->state == IPAM_LEASE_BOUND || l->state == IPAM_LEASE_SUSPECT;
}

/* Where (pool, owner, ifname) holds its bound lease now: "" if nowhere.
 * The view answers "none" in O(1) (the common case: a new owner); else
 * the touched blocks, else every cached block of the pool. */
static int find_bound(struct plan *p, unsigned pool, const char *owner, const char *ifname,
		      char *addr)
{
	ipam_cond probe = { IPAM_COND_OWNER, pool, { 0, 0, 0 }, owner, ifname, 0 };
	ipam_txn txn = { NULL, 0, &probe, 1, 0, 0 };
	int r;

	addr[0] = '\0';
	ipam_view_lock(p->s->view);
	r = ipam_view_check(p->s->view, &txn);
	ipam_view_unlock(p->s->view);
	if (r == 0)
		return 0;
	for (unsigned i = 0; i < p->nt; i++) {
		for (unsigned k = 0; p->t[i].pool == pool && k < p->t[i].b.n; k++) {
			const ipam_lease *l = &p->t[i].b.l[k];
			if (is_bound(l) && strcmp(l->owner, owner) == 0 && strcmp(l->ifname, ifname) == 0)
				return ipam_addr_format(&l->addr, addr, IPAM_ADDR_STRLEN) < 0 ? -EINVAL : 0;
		}
	}
	for (size_t i = 0; i < p->s->n; i++) {
		struct ipam_etcd__block b;
		if (p->s->c[i].pool != pool)
			continue;
		if ((r = ipam_etcd__cache_decode(p->es, p->s, pool, p->s->c[i].idx, &b)) < 0)
			return r;
		for (unsigned k = 0; k < b.n && !addr[0]; k++)
			if (is_bound(&b.l[k]) && strcmp(b.l[k].owner, owner) == 0 &&
			    strcmp(b.l[k].ifname, ifname) == 0)
				ipam_addr_format(&b.l[k].addr, addr, IPAM_ADDR_STRLEN);
		ipam_etcd__block_fini(&b);
		if (addr[0])
			return 0;
	}
	return ipam_etcd__fail(-EIO, "etcd", owner, "the view and the cached blocks disagree");
}

/* The owner key of (pool, owner, ifname) in the plan, with its current
 * state looked up on first use (before any op is applied to the plan). */
static int owner_key(struct plan *p, unsigned pool, const char *owner, const char *ifname,
		     struct okey **out)
{
	const char *pname = ipam_pool_name(ipam_poolset_pool(p->s->set, pool));
	char *key = ipam_etcd__owner_key(p->s->base, pname, owner, ifname);
	struct okey *o;
	int r;

	if (!key)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	for (unsigned i = 0; i < p->no; i++) {
		if (strcmp(p->o[i].key, key) == 0) {
			free(key);
			*out = &p->o[i];
			return 0;
		}
	}
	if ((r = grow((void **)&p->o, &p->capo, p->no, sizeof(*p->o))) < 0 ||
	    (r = find_bound(p, pool, owner, ifname, p->o[p->no].expect)) < 0) {
		free(key);
		return r;
	}
	o = &p->o[p->no++];
	o->key = key;
	o->pool = pool;
	o->owner = owner;
	o->ifname = ifname;
	o->value[0] = '\0';
	o->action = OKEY_COMPARE;
	*out = o;
	return 0;
}

/* What the ops do to owner index keys (block mode), from the records they
 * replace; and the blocks of owners named by OWNER preconditions. */
static int plan_owners(struct plan *p, const ipam_txn *txn)
{
	struct okey *o;
	int r;

	for (unsigned i = 0; i < txn->nops; i++) {
		const ipam_op *op = &txn->ops[i];
		const ipam_lease *nw = op->kind == IPAM_OP_PUT ? &op->lease : NULL;
		struct tblock *t;
		int at;

		if ((r = touch_addr(p, op->pool, &op->lease.addr, &t)) < 0)
			return r;
		at = ipam_etcd__block_find(&t->b, &op->lease.addr, NULL);
		if (at >= 0 && is_bound(&t->b.l[at])) {
			const ipam_lease *old = &t->b.l[at];
			if ((r = owner_key(p, op->pool, old->owner, old->ifname, &o)) < 0)
				return r;
			if (o->action != OKEY_PUT)
				o->action = OKEY_DELETE;
		}
		if (nw && is_bound(nw)) {
			if ((r = owner_key(p, op->pool, nw->owner, nw->ifname, &o)) < 0)
				return r;
			o->action = OKEY_PUT;
			ipam_addr_format(&nw->addr, o->value, sizeof(o->value));
		}
	}
	for (unsigned i = 0; i < txn->nconds; i++) {
		const ipam_cond *c = &txn->conds[i];
		ipam_addr a;
		if (c->kind != IPAM_COND_OWNER)
			continue;
		if ((r = owner_key(p, c->pool, c->owner, c->ifname, &o)) < 0)
			return r;
		if (o->expect[0] && ipam_addr_parse(o->expect, &a) == 0 &&
		    (r = touch_addr(p, c->pool, &a, NULL)) < 0)
			return r;
	}
	return 0;
}

static int plan_make(struct plan *p, const ipam_txn *txn)
{
	int r = 0;

	for (unsigned i = 0; r == 0 && i < txn->nops; i++)
		r = touch_addr(p, txn->ops[i].pool, &txn->ops[i].lease.addr, NULL);
	for (unsigned i = 0; r == 0 && i < txn->nconds; i++) {
		const ipam_cond *c = &txn->conds[i];
		if (c->kind == IPAM_COND_ADDR)
			r = touch_addr(p, c->pool, &c->addr, NULL);
		else if (c->kind == IPAM_COND_POOL || p->es->coarse)
			r = touch_pool(p, c->pool);
	}
	if (r == 0 && !p->es->coarse)
		r = plan_owners(p, txn);
	/* Last, the new block contents. A record the commit writes carries
	 * no generation: it takes the revision etcd gives the commit. */
	for (unsigned i = 0; r == 0 && i < txn->nops; i++) {
		const ipam_op *op = &txn->ops[i];
		struct tblock *t;
		if ((r = touch_addr(p, op->pool, &op->lease.addr, &t)) < 0)
			break;
		t->dirty = 1;
		if (op->kind == IPAM_OP_DELETE) {
			ipam_etcd__block_del(&t->b, &op->lease.addr);
		} else {
			ipam_lease l = op->lease;
			if (!(op->flags & IPAM_OP_F_KEEP_GENERATION))
				l.generation = 0;
			if (ipam_etcd__block_put(&t->b, &l) < 0)
				r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
		}
	}
	return r;
}

/* The etcd transaction of the plan; values[i] is block i's new value. */
static int plan_txn(struct plan *p, struct ipam_etcd__txn *et, char **values)
{
	for (unsigned i = 0; i < p->nt; i++) {
		struct tblock *t = &p->t[i];
		char *key = ipam_etcd__block_key(p->s->base, ipam_poolset_pool(p->s->set, t->pool),
						 p->es->shift, t->idx);
		if (!key)
			return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
		ipam_etcd__txn_cmp_mod(et, key, t->expect);
		if (t->dirty) {
			values[i] = ipam_etcd__block_encode(&t->b);
			if (!values[i]) {
				free(key);
				return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
			}
			ipam_etcd__txn_put(et, key, values[i], strlen(values[i]));
		}
		free(key);
	}
	for (unsigned i = 0; i < p->no; i++) {
		struct okey *o = &p->o[i];
		if (o->expect[0])
			ipam_etcd__txn_cmp_value(et, o->key, o->expect);
		else
			ipam_etcd__txn_cmp_mod(et, o->key, 0);
		if (o->action == OKEY_PUT && strcmp(o->value, o->expect) != 0)
			ipam_etcd__txn_put(et, o->key, o->value, strlen(o->value));
		else if (o->action == OKEY_DELETE && o->expect[0])
			ipam_etcd__txn_del(et, o->key);
	}
	return 0;
}

/* The commit succeeded at revision rev: the view and the cache follow. */
static void committed(struct plan *p, ipam_view *v, const ipam_txn *txn, uint64_t rev,
		      char **values)
{
	int r;

	ipam_view_lock(v);
	r = ipam_view_apply(v, txn, rev);
	ipam_view_unlock(v);
	if (r < 0)
		return; /* the next catch-up reads these blocks again */
	for (unsigned i = 0; i < p->nt; i++) {
		if (!p->t[i].dirty)
			continue;
		if (ipam_etcd__cache_set(p->s, p->t[i].pool, p->t[i].idx, (int64_t)rev, values[i],
					 strlen(values[i])) < 0)
			continue; /* old value kept: caught up again later */
		values[i] = NULL;
	}
}

int ipam_etcd__commit(ipam_store *st, ipam_view *v, const ipam_txn *txn, uint64_t *rev)
{
	struct ipam_etcd__store *es = (struct ipam_etcd__store *)st;
	struct ipam_etcd__counters *ctr = ipam_etcd__client_counters(es->client);
	struct ipam_etcd__set *s = ipam_etcd__find_set(es, v);
	struct plan p;
	struct ipam_etcd__txn et;
	char **values = NULL;
	int64_t newrev = 0;
	int r, ok = 0;

	if (!s)
		return ipam_etcd__fail(-ENOENT, "store", NULL, "view not attached to this etcd store");
	memset(&p, 0, sizeof(p));
	p.es = es;
	p.s = s;
	ipam_etcd__txn_init(&et);
	pthread_mutex_lock(&s->mu);
	/* The decision was made on the view without a lock: is it still
	 * current? (The view equals the cache, which the compares pin.) */
	ipam_view_lock(v);
	r = ipam_view_check(v, txn);
	ipam_view_unlock(v);
	for (unsigned i = 0; r == 0 && i < txn->nops; i++)
		if (txn->ops[i].kind == IPAM_OP_PUT)
			r = ipam_etcd__lease_utf8(&txn->ops[i].lease);
	if (r == 0)
		r = plan_make(&p, txn);
	if (r == 0 && !(values = calloc(p.nt ? p.nt : 1, sizeof(*values))))
		r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	if (r == 0)
		r = plan_txn(&p, &et, values);
	if (r == 0)
		r = ipam_etcd__txn_run(es->client, &et, &ok, &newrev);
	if (r == 0 && !ok) {
		atomic_fetch_add(&ctr->txn_conflicts, 1);
		ipam_etcd__sync(es, s); /* if it fails, the caller's refresh says so */
		r = -EAGAIN;
	} else if (r == 0) {
		atomic_fetch_add(&ctr->txns, 1);
		committed(&p, v, txn, (uint64_t)newrev, values);
		*rev = (uint64_t)newrev;
	}
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; values && i < p.nt; i++)
		free(values[i]);
	free(values);
	ipam_etcd__txn_fini(&et);
	plan_fini(&p);
	return r;
}
