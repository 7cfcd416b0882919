/* SPDX-License-Identifier: MIT */
/*
 * Interned names for a loaded list: built once (one add per pod or node,
 * 10^5 of them in a large cluster), then looked up once per judged lease,
 * many times per list. So: one arena for the bytes, one array of
 * (hash, offset, length), and linear probing over a slot array kept at most
 * half full, rebuilt on growth from the stored hashes.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_internal.h"

#define NAMES_MAX ((size_t)1 << 31)

void ipam_k8s__names_init(k8s_names *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->seed = seed;
}

void ipam_k8s__names_free(k8s_names *t)
{
	if (!t)
		return;
	free(t->arena);
	free(t->names);
	free(t->slots);
	ipam_k8s__names_init(t, t->seed);
}

static uint64_t name_hash(const k8s_names *t, const char *s, size_t len)
{
	return XXH3_64bits_withSeed(s, len, t->seed);
}

int ipam_k8s__names_store(k8s_names *t, const char *s, size_t len, size_t *off)
{
	if (t->arena_cap - t->arena_len < len + 1) {
		size_t cap = t->arena_cap ? t->arena_cap : 4096;
		char *a;

		while (cap - t->arena_len < len + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		a = realloc(t->arena, cap);
		if (!a)
			return -ENOMEM;
		t->arena = a;
		t->arena_cap = cap;
	}
	*off = t->arena_len;
	memcpy(t->arena + t->arena_len, s, len);
	t->arena[t->arena_len + len] = '\0';
	t->arena_len += len + 1;
	return 0;
}

static long probe(const k8s_names *t, uint64_t h, const char *s, size_t len, size_t *slot)
{
	size_t mask = t->nslots - 1, i = (size_t)h & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t v = t->slots[i];
		const k8s_name *nm;

		if (!v) {
			*slot = i;
			return -1;
		}
		nm = &t->names[v - 1];
		if (nm->hash == h && nm->len == len && memcmp(t->arena + nm->off, s, len) == 0)
			return (long)(v - 1);
	}
}

static int grow_slots(k8s_names *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 64, i;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		size_t j = (size_t)t->names[i].hash & (nslots - 1);

		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = (uint32_t)(i + 1);
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

int ipam_k8s__names_add(k8s_names *t, const char *s, size_t len, uint32_t *idx)
{
	uint64_t h = name_hash(t, s, len);
	size_t slot;
	long found;
	int r;

	if (t->n >= NAMES_MAX - 1)
		return -E2BIG;
	if ((t->n + 1) * 2 > t->nslots && (r = grow_slots(t)) < 0)
		return r;
	found = probe(t, h, s, len, &slot);
	if (found >= 0) {
		*idx = (uint32_t)found;
		return -EEXIST;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		k8s_name *names = realloc(t->names, cap * sizeof(*names));

		if (!names)
			return -ENOMEM;
		t->names = names;
		t->cap = cap;
	}
	r = ipam_k8s__names_store(t, s, len, &t->names[t->n].off);
	if (r < 0)
		return r;
	t->names[t->n].hash = h;
	t->names[t->n].len = len;
	t->slots[slot] = (uint32_t)(t->n + 1);
	*idx = (uint32_t)t->n++;
	return 0;
}

long ipam_k8s__names_find(const k8s_names *t, const char *s, size_t len)
{
	size_t slot;

	if (!t->nslots)
		return -1;
	return probe(t, name_hash(t, s, len), s, len, &slot);
}
