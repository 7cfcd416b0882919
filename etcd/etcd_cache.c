/* SPDX-License-Identifier: MIT */
/*
 * The cache of one attached pool set: the raw value and mod_revision of
 * every block key this process has read or written, and how it brings the
 * view up to date.
 *
 * Invariant (under the set's mutex): the view holds exactly the leases that
 * the cached values hold. A commit compares the cached mod_revisions, so a
 * commit decided on a stale view fails in etcd, never half-applies.
 *
 * Catching up (ipam_etcd__sync): one range over the set's block keys with
 * min_mod_revision = synced + 1 returns exactly the blocks changed since
 * the last catch-up (block keys are never deleted, so a range sees every
 * change). Each is compared with its cached value and the difference is
 * applied to the view, with the generations etcd holds.
 */
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

static int entry_cmp(const struct ipam_etcd__centry *e, unsigned pool, ipam_u128 idx)
{
	if (e->pool != pool)
		return e->pool < pool ? -1 : 1;
	return ipam_u128_cmp(e->idx, idx);
}

static size_t lower_bound(const struct ipam_etcd__set *s, unsigned pool, ipam_u128 idx)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_cmp(&s->c[mid], pool, idx) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ipam_etcd__centry *ipam_etcd__cache_find(struct ipam_etcd__set *s, unsigned pool,
						ipam_u128 idx)
{
	size_t at = lower_bound(s, pool, idx);

	return at < s->n && entry_cmp(&s->c[at], pool, idx) == 0 ? &s->c[at] : NULL;
}

int ipam_etcd__cache_set(struct ipam_etcd__set *s, unsigned pool, ipam_u128 idx, int64_t mod_rev,
			 char *val, size_t len)
{
	size_t at = lower_bound(s, pool, idx);
	struct ipam_etcd__centry *e;

	if (at < s->n && entry_cmp(&s->c[at], pool, idx) == 0) {
		e = &s->c[at];
		free(e->val);
	} else {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			struct ipam_etcd__centry *n = realloc(s->c, cap * sizeof(*n));
			if (!n) {
				free(val);
				return -ENOMEM;
			}
			s->c = n;
			s->cap = cap;
		}
		memmove(&s->c[at + 1], &s->c[at], (s->n - at) * sizeof(*s->c));
		s->n++;
		e = &s->c[at];
		e->pool = pool;
		e->idx = idx;
	}
	e->mod_rev = mod_rev;
	e->val = val;
	e->len = len;
	return 0;
}

void ipam_etcd__cache_free(struct ipam_etcd__set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->c[i].val);
	free(s->c);
	s->c = NULL;
	s->n = s->cap = 0;
}

int ipam_etcd__cache_decode(struct ipam_etcd__store *es, struct ipam_etcd__set *s, unsigned pool,
			    ipam_u128 idx, struct ipam_etcd__block *out)
{
	struct ipam_etcd__centry *e = ipam_etcd__cache_find(s, pool, idx);
	const ipam_pool *p = ipam_poolset_pool(s->set, pool);
	char *key;
	int r;

	memset(out, 0, sizeof(*out));
	if (!e || e->len == 0)
		return 0;
	key = ipam_etcd__block_key(s->base, p, es->shift, idx);
	if (!key)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	r = ipam_etcd__block_decode(p, es->shift, idx, key, e->val, e->len, e->mod_rev, out);
	free(key);
	return r;
}

/* ---- catching up ------------------------------------------------------------------------- */

/* One changed block: its key (from the range answer), old and new leases. */
struct change {
	struct ipam_etcd__kv *kv;
	unsigned pool;
	ipam_u128 idx;
	struct ipam_etcd__block old, now;
};

static int same_lease(const ipam_lease *a, const ipam_lease *b)
{
	if (ipam_addr_cmp(&a->addr, &b->addr) != 0 || a->generation != b->generation ||
	    a->state != b->state || a->created != b->created || a->updated != b->updated ||
	    a->expires != b->expires || a->suspect_since != b->suspect_since ||
	    a->nattrs != b->nattrs || strcmp(a->owner, b->owner) != 0 ||
	    strcmp(a->ifname, b->ifname) != 0 || strcmp(a->attachment, b->attachment) != 0 ||
	    strcmp(a->node, b->node) != 0)
		return 0;
	for (unsigned i = 0; i < a->nattrs && i < IPAM_ATTRS_MAX; i++)
		if (strcmp(a->attrs[i].key, b->attrs[i].key) != 0 ||
		    strcmp(a->attrs[i].value, b->attrs[i].value) != 0)
			return 0;
	return 1;
}

static int same_binding(const ipam_lease *a, const ipam_lease *b)
{
	return strcmp(a->owner, b->owner) == 0 && strcmp(a->ifname, b->ifname) == 0;
}

static int is_bound(const ipam_lease *l)
{
	return l->state == IPAM_LEASE_BOUND || l->state == IPAM_LEASE_SUSPECT;
}

static int apply_one(ipam_view *v, unsigned pool, ipam_op_kind kind, const ipam_lease *l,
		     uint64_t rev)
{
	ipam_op op;
	ipam_txn txn;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.pool = pool;
	op.lease = *l;
	op.flags = IPAM_OP_F_KEEP_GENERATION;
	memset(&txn, 0, sizeof(txn));
	txn.ops = &op;
	txn.nops = 1;
	/* When the record was written: a quarantine counts from there. */
	txn.now_ms = l->updated > INT64_MAX / 1000   ? INT64_MAX
		     : l->updated < INT64_MIN / 1000 ? INT64_MIN
						      : l->updated * 1000; /* etcd's data may be anything */
	return ipam_view_apply(v, &txn, rev);
}

/*
 * Apply one pass of a change to the view. The view's rule "one bound lease
 * per owner, unless this change set replaces it" is met by ordering: pass 0
 * removes records and writes unbound ones (and removes a bound record that
 * another owner takes over), pass 1 writes the bound records. Between the
 * two the view is never shown to readers (the caller holds its lock).
 */
static int apply_change(ipam_view *v, const struct change *c, int pass, uint64_t rev)
{
	unsigned i = 0, j = 0;
	int r = 0;

	while (r == 0 && (i < c->old.n || j < c->now.n)) {
		const ipam_lease *o = i < c->old.n ? &c->old.l[i] : NULL;
		const ipam_lease *n = j < c->now.n ? &c->now.l[j] : NULL;
		int cmp = !o ? 1 : !n ? -1 : ipam_addr_cmp(&o->addr, &n->addr);

		if (cmp < 0) { /* gone */
			if (pass == 0)
				r = apply_one(v, c->pool, IPAM_OP_DELETE, o, rev);
			i++;
			continue;
		}
		if (cmp > 0)
			o = NULL;
		else
			i++;
		j++;
		if (o && same_lease(o, n))
			continue;
		if (!is_bound(n)) {
			if (pass == 0)
				r = apply_one(v, c->pool, IPAM_OP_PUT, n, rev);
		} else if (pass == 0) {
			if (o && is_bound(o) && !same_binding(o, n))
				r = apply_one(v, c->pool, IPAM_OP_DELETE, o, rev);
		} else {
			r = apply_one(v, c->pool, IPAM_OP_PUT, n, rev);
		}
	}
	return r;
}

static int pool_index(const ipam_poolset *set, const char *name)
{
	for (unsigned i = 0; i < ipam_poolset_count(set); i++)
		if (strcmp(ipam_pool_name(ipam_poolset_pool(set, i)), name) == 0)
			return (int)i;
	return -1;
}

/* Read what changed into changes[] (old and new leases decoded). */
static int collect(struct ipam_etcd__store *es, struct ipam_etcd__set *s,
		   struct ipam_etcd__kvs *kvs, struct change *ch, size_t *nch)
{
	size_t plen = strlen(s->blocks_prefix);

	*nch = 0;
	for (size_t i = 0; i < kvs->n; i++) {
		struct ipam_etcd__kv *kv = &kvs->v[i];
		struct ipam_etcd__centry *e;
		char pool[IPAM_NAME_MAX + 1];
		struct change *c = &ch[*nch];
		ipam_u128 idx;
		int pi, r;

		if (kv->klen != strlen(kv->key) || strncmp(kv->key, s->blocks_prefix, plen) != 0 ||
		    ipam_etcd__block_key_parse(kv->key + plen, es->shift, pool, sizeof(pool), &idx) < 0)
			return ipam_etcd__fail(-EBADMSG, "etcd key", kv->key,
					       "not a %s key of this layout", es->coarse ? "pool" : "block");
		pi = pool_index(s->set, pool);
		if (pi < 0) { /* a pool gone: fine while nothing is held there */
			if ((r = ipam_etcd__block_gone(kv->key, pool, kv->value, kv->vlen)) < 0)
				return r;
			continue;
		}
		e = ipam_etcd__cache_find(s, (unsigned)pi, idx);
		if (e && e->mod_rev >= kv->mod_rev)
			continue; /* our own commit, already applied */
		memset(c, 0, sizeof(*c));
		c->kv = kv;
		c->pool = (unsigned)pi;
		c->idx = idx;
		r = ipam_etcd__cache_decode(es, s, c->pool, idx, &c->old);
		if (r == 0)
			r = ipam_etcd__block_decode(ipam_poolset_pool(s->set, c->pool), es->shift, idx,
						    kv->key, kv->value, kv->vlen, kv->mod_rev, &c->now);
		(*nch)++;
		if (r < 0)
			return r;
	}
	return 0;
}

int ipam_etcd__sync(struct ipam_etcd__store *es, struct ipam_etcd__set *s)
{
	struct ipam_etcd__kvs kvs;
	struct change *ch = NULL;
	size_t nch = 0;
	char *end = ipam_etcd__prefix_end(s->blocks_prefix);
	int r;

	if (!end)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	r = ipam_etcd__range(es->client, s->blocks_prefix, end, s->synced + 1, &kvs);
	free(end);
	if (r < 0)
		return r;
	if (kvs.n && !(ch = calloc(kvs.n, sizeof(*ch))))
		r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	if (r == 0)
		r = collect(es, s, &kvs, ch, &nch);
	if (r == 0 && nch) {
		uint64_t rev = (uint64_t)kvs.revision;
		ipam_view_lock(s->view);
		if (rev < ipam_view_revision(s->view))
			rev = ipam_view_revision(s->view);
		for (int pass = 0; pass < 2 && r == 0; pass++)
			for (size_t i = 0; i < nch && r == 0; i++)
				if ((r = apply_change(s->view, &ch[i], pass, rev)) == -EINVAL)
					r = ipam_etcd__fail(-EBADMSG, "etcd key", ch[i].kv->key,
							    "does not fit the pool set: %s",
							    ipam_last_error_message());
		ipam_view_unlock(s->view);
		/* On a failure part of it may be in the view: the cache keeps
		 * the old values, and the next catch-up applies the
		 * difference again (applying a record twice is harmless). */
	}
	for (size_t i = 0; r == 0 && i < nch; i++) {
		r = ipam_etcd__cache_set(s, ch[i].pool, ch[i].idx, ch[i].kv->mod_rev, ch[i].kv->value,
					 ch[i].kv->vlen);
		ch[i].kv->value = NULL; /* now the cache's */
		if (r < 0)
			r = ipam_etcd__fail(r, NULL, NULL, NULL);
	}
	if (r == 0) {
		s->synced = kvs.revision;
		atomic_fetch_add(&ipam_etcd__client_counters(es->client)->refreshed_keys, nch);
	}
	for (size_t i = 0; i < nch; i++) {
		ipam_etcd__block_fini(&ch[i].old);
		ipam_etcd__block_fini(&ch[i].now);
	}
	free(ch);
	ipam_etcd__kvs_free(&kvs);
	return r;
}
