/* SPDX-License-Identifier: MIT */
/*
 * Reuse quarantine: released addresses waiting before another owner may get
 * them.
 *
 * Workload: every release appends, every allocation looks at the oldest
 * entry (expiry is FIFO: release times and allocation counts only grow, so
 * when the oldest entry has not expired no later one has), and a few calls
 * (stickiness, exact requests, direct marks) ask "is this ordinal
 * quarantined, for whom" or remove an entry from the middle.
 *
 * So: a ring of entries in release order, addressed by absolute position,
 * plus a hash map ordinal -> position. Removing from the middle marks the
 * entry dead; dead entries are dropped when they reach the front. A ring
 * position stays valid across growth because the ring is re-laid by
 * absolute position. This file holds no policy: index.c decides what has
 * expired and what the counts are.
 */
#include <string.h>

#include "index_impl.h"

void ipam__quar_init(struct ipam__quarantine *q)
{
	memset(q, 0, sizeof(*q));
	ipam__otab_init(&q->where, true);
}

void ipam__quar_fini(struct ipam__quarantine *q)
{
	ipam__release(q->ring, q->cap * sizeof(*q->ring));
	ipam__otab_fini(&q->where);
	memset(q, 0, sizeof(*q));
}

static inline struct ipam__qentry *at(const struct ipam__quarantine *q, uint64_t pos)
{
	return &q->ring[pos & (q->cap - 1)];
}

/* Drop dead entries at the front so they do not hold ring space. */
static void trim(struct ipam__quarantine *q)
{
	while (q->head != q->tail && !at(q, q->head)->live)
		q->head++;
	if (q->head == q->tail)
		q->head = q->tail = 0;
}

int ipam__quar_reserve(struct ipam__quarantine *q, size_t n)
{
	struct ipam__qentry *ring;
	size_t cap;
	int r;

	r = ipam__otab_reserve(&q->where, n);
	if (r < 0)
		return r;
	trim(q);
	if (n <= q->cap - (q->tail - q->head))
		return 0;
	cap = q->cap ? q->cap : 16;
	while (cap - (q->tail - q->head) < n) {
		if (cap > SIZE_MAX / 2 / sizeof(*ring))
			return -ENOMEM;
		cap *= 2;
	}
	ring = ipam__alloc(cap * sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	for (uint64_t pos = q->head; pos != q->tail; pos++)
		ring[pos & (cap - 1)] = *at(q, pos);
	ipam__release(q->ring, q->cap * sizeof(*q->ring));
	q->ring = ring;
	q->cap = cap;
	return 0;
}

void ipam__quar_push(struct ipam__quarantine *q, ipam__u128 ord, uint64_t owner,
		     int64_t released_ms, uint64_t alloc_seq)
{
	struct ipam__qentry *e = at(q, q->tail);

	e->ord = ord;
	e->owner = owner;
	e->released_ms = released_ms;
	e->alloc_seq = alloc_seq;
	e->live = 1;
	ipam__otab_insert(&q->where, ord, q->tail);
	q->tail++;
	q->live++;
}

const struct ipam__qentry *ipam__quar_get(const struct ipam__quarantine *q, ipam__u128 ord)
{
	uint64_t pos;

	if (q->live == 0 || !ipam__otab_find(&q->where, ord, &pos))
		return NULL;
	return at(q, pos);
}

int ipam__quar_remove(struct ipam__quarantine *q, ipam__u128 ord)
{
	uint64_t pos;

	if (q->live == 0 || !ipam__otab_remove(&q->where, ord, &pos))
		return 0;
	at(q, pos)->live = 0;
	q->live--;
	trim(q);
	return 1;
}

const struct ipam__qentry *ipam__quar_oldest(struct ipam__quarantine *q)
{
	trim(q);
	return q->head == q->tail ? NULL : at(q, q->head);
}

const struct ipam__qentry *ipam__quar_peek_oldest(const struct ipam__quarantine *q)
{
	for (uint64_t pos = q->head; pos != q->tail; pos++)
		if (at(q, pos)->live)
			return at(q, pos);
	return NULL;
}

void ipam__quar_pop(struct ipam__quarantine *q)
{
	const struct ipam__qentry *e = ipam__quar_oldest(q);

	if (e)
		ipam__quar_remove(q, e->ord);
}

size_t ipam__quar_bytes(const struct ipam__quarantine *q)
{
	return q->cap * sizeof(*q->ring) + ipam__otab_bytes(&q->where);
}
