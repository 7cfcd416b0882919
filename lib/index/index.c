/* SPDX-License-Identifier: MIT */
/*
 * The free-space index of one pool, its operations: allocation policies,
 * stickiness, exact requests, direct marks and the reuse quarantine's rules,
 * dispatched to whichever structure the index was built with. The contract
 * is in index.h; building and the address mapping are in setup.c, the data
 * structures in bitmap.c, sparse.c, otab.c and quarantine.c.
 *
 * Workload: one call per allocation or release of a lease, on the hot path
 * of every CNI ADD/DEL and DHCP exchange; the mapping is a binary search over
 * the pool's few allocatable ranges (one, usually), everything else is O(1)
 * bookkeeping around the structure's own search.
 *
 * Invariants: an ordinal is taken in the structure iff it is used or
 * quarantined; used counts the former, q.live the latter; an -ENOMEM is
 * reported before anything changes (room is reserved first).
 */
#include <stdio.h>

#include "index_impl.h"

/* ---- errors ------------------------------------------------------------------ */

static int fail_addr(const ipam__index *idx, int err, const ipam_addr *a, const char *why)
{
	char text[IPAM_ADDR_STRLEN];

	if (ipam_addr_format(a, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "(invalid)");
	return ipam__fail(err, "address", text, "%s %s (pool %s)", text, why, idx->name);
}

/* ipam__idx_locate() with the reason recorded for ipam_last_error(). */
static int locate_or_fail(const ipam__index *idx, const ipam_addr *a, ipam__u128 *ord)
{
	int r = ipam__idx_locate(idx, a, ord);

	if (r == -ERANGE)
		return fail_addr(idx, r, a,
				 a->family != idx->family ? "is of the other address family"
							  : "is outside the pool's subnet");
	if (r == -EACCES)
		return fail_addr(idx, r, a,
				 idx->gateway.family && ipam_addr_cmp(a, &idx->gateway) == 0
					 ? "is the gateway and is never handed out"
					 : "is excluded or reserved, or outside the pool's ranges");
	return r;
}

/* locate_or_fail() of a caller's arguments, NULL ones refused. */
static int locate_arg(const ipam__index *idx, const ipam_addr *a, ipam__u128 *ord)
{
	return idx && a ? locate_or_fail(idx, a, ord) : -EINVAL;
}

/* ---- the structure, whichever it is --------------------------------------- */

static inline int space_test(const ipam__index *idx, ipam__u128 ord)
{
	return idx->bm ? ipam__bitmap_test(idx->bm, (uint64_t)ord) : ipam__sparse_test(idx->sp, ord);
}

/* Room to take one more ordinal: nothing to do for the bitmap. */
static inline int space_reserve(ipam__index *idx)
{
	return idx->bm ? 0 : ipam__sparse_reserve(idx->sp, 1);
}

static inline void space_set(ipam__index *idx, ipam__u128 ord)
{
	if (idx->bm)
		ipam__bitmap_set(idx->bm, (uint64_t)ord);
	else
		ipam__sparse_set(idx->sp, ord);
}

static inline void space_clear(ipam__index *idx, ipam__u128 ord)
{
	if (idx->bm)
		ipam__bitmap_clear(idx->bm, (uint64_t)ord);
	else
		ipam__sparse_clear(idx->sp, ord);
}

static int state_of(const ipam__index *idx, ipam__u128 ord, const struct ipam__qentry **qe)
{
	const struct ipam__qentry *e;

	if (!space_test(idx, ord))
		return IPAM__ADDR_FREE;
	e = idx->q.live ? ipam__quar_get(&idx->q, ord) : NULL;
	if (qe)
		*qe = e;
	return e ? IPAM__ADDR_QUARANTINED : IPAM__ADDR_USED;
}

static inline ipam__u128 free_count(const ipam__index *idx)
{
	return idx->total - ((ipam__u128)idx->used + idx->q.live);
}

/* ---- quarantine rules ---------------------------------------------------------- */

/* Every configured condition must hold: the delay has passed and the number
 * of allocations since the release has been reached. */
static bool expired(const ipam__index *idx, const struct ipam__qentry *e, int64_t now_ms)
{
	/* (The difference unsigned: a release time read from a store may be
	 * anything, and now - released must not overflow.) */
	if (idx->q_ms && (now_ms < e->released_ms ||
			  (uint64_t)now_ms - (uint64_t)e->released_ms < (uint64_t)idx->q_ms))
		return false;
	if (idx->q_allocs && idx->allocs - e->alloc_seq < idx->q_allocs)
		return false;
	return true;
}

static size_t expire(ipam__index *idx, int64_t now_ms)
{
	const struct ipam__qentry *e;
	size_t n = 0;

	if (idx->q.live == 0)
		return 0;
	while ((e = ipam__quar_oldest(&idx->q)) && expired(idx, e, now_ms)) {
		ipam__u128 ord = e->ord;
		ipam__quar_pop(&idx->q);
		space_clear(idx, ord);
		n++;
	}
	return n;
}

int ipam__index_expire(ipam__index *idx, int64_t now_ms)
{
	size_t n;

	if (!idx)
		return -EINVAL;
	n = expire(idx, now_ms);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* ---- allocation ------------------------------------------------------------------ */

/* A free ordinal by policy (there is one), from the given cursor and
 * generator. Changes nothing in the index. */
static int pick(const ipam__index *idx, ipam__u128 cursor, struct ipam__rng *rng, ipam__u128 *ord)
{
	uint64_t o;
	int r;

	if (idx->sp) {
		switch (idx->policy) {
		case IPAM_POLICY_LOWEST:
			return ipam__sparse_next_free(idx->sp, 0, ord);
		case IPAM_POLICY_RANDOM:
			return ipam__sparse_random_free(idx->sp, rng, ord);
		case IPAM_POLICY_NEXT_FIT:
		default:
			return ipam__sparse_next_free(idx->sp, cursor, ord);
		}
	}
	switch (idx->policy) {
	case IPAM_POLICY_LOWEST:
		r = ipam__bitmap_next_free(idx->bm, 0, &o);
		break;
	case IPAM_POLICY_RANDOM:
		/* A few uniform draws over the pool, then the k-th free ordinal
		 * for a uniform k: both are uniform over the free ones. */
		for (int t = 0; t < 4; t++) {
			o = (uint64_t)ipam__rng_below(rng, idx->total);
			if (!ipam__bitmap_test(idx->bm, o)) {
				*ord = o;
				return 0;
			}
		}
		r = ipam__bitmap_select_free(
			idx->bm, (uint64_t)ipam__rng_below(rng, ipam__bitmap_free_count(idx->bm)), &o);
		break;
	case IPAM_POLICY_NEXT_FIT:
	default:
		r = ipam__bitmap_next_free(idx->bm, (uint64_t)cursor, &o);
		break;
	}
	*ord = o;
	return r;
}

/* May owner get ord now: free, or quarantined for that owner, or its
 * quarantine over at now_ms. */
static bool claimable(const ipam__index *idx, ipam__u128 ord, uint64_t owner, int64_t now_ms)
{
	const struct ipam__qentry *e = NULL;
	int st = state_of(idx, ord, &e);

	if (st == IPAM__ADDR_FREE)
		return true;
	return st == IPAM__ADDR_QUARANTINED &&
	       ((owner != 0 && e->owner == owner) || expired(idx, e, now_ms));
}

/*
 * The whole decision of an allocation, changing nothing: the hint if owner
 * may have it, else a free ordinal by policy, else (nothing free) the oldest
 * quarantined one if the quarantine is soft or over. *ord may be free or
 * quarantined.
 */
static int decide(const ipam__index *idx, uint64_t owner, const ipam_addr *hint, int64_t now_ms,
		  ipam__u128 cursor, struct ipam__rng *rng, ipam__u128 *ord, bool *picked)
{
	const struct ipam__qentry *e;

	*picked = false;
	if (hint && ipam__idx_locate(idx, hint, ord) == 0 && claimable(idx, *ord, owner, now_ms))
		return 0;
	if (free_count(idx) > 0) {
		*picked = true;
		return pick(idx, cursor, rng, ord);
	}
	e = ipam__quar_peek_oldest(&idx->q);
	if (e && (!idx->q_hard || expired(idx, e, now_ms))) {
		*ord = e->ord;
		return 0;
	}
	return ipam__fail(-ENOSPC, "pool", idx->name, "pool %s has no free address (%zu quarantined%s)",
			  idx->name, idx->q.live, idx->q_hard ? ", hard quarantine" : "");
}

/* Make ord (free or quarantined) used, with the bookkeeping of an
 * allocation when count_alloc. Room must be reserved. */
static void acquire(ipam__index *idx, ipam__u128 ord, bool count_alloc)
{
	if (idx->q.live == 0 || !ipam__quar_remove(&idx->q, ord))
		space_set(idx, ord);
	idx->used++;
	if (count_alloc) {
		idx->allocs++;
		idx->cursor = ord + 1 == idx->total ? 0 : ord + 1;
	}
}

int ipam__index_alloc(ipam__index *idx, uint64_t owner, const ipam_addr *hint, int64_t now_ms,
		      ipam_addr *out)
{
	ipam__u128 ord;
	bool picked;
	int r;

	if (!idx || !out || (hint && hint->family != idx->family))
		return -EINVAL;
	r = space_reserve(idx);
	if (r < 0)
		return r;
	expire(idx, now_ms);
	r = decide(idx, owner, hint, now_ms, idx->cursor, &idx->rng, &ord, &picked);
	if (r < 0)
		return r;
	if (picked && idx->sp && idx->policy != IPAM_POLICY_RANDOM)
		ipam__sparse_learn(idx->sp, idx->policy == IPAM_POLICY_LOWEST ? 0 : idx->cursor, ord);
	acquire(idx, ord, true);
	*out = ipam__idx_address(idx, ord);
	return 0;
}

int ipam__index_peek(const ipam__index *idx, uint64_t owner, const ipam_addr *hint,
		     int64_t now_ms, ipam__u128 *cursor, uint64_t *rng, ipam_addr *out)
{
	struct ipam__rng g;
	ipam__u128 ord;
	bool picked;
	int r;

	if (!idx || !cursor || !rng || !out || (hint && hint->family != idx->family))
		return -EINVAL;
	g.s = *rng;
	r = decide(idx, owner, hint, now_ms, *cursor, &g, &ord, &picked);
	if (r < 0)
		return r;
	*rng = g.s;
	*cursor = ord + 1 == idx->total ? 0 : ord + 1;
	*out = ipam__idx_address(idx, ord);
	return 0;
}

int ipam__index_alloc_exact(ipam__index *idx, const ipam_addr *a, uint64_t owner, int64_t now_ms)
{
	ipam__u128 ord;
	int r, st;

	r = locate_arg(idx, a, &ord);
	if (r < 0)
		return r;
	r = space_reserve(idx);
	if (r < 0)
		return r;
	expire(idx, now_ms);
	if (claimable(idx, ord, owner, now_ms)) {
		acquire(idx, ord, true);
		return 0;
	}
	st = state_of(idx, ord, NULL);
	if (st == IPAM__ADDR_QUARANTINED)
		return fail_addr(idx, -EBUSY, a, "is quarantined for its previous owner");
	return fail_addr(idx, -EEXIST, a, "is already in use");
}

/* Mark a used. `loading`: only from free (a quarantined address is a
 * second lease too), no message, no expiry; else from free or quarantined,
 * expiring the quarantine at now_ms first. */
static int acquire_at(ipam__index *idx, const ipam_addr *a, int64_t now_ms, bool count_alloc,
		      bool loading)
{
	ipam__u128 ord;
	int r;

	r = locate_arg(idx, a, &ord);
	if (r < 0)
		return r;
	if (loading && state_of(idx, ord, NULL) != IPAM__ADDR_FREE)
		return -EEXIST;
	r = space_reserve(idx);
	if (r < 0)
		return r;
	if (!loading) {
		expire(idx, now_ms);
		if (state_of(idx, ord, NULL) == IPAM__ADDR_USED)
			return fail_addr(idx, -EEXIST, a, "is already in use");
	}
	acquire(idx, ord, count_alloc);
	return 0;
}

int ipam__index_acquire(ipam__index *idx, const ipam_addr *a, int64_t now_ms, bool count_alloc)
{
	return acquire_at(idx, a, now_ms, count_alloc, false);
}

int ipam__index_load_held(ipam__index *idx, const ipam_addr *a, bool count_alloc)
{
	return acquire_at(idx, a, 0, count_alloc, true);
}

int ipam__index_reserve(ipam__index *idx, size_t n)
{
	int r;

	if (!idx)
		return -EINVAL;
	if (idx->sp && (r = ipam__sparse_reserve(idx->sp, n)) < 0)
		return r;
	if (idx->q_on && (r = ipam__quar_reserve(&idx->q, n)) < 0)
		return r;
	return 0;
}

int ipam__index_release(ipam__index *idx, const ipam_addr *a, uint64_t owner, int64_t now_ms)
{
	ipam__u128 ord;
	int r;

	r = locate_arg(idx, a, &ord);
	if (r < 0)
		return r;
	if (state_of(idx, ord, NULL) != IPAM__ADDR_USED)
		return fail_addr(idx, -ENOENT, a, "is not in use");
	if (idx->q_on) {
		r = ipam__quar_reserve(&idx->q, 1);
		if (r < 0)
			return r;
		ipam__quar_push(&idx->q, ord, owner, now_ms, idx->allocs);
	} else {
		space_clear(idx, ord);
	}
	idx->used--;
	return 0;
}

int ipam__index_take(ipam__index *idx, const ipam_addr *a)
{
	ipam__u128 ord;
	int r;

	r = locate_arg(idx, a, &ord);
	if (r < 0)
		return r;
	switch (state_of(idx, ord, NULL)) {
	case IPAM__ADDR_USED:
		return fail_addr(idx, -EEXIST, a, "is already in use");
	case IPAM__ADDR_QUARANTINED:
		ipam__quar_remove(&idx->q, ord);
		break;
	default:
		r = space_reserve(idx);
		if (r < 0)
			return r;
		space_set(idx, ord);
		break;
	}
	idx->used++;
	return 0;
}

int ipam__index_untake(ipam__index *idx, const ipam_addr *a)
{
	ipam__u128 ord;
	int r;

	r = locate_arg(idx, a, &ord);
	if (r < 0)
		return r;
	switch (state_of(idx, ord, NULL)) {
	case IPAM__ADDR_FREE:
		return fail_addr(idx, -ENOENT, a, "is already free");
	case IPAM__ADDR_QUARANTINED:
		ipam__quar_remove(&idx->q, ord);
		break;
	default:
		idx->used--;
		break;
	}
	space_clear(idx, ord);
	return 0;
}

/* ---- reading ----------------------------------------------------------------------- */

int ipam__index_state(const ipam__index *idx, const ipam_addr *a)
{
	ipam__u128 ord;
	int r;

	if (!idx || !a)
		return -EINVAL;
	r = ipam__idx_locate(idx, a, &ord);
	return r < 0 ? r : state_of(idx, ord, NULL);
}

int ipam__index_exact_state(const ipam__index *idx, const ipam_addr *a, uint64_t owner,
			    int64_t now_ms)
{
	ipam__u128 ord;
	int r;

	r = locate_arg(idx, a, &ord);
	if (r < 0)
		return r;
	return claimable(idx, ord, owner, now_ms) ? IPAM__ADDR_FREE : state_of(idx, ord, NULL);
}

int ipam__index_is_taken(const ipam__index *idx, const ipam_addr *a)
{
	int r = ipam__index_state(idx, a);

	return r < 0 ? r : r != IPAM__ADDR_FREE;
}

void ipam__index_counts(const ipam__index *idx, struct ipam__index_counts *out)
{
	if (!idx || !out)
		return;
	out->total = idx->total;
	out->used = idx->used;
	out->quarantined = idx->q.live;
	out->free = free_count(idx);
}

struct visit {
	const ipam__index *idx;
	ipam__index_visit_fn cb;
	void *ud;
};

static int visit_one(void *ud, ipam__u128 ord)
{
	struct visit *v = ud;
	ipam_addr a = ipam__idx_address(v->idx, ord);

	return v->cb(v->ud, &a, state_of(v->idx, ord, NULL));
}

int ipam__index_foreach(const ipam__index *idx, ipam__index_visit_fn cb, void *ud)
{
	struct visit v = { idx, cb, ud };

	if (!idx || !cb)
		return -EINVAL;
	if (idx->bm)
		return ipam__bitmap_foreach_taken(idx->bm, visit_one, &v);
	return ipam__sparse_foreach_taken(idx->sp, visit_one, &v);
}

