/* SPDX-License-Identifier: MIT */
/*
 * Lease records: conversion between the public ipam_lease (fixed arrays,
 * easy to copy out) and the compact record the view keeps (one allocation,
 * strings packed). A view holds one compact record per leased address, so
 * its size is most of the memory cost of a lease.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lease/record.h"

IPAM_EXPORT const char *ipam_lease_state_name(ipam_lease_state s)
{
	switch (s) {
	case IPAM_LEASE_BOUND:
		return "bound";
	case IPAM_LEASE_QUARANTINED:
		return "quarantined";
	case IPAM_LEASE_RESERVED:
		return "reserved";
	case IPAM_LEASE_SUSPECT:
		return "suspect";
	default:
		return "unknown";
	}
}

int ipam__copy_field(char *dst, size_t size, const char *src, const char *field)
{
	size_t n;

	if (!src) {
		dst[0] = '\0';
		return 0;
	}
	n = strnlen(src, size);
	if (n >= size)
		return ipam__fail_n(-ENAMETOOLONG, field, src, n, "longer than %zu bytes", size - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

static int check_str(const char *s, size_t size, const char *field, int required)
{
	size_t n = strnlen(s, size);

	if (n >= size)
		return ipam__fail_n(-ENAMETOOLONG, field, s, n, "longer than %zu bytes", size - 1);
	if (required && n == 0)
		return ipam__fail(-EINVAL, field, "", "must not be empty");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return ipam__fail_n(-EINVAL, field, s, n, "control byte at offset %zu", i);
	return 0;
}

int ipam__lease_check(const ipam_lease *l)
{
	int r;

	if ((r = check_str(l->owner, sizeof(l->owner), "owner", 1)) < 0 ||
	    (r = check_str(l->ifname, sizeof(l->ifname), "ifname", 0)) < 0 ||
	    (r = check_str(l->attachment, sizeof(l->attachment), "attachment", 0)) < 0 ||
	    (r = check_str(l->node, sizeof(l->node), "node", 0)) < 0)
		return r;
	if (l->nattrs > IPAM_ATTRS_MAX)
		return ipam__fail(-E2BIG, "attrs", NULL, "at most %d attributes", IPAM_ATTRS_MAX);
	for (unsigned i = 0; i < l->nattrs; i++) {
		if ((r = check_str(l->attrs[i].key, sizeof(l->attrs[i].key), "attrs.key", 1)) < 0 ||
		    (r = check_str(l->attrs[i].value, sizeof(l->attrs[i].value), "attrs.value", 0)) < 0)
			return r;
	}
	if (l->state < IPAM_LEASE_BOUND || l->state > IPAM_LEASE_SUSPECT)
		return ipam__fail(-EINVAL, "state", NULL, "unknown lease state %d", (int)l->state);
	if (!ipam_addr_is_valid(&l->addr))
		return ipam__fail(-EINVAL, "addr", NULL, "not a valid address");
	return 0;
}

int ipam__rec_new(struct ipam__rec **out, const ipam_lease *l, unsigned pool)
{
	size_t lo = strlen(l->owner), li = strlen(l->ifname), la = strlen(l->attachment);
	size_t ln = strlen(l->node), size = sizeof(struct ipam__rec) + lo + li + la + ln + 4;
	struct ipam__rec *r;
	char *p;

	for (unsigned i = 0; i < l->nattrs; i++)
		size += strlen(l->attrs[i].key) + strlen(l->attrs[i].value) + 2;
	r = ipam__alloc(size);
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->addr = ipam__addr_value(&l->addr);
	r->family = l->addr.family;
	r->generation = l->generation;
	r->created = l->created;
	r->updated = l->updated;
	r->expires = l->expires;
	r->suspect_since = l->suspect_since;
	r->size = (uint32_t)size;
	r->pool = (uint16_t)pool;
	r->state = (uint8_t)l->state;
	r->nattrs = (uint8_t)l->nattrs;
	r->owner_len = (uint8_t)lo;
	r->ifname_len = (uint8_t)li;
	r->attach_len = (uint8_t)la;
	r->node_len = (uint8_t)ln;
	p = r->data;
	memcpy(p, l->owner, lo + 1);
	p += lo + 1;
	memcpy(p, l->ifname, li + 1);
	p += li + 1;
	memcpy(p, l->attachment, la + 1);
	p += la + 1;
	memcpy(p, l->node, ln + 1);
	p += ln + 1;
	for (unsigned i = 0; i < l->nattrs; i++) {
		size_t k = strlen(l->attrs[i].key) + 1, v = strlen(l->attrs[i].value) + 1;
		memcpy(p, l->attrs[i].key, k);
		p += k;
		memcpy(p, l->attrs[i].value, v);
		p += v;
	}
	*out = r;
	return 0;
}

void ipam__rec_free(struct ipam__rec *r)
{
	if (r && !r->in_arena)
		ipam__release(r, r->size);
}

void ipam__rec_fill_ref(struct ipam__rec *r, const struct ipam__lease_ref *l, unsigned pool)
{
	char *p = r->data;

	memset(r, 0, offsetof(struct ipam__rec, data));
	r->addr = ipam__addr_value(&l->addr);
	r->family = l->addr.family;
	r->generation = l->generation;
	r->created = l->created;
	r->updated = l->updated;
	r->expires = l->expires;
	r->suspect_since = l->suspect_since;
	r->size = (uint32_t)ipam__rec_size_ref(l);
	r->pool = (uint16_t)pool;
	r->state = (uint8_t)l->state;
	r->nattrs = (uint8_t)l->nattrs;
	r->owner_len = (uint8_t)l->owner_len;
	r->ifname_len = l->ifname_len;
	r->attach_len = (uint8_t)l->attach_len;
	r->node_len = l->node_len;
	memcpy(p, l->owner, l->owner_len);
	p += l->owner_len;
	*p++ = '\0';
	memcpy(p, l->ifname, l->ifname_len);
	p += l->ifname_len;
	*p++ = '\0';
	memcpy(p, l->attach, l->attach_len);
	p += l->attach_len;
	*p++ = '\0';
	memcpy(p, l->node, l->node_len);
	p += l->node_len;
	*p++ = '\0';
	/* (len, bytes) pairs become (bytes, NUL): the same size. */
	for (size_t i = 0; i < l->attrs_len;) {
		size_t n = l->attrs[i];
		memcpy(p, l->attrs + i + 1, n);
		p += n;
		*p++ = '\0';
		i += n + 1;
	}
}

void ipam__lease_from_ref(const struct ipam__lease_ref *l, ipam_lease *out)
{
	const uint8_t *a = l->attrs;

	memcpy(out->pool, l->pool, l->pool_len);
	out->pool[l->pool_len] = '\0';
	out->addr = l->addr;
	memcpy(out->owner, l->owner, l->owner_len);
	out->owner[l->owner_len] = '\0';
	memcpy(out->ifname, l->ifname, l->ifname_len);
	out->ifname[l->ifname_len] = '\0';
	memcpy(out->attachment, l->attach, l->attach_len);
	out->attachment[l->attach_len] = '\0';
	memcpy(out->node, l->node, l->node_len);
	out->node[l->node_len] = '\0';
	out->generation = l->generation;
	out->state = (ipam_lease_state)l->state;
	out->created = l->created;
	out->updated = l->updated;
	out->expires = l->expires;
	out->suspect_since = l->suspect_since;
	out->nattrs = l->nattrs;
	for (unsigned i = 0; i < l->nattrs; i++) {
		memcpy(out->attrs[i].key, a + 1, a[0]);
		out->attrs[i].key[a[0]] = '\0';
		a += a[0] + 1;
		memcpy(out->attrs[i].value, a + 1, a[0]);
		out->attrs[i].value[a[0]] = '\0';
		a += a[0] + 1;
	}
}

static void copy_str(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void ipam__lease_copy(ipam_lease *dst, const ipam_lease *src)
{
	unsigned n = src->nattrs < IPAM_ATTRS_MAX ? src->nattrs : IPAM_ATTRS_MAX;

	copy_str(dst->pool, src->pool, sizeof(dst->pool));
	dst->addr = src->addr;
	copy_str(dst->owner, src->owner, sizeof(dst->owner));
	copy_str(dst->ifname, src->ifname, sizeof(dst->ifname));
	copy_str(dst->attachment, src->attachment, sizeof(dst->attachment));
	copy_str(dst->node, src->node, sizeof(dst->node));
	dst->generation = src->generation;
	dst->state = src->state;
	dst->created = src->created;
	dst->updated = src->updated;
	dst->expires = src->expires;
	dst->suspect_since = src->suspect_since;
	dst->nattrs = n;
	for (unsigned i = 0; i < n; i++) {
		copy_str(dst->attrs[i].key, src->attrs[i].key, sizeof(dst->attrs[i].key));
		copy_str(dst->attrs[i].value, src->attrs[i].value, sizeof(dst->attrs[i].value));
	}
}

void ipam__rec_export(const struct ipam__rec *r, const char *pool_name, ipam_lease *out)
{
	const char *p;
	size_t pn = strnlen(pool_name, sizeof(out->pool) - 1);

	/* Field by field, no memset of the whole (large) struct: this is on
	 * the path of every allocation and release. */
	memcpy(out->pool, pool_name, pn);
	out->pool[pn] = '\0';
	memset(&out->addr, 0, sizeof(out->addr));
	out->addr.family = r->family;
	ipam__addr_set_value(&out->addr, r->addr);
	memcpy(out->owner, ipam__rec_owner(r), (size_t)r->owner_len + 1);
	memcpy(out->ifname, ipam__rec_ifname(r), (size_t)r->ifname_len + 1);
	memcpy(out->attachment, ipam__rec_attach(r), (size_t)r->attach_len + 1);
	memcpy(out->node, ipam__rec_node(r), (size_t)r->node_len + 1);
	out->generation = r->generation;
	out->state = (ipam_lease_state)r->state;
	out->created = r->created;
	out->updated = r->updated;
	out->expires = r->expires;
	out->suspect_since = r->suspect_since;
	out->nattrs = r->nattrs;
	p = ipam__rec_node(r) + r->node_len + 1;
	for (unsigned i = 0; i < r->nattrs; i++) {
		size_t k = strlen(p), v;
		memcpy(out->attrs[i].key, p, k + 1);
		p += k + 1;
		v = strlen(p);
		memcpy(out->attrs[i].value, p, v + 1);
		p += v + 1;
	}
}
