/* SPDX-License-Identifier: MIT */
/*
 * Invariants, checked on samples during phases and at every phase end:
 *  - no address is held by two live pods: the addresses the runtime got
 *    for its Running pods are pairwise distinct, and the store has one
 *    record per address;
 *  - every Running pod holds exactly one address per family, and the
 *    store's lease at that address is its lease: same owner (name and
 *    generation) and its current sandbox as attachment;
 *  - ipam_verify() == 0;
 *  - after delete and a GC pass, nothing is leased and every address is
 *    free or quarantined (check_all_free).
 * For a CNI plugin whose store the library cannot read (host-local) only
 * the runtime's records are checked: the addresses its ADDs returned.
 * A sample copies the pods under the arena lock and then reads the store
 * without it; a pod that changed in between (its epoch moved) is skipped
 * rather than reported, so a report is always a real violation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "churn.h"

struct holder {
	int32_t slot; /* -1: no lease; -2: not one of ours */
	uint32_t gen, inc;
};

struct checker {
	const struct config *c;
	unsigned nf;
	uint64_t m;
	ipam_addr first[2];
	struct pod *snap;
	int32_t *occ[2];      /* address -> Running pod (runtime's records) */
	struct holder *h[2];  /* address -> store lease */
	uint8_t *cnt[2];      /* pod slot -> leases of its current owner */
	char *why;
	size_t whysize;
	int violated;
	unsigned printed;
	char pool[2][IPAM_NAME_MAX + 1];
};

struct checker *checker_new(const struct config *c)
{
	struct checker *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->c = c;
	k->nf = c->dual ? 2 : 1;
	k->m = c->pool_size;
	k->snap = calloc(c->pods, sizeof(*k->snap));
	checker_pools(k, "v4", "v6");
	for (unsigned f = 0; f < k->nf; f++) {
		pool_first(f, &k->first[f]);
		k->occ[f] = malloc(sizeof(int32_t) * k->m);
		k->h[f] = malloc(sizeof(struct holder) * k->m);
		k->cnt[f] = malloc(c->pods);
		if (!k->occ[f] || !k->h[f] || !k->cnt[f]) {
			checker_free(k);
			return NULL;
		}
	}
	if (!k->snap) {
		checker_free(k);
		return NULL;
	}
	return k;
}

void checker_pools(struct checker *k, const char *p0, const char *p1)
{
	snprintf(k->pool[0], sizeof(k->pool[0]), "%s", p0);
	snprintf(k->pool[1], sizeof(k->pool[1]), "%s", p1);
}

void checker_free(struct checker *k)
{
	if (!k)
		return;
	for (unsigned f = 0; f < 2; f++) {
		free(k->occ[f]);
		free(k->h[f]);
		free(k->cnt[f]);
	}
	free(k->snap);
	free(k);
}

static void violation(struct checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct checker *k, const char *fmt, ...)
{
	va_list ap;
	char msg[512];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k->printed < 10)
		fprintf(stderr, "ipam-churn: INVARIANT VIOLATED: %s\n", msg);
	else if (k->printed == 10)
		fprintf(stderr, "ipam-churn: (further violations not printed)\n");
	k->printed++;
	if (!k->violated && k->why)
		snprintf(k->why, k->whysize, "%s", msg);
	k->violated = 1;
}

/* Offset of a in family f's range, or -1. */
static int64_t offset(const struct checker *k, unsigned f, const ipam_addr *a)
{
	ipam_u128 d;
	if (a->family != k->first[f].family || ipam_addr_cmp(a, &k->first[f]) < 0 ||
	    ipam_addr_diff(a, &k->first[f], &d) < 0 || d.hi || d.lo >= k->m)
		return -1;
	return (int64_t)d.lo;
}

static int family_of(const struct checker *k, const ipam_lease *l)
{
	for (unsigned f = 0; f < k->nf; f++)
		if (strcmp(l->pool, k->pool[f]) == 0)
			return (int)f;
	return -1;
}

static int collect(void *ud, const ipam_lease *l)
{
	struct checker *k = ud;
	char a[IPAM_ADDR_STRLEN];
	unsigned slot, gen, sslot, sgen, inc;
	int f = family_of(k, l);
	int64_t off = f < 0 ? -1 : offset(k, (unsigned)f, &l->addr);
	struct holder *h;

	if (l->state != IPAM_LEASE_BOUND && l->state != IPAM_LEASE_SUSPECT)
		return 0;
	ipam_addr_format(&l->addr, a, sizeof(a));
	if (off < 0) {
		violation(k, "lease of %s at %s, outside the benchmark's ranges", l->owner, a);
		return 0;
	}
	h = &k->h[f][off];
	if (h->slot != -1)
		violation(k, "address %s listed twice by the store", a);
	if (parse_owner(l->owner, &slot, &gen) < 0 || slot >= k->c->pods ||
	    parse_sandbox(l->attachment, &sslot, &sgen, &inc) < 0) {
		h->slot = -2;
		return 0;
	}
	h->slot = (int32_t)slot;
	h->gen = gen;
	h->inc = sslot == slot && sgen == gen ? inc : UINT32_MAX;
	if (gen == k->snap[slot].gen && k->cnt[f][slot] < 255)
		k->cnt[f][slot]++;
	return 0;
}

static int pod_changed(struct arena *a, unsigned slot, unsigned epoch)
{
	int changed;
	arena_lock(a);
	changed = a->pods[slot].epoch != epoch;
	arena_unlock(a);
	return changed;
}

int check_invariants(struct checker *k, struct arena *a, ipam_ctx *ctx, int final, char *why,
		     size_t size, uint64_t *skipped)
{
	char owner[64], abuf[IPAM_ADDR_STRLEN];
	unsigned npods = k->c->pods;
	int r;

	k->why = why;
	k->whysize = size;
	k->violated = 0;
	arena_lock(a);
	memcpy(k->snap, a->pods, sizeof(*k->snap) * npods);
	arena_unlock(a);
	for (unsigned f = 0; f < k->nf; f++) {
		memset(k->occ[f], 0xff, sizeof(int32_t) * k->m);
		memset(k->h[f], 0xff, sizeof(struct holder) * k->m);
		memset(k->cnt[f], 0, npods);
	}
	/* 1. The runtime's records: distinct addresses. */
	for (unsigned i = 0; i < npods; i++) {
		const struct pod *p = &k->snap[i];
		if (p->state != POD_RUNNING)
			continue;
		for (unsigned f = 0; f < k->nf; f++) {
			int64_t off = offset(k, f, &p->addr[f]);
			ipam_addr_format(&p->addr[f], abuf, sizeof(abuf));
			if (off < 0) {
				violation(k, "pod %u got %s, outside its pool", i, abuf);
				continue;
			}
			if (k->occ[f][off] >= 0) {
				char o2[64];
				unsigned j = (unsigned)k->occ[f][off];
				pod_owner(i, p->gen, owner, sizeof(owner));
				pod_owner(j, k->snap[j].gen, o2, sizeof(o2));
				violation(k, "address %s held by two live pods: %s and %s", abuf, o2, owner);
			}
			k->occ[f][off] = (int32_t)i;
		}
	}
	if (!ctx)
		goto runtime_only;
	/* 2. The store's records. */
	r = ipam_foreach_lease(ctx, CHURN_SET, NULL, collect, k);
	if (r < 0) {
		violation(k, "ipam_foreach_lease: %s: %s", ipam_errname(r), ipam_last_error_message());
		return 1;
	}
	/* 3. Every Running pod: one lease per family, its own, current sandbox. */
	for (unsigned i = 0; i < npods; i++) {
		const struct pod *p = &k->snap[i];
		if (p->state != POD_RUNNING)
			continue;
		for (unsigned f = 0; f < k->nf; f++) {
			int64_t off = offset(k, f, &p->addr[f]);
			const struct holder *h;
			if (off < 0)
				continue;
			h = &k->h[f][off];
			if (h->slot == (int32_t)i && h->gen == p->gen && h->inc == p->inc &&
			    k->cnt[f][i] == 1)
				continue;
			if (!final && pod_changed(a, i, p->epoch)) {
				(*skipped)++;
				continue;
			}
			pod_owner(i, p->gen, owner, sizeof(owner));
			ipam_addr_format(&p->addr[f], abuf, sizeof(abuf));
			if (h->slot == -1)
				violation(k, "running pod %s: its address %s is not leased", owner, abuf);
			else if (h->slot != (int32_t)i || h->gen != p->gen)
				violation(k, "running pod %s: its address %s is leased to pod slot %d gen %u",
					  owner, abuf, h->slot, h->gen);
			else if (h->inc != p->inc)
				violation(k, "running pod %s: lease at %s names sandbox incarnation %u, "
					  "current is %u", owner, abuf, h->inc, p->inc);
			else
				violation(k, "running pod %s holds %u leases in pool %s", owner,
					  k->cnt[f][i], k->pool[f]);
		}
	}
runtime_only:
	if (final) {
		for (unsigned i = 0; i < npods; i++)
			if (k->snap[i].state == POD_PENDING) {
				pod_owner(i, k->snap[i].gen, owner, sizeof(owner));
				violation(k, "pod %s exists but is not Running at the phase end", owner);
				break;
			}
	}
	/* 4. The library's own consistency check. */
	r = ctx ? ipam_verify(ctx, CHURN_SET) : 0;
	if (r < 0)
		violation(k, "ipam_verify: %s: %s", ipam_errname(r), ipam_last_error_message());
	return k->violated;
}

static int count_any(void *ud, const ipam_lease *l)
{
	unsigned *n = ud;
	if (l->state == IPAM_LEASE_QUARANTINED)
		return 0; /* released: its address is back (reuse delay) */
	if (*n == 0)
		fprintf(stderr, "ipam-churn: left after delete: %s %s (%s)\n", l->owner, l->attachment,
			ipam_lease_state_name(l->state));
	(*n)++;
	return 0;
}

int check_all_free(struct checker *k, ipam_ctx *ctx, char *why, size_t size)
{
	unsigned left = 0;
	int r;

	k->why = why;
	k->whysize = size;
	k->violated = 0;
	r = ipam_foreach_lease(ctx, CHURN_SET, NULL, count_any, &left);
	if (r < 0)
		violation(k, "ipam_foreach_lease: %s", ipam_errname(r));
	else if (left)
		violation(k, "%u leases held after delete and a GC pass", left);
	for (unsigned f = 0; f < k->nf; f++) {
		ipam_pool_stats st;
		const char *pool = k->pool[f];
		r = ipam_pool_stats_get(ctx, CHURN_SET, pool, &st);
		if (r < 0) {
			violation(k, "ipam_pool_stats_get(%s): %s", pool, ipam_errname(r));
			continue;
		}
		/* Quarantined (released, waiting out a reuse delay) counts as
		 * returned: the pool hands it out when nothing else is free. */
		if (st.used.hi || st.used.lo || st.total.hi || st.total.lo != k->m ||
		    st.free.lo + st.quarantined.lo != st.total.lo)
			violation(k, "pool %s: %llu of %llu addresses free after delete (%llu used, %llu "
				  "quarantined)", pool, (unsigned long long)st.free.lo,
				  (unsigned long long)st.total.lo, (unsigned long long)st.used.lo,
				  (unsigned long long)st.quarantined.lo);
	}
	r = ipam_verify(ctx, CHURN_SET);
	if (r < 0)
		violation(k, "ipam_verify: %s: %s", ipam_errname(r), ipam_last_error_message());
	return k->violated;
}
