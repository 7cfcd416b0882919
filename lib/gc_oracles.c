/* SPDX-License-Identifier: MIT */
/*
 * Built-in GC oracles: the set of valid attachments (what CNI 1.1's GC
 * passes) and lease expiry (DHCP-like). Each is an ipam_gc_oracle embedded
 * as the first member of its own state, freed by ipam_gc_oracle_free().
 */
#include <string.h>
#include <time.h>

#include <ipam/gc.h>

#include "hash.h"
#include "internal.h"

/* ---- valid attachments ---------------------------------------------------------------- */

struct att_entry {
	uint64_t hash;
	char *key; /* "attachment\0ifname" ("" ifname: any), heap */
	size_t key_len;
};

struct att_oracle {
	ipam_gc_oracle base;
	struct att_entry *slots; /* open addressing, power of two */
	size_t cap, count;
	uint64_t seed;
};

static uint64_t key_hash(const struct att_oracle *o, const char *a, size_t alen, const char *ifn,
			 size_t ilen)
{
	return ipam__hash(a, alen, o->seed) ^ (ipam__hash(ifn, ilen, ~o->seed) * 0x9e3779b97f4a7c15ull);
}

static int att_find(const struct att_oracle *o, const char *a, const char *ifn)
{
	size_t alen = strlen(a), ilen = strlen(ifn);
	uint64_t h = key_hash(o, a, alen, ifn, ilen);

	if (!o->cap)
		return 0;
	for (size_t i = h & (o->cap - 1);; i = (i + 1) & (o->cap - 1)) {
		const struct att_entry *e = &o->slots[i];
		if (!e->key)
			return 0;
		if (e->hash == h && e->key_len == alen + ilen + 1 && memcmp(e->key, a, alen + 1) == 0 &&
		    memcmp(e->key + alen + 1, ifn, ilen) == 0)
			return 1;
	}
}

static int att_grow(struct att_oracle *o)
{
	size_t ncap = o->cap ? o->cap * 2 : 64;
	struct att_entry *n = ipam__calloc(ncap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < o->cap; i++) {
		if (!o->slots[i].key)
			continue;
		size_t j = o->slots[i].hash & (ncap - 1);
		while (n[j].key)
			j = (j + 1) & (ncap - 1);
		n[j] = o->slots[i];
	}
	ipam__release(o->slots, o->cap * sizeof(*o->slots));
	o->slots = n;
	o->cap = ncap;
	return 0;
}

static int att_judge(void *ud, const ipam_lease *l, int64_t now);

IPAM_EXPORT int ipam_gc_attachments_add(ipam_gc_oracle *base, const char *attachment,
					const char *ifname)
{
	struct att_oracle *o = (struct att_oracle *)base;
	size_t alen, ilen;
	char *key;

	if (!o || base->judge != att_judge || base->ud != o)
		return ipam__fail(-EINVAL, "oracle", base ? base->name : NULL,
				  "not an oracle made by ipam_gc_attachments_new()");
	if (!attachment || !attachment[0])
		return ipam__fail(-EINVAL, "attachment", NULL, "missing attachment");
	if (!ifname)
		ifname = "";
	alen = strnlen(attachment, IPAM_ATTACHMENT_MAX + 1);
	ilen = strnlen(ifname, IPAM_IFNAME_MAX + 1);
	if (alen > IPAM_ATTACHMENT_MAX || ilen > IPAM_IFNAME_MAX)
		return ipam__fail(-ENAMETOOLONG, "attachment", attachment, "attachment or ifname too long");
	if (att_find(o, attachment, ifname))
		return 0;
	if ((o->count + 1) * 2 > o->cap && att_grow(o) < 0)
		return ipam__fail_code(-ENOMEM);
	key = ipam__alloc(alen + ilen + 2);
	if (!key)
		return ipam__fail_code(-ENOMEM);
	memcpy(key, attachment, alen + 1);
	memcpy(key + alen + 1, ifname, ilen + 1);
	uint64_t h = key_hash(o, attachment, alen, ifname, ilen);
	size_t i = h & (o->cap - 1);
	while (o->slots[i].key)
		i = (i + 1) & (o->cap - 1);
	o->slots[i].hash = h;
	o->slots[i].key = key;
	o->slots[i].key_len = alen + ilen + 1;
	o->count++;
	return 0;
}

static int att_judge(void *ud, const ipam_lease *l, int64_t now)
{
	const struct att_oracle *o = ud;

	(void)now;
	if (!l->attachment[0])
		return IPAM_GC_UNKNOWN;
	return att_find(o, l->attachment, l->ifname) || att_find(o, l->attachment, "")
		       ? IPAM_GC_ALIVE
		       : IPAM_GC_DEAD;
}

static void att_destroy(void *ud)
{
	struct att_oracle *o = ud;

	for (size_t i = 0; i < o->cap; i++)
		if (o->slots[i].key)
			ipam__release(o->slots[i].key, o->slots[i].key_len + 1);
	ipam__release(o->slots, o->cap * sizeof(*o->slots));
	ipam__release(o, sizeof(*o));
}

IPAM_EXPORT int ipam_gc_attachments_new(ipam_gc_oracle **out)
{
	struct att_oracle *o;
	struct timespec ts;

	if (!out)
		return ipam__fail_code(-EINVAL);
	o = ipam__zalloc(sizeof(*o));
	if (!o)
		return ipam__fail_code(-ENOMEM);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	o->seed = ipam__hash(&ts, sizeof(ts), (uintptr_t)o);
	o->base.version = IPAM_GC_ORACLE_VERSION;
	o->base.name = "valid-attachments";
	o->base.ud = o;
	o->base.judge = att_judge;
	o->base.destroy = att_destroy;
	*out = &o->base;
	return 0;
}

/* ---- expiry ------------------------------------------------------------------------ */

struct exp_oracle {
	ipam_gc_oracle base;
	int64_t hold;
};

static int exp_judge(void *ud, const ipam_lease *l, int64_t now)
{
	const struct exp_oracle *o = ud;

	if (!l->expires)
		return IPAM_GC_UNKNOWN;
	if (now < l->expires)
		return IPAM_GC_ALIVE;
	/* How long ago it expired, exactly (unsigned): no hold can overflow. */
	return (uint64_t)now - (uint64_t)l->expires >= (uint64_t)o->hold ? IPAM_GC_DEAD
									  : IPAM_GC_ALIVE;
}

static void exp_destroy(void *ud)
{
	ipam__release(ud, sizeof(struct exp_oracle));
}

IPAM_EXPORT int ipam_gc_expiry_new(ipam_gc_oracle **out, int64_t hold_seconds)
{
	struct exp_oracle *o;

	if (out)
		*out = NULL;
	if (!out || hold_seconds < 0)
		return ipam__fail(-EINVAL, "hold", NULL, "the hold time must be 0 or more seconds");
	o = ipam__zalloc(sizeof(*o));
	if (!o)
		return ipam__fail_code(-ENOMEM);
	o->hold = hold_seconds;
	o->base.version = IPAM_GC_ORACLE_VERSION;
	o->base.name = "expiry";
	o->base.ud = o;
	o->base.judge = exp_judge;
	o->base.destroy = exp_destroy;
	*out = &o->base;
	return 0;
}

IPAM_EXPORT void ipam_gc_oracle_free(ipam_gc_oracle *o)
{
	if (o && o->destroy)
		o->destroy(o->ud);
}
