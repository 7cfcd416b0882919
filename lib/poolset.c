/* SPDX-License-Identifier: MIT */
/*
 * Pool sets: the pools of one network (one CNI network, one DHCP scope).
 * A set owns its pools. Adding checks the pool and that no address could
 * belong to two pools of the set, so every address has exactly one home.
 */
#include <string.h>

#include "pool_internal.h"

#define POOLSET_MAX_POOLS IPAM__POOLSET_MAX_POOLS

struct ipam_poolset {
	char name[IPAM_NAME_MAX + 1];
	ipam_pool *pools[POOLSET_MAX_POOLS];
	unsigned count;
};

IPAM_EXPORT int ipam_poolset_new(ipam_poolset **out, const char *name)
{
	ipam_poolset *s;
	int r;

	if (!out)
		return ipam__fail(-EINVAL, "poolset", NULL, "missing argument");
	*out = NULL;
	r = ipam_name_check(name);
	if (r < 0)
		return r;
	s = ipam__zalloc(sizeof(*s));
	if (!s)
		return ipam__fail_code(-ENOMEM);
	memcpy(s->name, name, strlen(name) + 1);
	*out = s;
	return 0;
}

IPAM_EXPORT ipam_poolset *ipam_poolset_free(ipam_poolset *s)
{
	if (!s)
		return NULL;
	for (unsigned i = 0; i < s->count; i++)
		ipam_pool_free(s->pools[i]);
	ipam__release(s, sizeof(*s));
	return NULL;
}

IPAM_EXPORT int ipam_poolset_add(ipam_poolset *s, ipam_pool *p)
{
	char a[IPAM_RANGE_STRLEN], b[IPAM_RANGE_STRLEN];
	int r;

	if (!s || !p)
		return ipam__fail(-EINVAL, "poolset", NULL, "missing argument");
	r = ipam_pool_validate(p);
	if (r < 0)
		return r;
	if (s->count == POOLSET_MAX_POOLS)
		return ipam__fail(-E2BIG, "poolset", s->name, "a set holds at most %d pools",
				  POOLSET_MAX_POOLS);
	for (unsigned i = 0; i < s->count; i++) {
		const ipam_pool *o = s->pools[i];
		if (o == p)
			return ipam__fail(-EEXIST, "poolset", p->name, "pool already in the set");
		if (strcmp(o->name, p->name) == 0)
			return ipam__fail(-EEXIST, "pool", p->name, "another pool of the set has this name");
		for (unsigned x = 0; x < ipam_pool_range_count(p); x++) {
			for (unsigned y = 0; y < ipam_pool_range_count(o); y++) {
				const ipam_range *rx = ipam_pool_range(p, x), *ry = ipam_pool_range(o, y);
				if (ipam_range_overlaps(rx, ry)) {
					ipam_range_format(rx, a, sizeof(a));
					ipam_range_format(ry, b, sizeof(b));
					return ipam__fail(-EEXIST, "ranges", a,
							  "overlaps range %s of pool %s in the same set", b,
							  o->name);
				}
			}
		}
	}
	s->pools[s->count++] = p;
	return 0;
}

IPAM_EXPORT const char *ipam_poolset_name(const ipam_poolset *s)
{
	return s ? s->name : NULL;
}

IPAM_EXPORT unsigned ipam_poolset_count(const ipam_poolset *s)
{
	return s ? s->count : 0;
}

IPAM_EXPORT const ipam_pool *ipam_poolset_pool(const ipam_poolset *s, unsigned i)
{
	return s && i < s->count ? s->pools[i] : NULL;
}

IPAM_EXPORT const ipam_pool *ipam_poolset_find(const ipam_poolset *s, const char *name)
{
	if (!s || !name)
		return NULL;
	for (unsigned i = 0; i < s->count; i++)
		if (strcmp(s->pools[i]->name, name) == 0)
			return s->pools[i];
	return NULL;
}

IPAM_EXPORT const ipam_pool *ipam_poolset_find_addr(const ipam_poolset *s, const ipam_addr *a)
{
	if (!s || !a)
		return NULL;
	for (unsigned i = 0; i < s->count; i++)
		if (ipam_pool_is_allocatable(s->pools[i], a))
			return s->pools[i];
	return NULL;
}

int ipam__poolset_clone(const ipam_poolset *s, ipam_poolset **out)
{
	ipam_poolset *c = ipam__zalloc(sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	memcpy(c->name, s->name, sizeof(c->name));
	for (; c->count < s->count; c->count++) {
		if (ipam__pool_clone(s->pools[c->count], &c->pools[c->count]) < 0) {
			ipam_poolset_free(c);
			return -ENOMEM;
		}
	}
	*out = c;
	return 0;
}

int ipam__poolset_same(const ipam_poolset *a, const ipam_poolset *b)
{
	if (strcmp(a->name, b->name) != 0 || a->count != b->count)
		return 0;
	for (unsigned i = 0; i < a->count; i++)
		if (!ipam__pool_same(a->pools[i], b->pools[i]))
			return 0;
	return 1;
}
