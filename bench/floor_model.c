/* SPDX-License-Identifier: MIT */
/*
 * A lower bound for bench-ctx section 1: what allocate+release costs when it
 * does only the work the contract cannot do without, written as plainly as
 * it can be, on the same raw index, pool, fill and names.
 *
 * Allocate: owner, ifname and attachment checked (length, control bytes,
 * by the library's own scan);
 * one write lock; the (owner, ifname) looked up (a miss in the churn); the
 * index's next-fit allocation; a record holding the three strings, its
 * generation and times (one read of the coarse clock); three hash chains
 * linked, by address, by (owner, ifname) and by attachment, each hashed
 * with seeded XXH3; the lease copied out. Release by attachment: the
 * attachment checked; one write lock; looked up and compared; the three
 * chains unlinked; the index's release; the record freed.
 *
 * Left out, each of which the library does: deciding under a read lock and
 * committing under the write lock (optimistic concurrency), preconditions,
 * candidate claims between threads, the store interface, the node and
 * attributes, TTL and states, per-state statistics, quarantine handling,
 * rebinds, the error record, memory accounting (records here take a whole
 * 64-byte size class from a free list; no chains grow). So this is a floor,
 * not an alternative design: a library meeting the contract costs more.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <ipam/ipam.h>

#include "floor_model.h"
#include "index/index.h"
#include "lease/record.h"

enum { BY_ADDR, BY_OWNER, BY_ATTACH, NCHAINS };

struct frec {
	struct frec *next[NCHAINS];
	ipam_addr addr;
	uint64_t generation;
	int64_t created, updated;
	uint16_t olen, ilen, alen;
	char text[]; /* owner, ifname, attachment, each NUL-terminated */
};

#define CLASS 64
#define NCLASS 16 /* records up to 1 KiB: every name within the maxima */

struct floor_model {
	pthread_rwlock_t lock;
	ipam__index *idx;
	char pool_name[64], node[IPAM_NODE_MAX + 1];
	size_t pool_len, node_len;
	uint64_t seed, revision;
	size_t mask;
	struct frec **bucket[NCHAINS];
	struct frec *free_list[NCLASS];
};

static size_t class_of(size_t bytes)
{
	return (bytes + CLASS - 1) / CLASS - 1;
}

static struct frec *rec_get(struct floor_model *f, size_t bytes)
{
	size_t c = class_of(bytes);
	struct frec *r = f->free_list[c];

	if (r) {
		f->free_list[c] = r->next[0];
		return r;
	}
	return malloc((c + 1) * CLASS);
}

static void rec_put(struct floor_model *f, struct frec *r)
{
	size_t c = class_of(sizeof(*r) + r->olen + r->ilen + r->alen + 3u);

	r->next[0] = f->free_list[c];
	f->free_list[c] = r;
}

static const char *rec_owner(const struct frec *r)
{
	return r->text;
}

static const char *rec_ifname(const struct frec *r)
{
	return r->text + r->olen + 1;
}

static const char *rec_attach(const struct frec *r)
{
	return r->text + r->olen + r->ilen + 2;
}

static uint64_t hash_addr(const struct floor_model *f, const ipam_addr *a)
{
	uint64_t v[2] = { a->hi, a->lo };
	return XXH3_64bits_withSeed(v, sizeof(v), f->seed);
}

static uint64_t hash_owner(const struct floor_model *f, const char *owner, size_t olen,
			   const char *ifname, size_t ilen)
{
	return XXH3_64bits_withSeed(ifname, ilen, XXH3_64bits_withSeed(owner, olen, f->seed));
}

static uint64_t hash_attach(const struct floor_model *f, const char *att, size_t alen)
{
	return XXH3_64bits_withSeed(att, alen, f->seed);
}

static void link_rec(struct floor_model *f, int chain, uint64_t h, struct frec *r)
{
	struct frec **b = &f->bucket[chain][h & f->mask];
	r->next[chain] = *b;
	*b = r;
}

static void unlink_rec(struct floor_model *f, int chain, uint64_t h, struct frec *r)
{
	struct frec **p = &f->bucket[chain][h & f->mask];
	while (*p != r)
		p = &(*p)->next[chain];
	*p = r->next[chain];
}

int floor_model_new(struct floor_model **out, ipam_pool *pool, const char *node, size_t buckets)
{
	struct floor_model *f = calloc(1, sizeof(*f));
	size_t n = 1;

	if (!f)
		return -ENOMEM;
	while (n < buckets)
		n *= 2;
	f->mask = n - 1;
	f->seed = 0x5eed5eed12345678ull;
	f->pool_len = strlen(ipam_pool_name(pool));
	f->node_len = strlen(node);
	if (f->pool_len >= sizeof(f->pool_name) || f->node_len >= sizeof(f->node)) {
		free(f);
		return -ENAMETOOLONG;
	}
	memcpy(f->pool_name, ipam_pool_name(pool), f->pool_len + 1);
	memcpy(f->node, node, f->node_len + 1);
	pthread_rwlock_init(&f->lock, NULL);
	for (int c = 0; c < NCHAINS; c++)
		if (!(f->bucket[c] = calloc(n, sizeof(*f->bucket[c])))) {
			floor_model_free(f);
			return -ENOMEM;
		}
	if (ipam__index_new(&f->idx, pool) < 0) {
		floor_model_free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

void floor_model_free(struct floor_model *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->bucket[BY_ADDR] && i <= f->mask; i++)
		for (struct frec *r = f->bucket[BY_ADDR][i], *next; r; r = next) {
			next = r->next[BY_ADDR];
			free(r);
		}
	for (int c = 0; c < NCLASS; c++)
		for (struct frec *r = f->free_list[c], *next; r; r = next) {
			next = r->next[0];
			free(r);
		}
	for (int c = 0; c < NCHAINS; c++)
		free(f->bucket[c]);
	ipam__index_free(f->idx);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

int floor_model_allocate(struct floor_model *f, const char *owner, const char *ifname,
			 const char *attachment, ipam_lease *out)
{
	size_t olen, ilen, alen;
	struct timespec ts;
	struct frec *r;
	uint64_t h;
	int e;

	if ((e = ipam__text_scan(owner, IPAM_OWNER_MAX, &olen)) < 0 ||
	    (e = ipam__text_scan(ifname, IPAM_IFNAME_MAX, &ilen)) < 0 ||
	    (e = ipam__text_scan(attachment, IPAM_ATTACHMENT_MAX, &alen)) < 0)
		return e;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	h = hash_owner(f, owner, olen, ifname, ilen);
	pthread_rwlock_wrlock(&f->lock);
	for (r = f->bucket[BY_OWNER][h & f->mask]; r; r = r->next[BY_OWNER])
		if (r->olen == olen && r->ilen == ilen && memcmp(rec_owner(r), owner, olen) == 0 &&
		    memcmp(rec_ifname(r), ifname, ilen) == 0)
			break;
	if (r) { /* this benchmark never asks twice */
		pthread_rwlock_unlock(&f->lock);
		return -EEXIST;
	}
	r = rec_get(f, sizeof(*r) + olen + ilen + alen + 3);
	if (!r) {
		pthread_rwlock_unlock(&f->lock);
		return -ENOMEM;
	}
	if ((e = ipam__index_alloc(f->idx, 0, NULL, 0, &r->addr)) < 0) {
		rec_put(f, r);
		pthread_rwlock_unlock(&f->lock);
		return e;
	}
	r->olen = (uint16_t)olen;
	r->ilen = (uint16_t)ilen;
	r->alen = (uint16_t)alen;
	memcpy(r->text, owner, olen + 1);
	memcpy(r->text + olen + 1, ifname, ilen + 1);
	memcpy(r->text + olen + ilen + 2, attachment, alen + 1);
	r->generation = ++f->revision;
	r->created = r->updated = ts.tv_sec;
	link_rec(f, BY_OWNER, h, r);
	link_rec(f, BY_ADDR, hash_addr(f, &r->addr), r);
	link_rec(f, BY_ATTACH, hash_attach(f, attachment, alen), r);
	/* The lease out, from the record, as a reader would get it. */
	memcpy(out->pool, f->pool_name, f->pool_len + 1);
	out->addr = r->addr;
	memcpy(out->owner, rec_owner(r), olen + 1);
	memcpy(out->ifname, rec_ifname(r), ilen + 1);
	memcpy(out->attachment, rec_attach(r), alen + 1);
	memcpy(out->node, f->node, f->node_len + 1);
	out->generation = r->generation;
	out->state = IPAM_LEASE_BOUND;
	out->created = r->created;
	out->updated = r->updated;
	out->expires = 0;
	out->suspect_since = 0;
	out->nattrs = 0;
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

int floor_model_release(struct floor_model *f, const char *attachment)
{
	size_t alen;
	struct frec *r;
	uint64_t h;
	int e;

	if ((e = ipam__text_scan(attachment, IPAM_ATTACHMENT_MAX, &alen)) < 0)
		return e;
	h = hash_attach(f, attachment, alen);
	pthread_rwlock_wrlock(&f->lock);
	for (r = f->bucket[BY_ATTACH][h & f->mask]; r; r = r->next[BY_ATTACH])
		if (r->alen == alen && memcmp(rec_attach(r), attachment, alen) == 0)
			break;
	if (!r) {
		pthread_rwlock_unlock(&f->lock);
		return 0;
	}
	if ((e = ipam__index_release(f->idx, &r->addr, 0, 0)) < 0) {
		pthread_rwlock_unlock(&f->lock);
		return e;
	}
	unlink_rec(f, BY_ATTACH, h, r);
	unlink_rec(f, BY_ADDR, hash_addr(f, &r->addr), r);
	unlink_rec(f, BY_OWNER, hash_owner(f, rec_owner(r), r->olen, rec_ifname(r), r->ilen), r);
	rec_put(f, r);
	pthread_rwlock_unlock(&f->lock);
	return 1;
}
