/* SPDX-License-Identifier: MIT */
/*
 * The public lease record (ipam_lease: fixed arrays, easy to copy out):
 * its checks, copies and the decoder's form of it. The compact record a
 * view keeps, and the conversions to and from it, are in lease/heap.c.
 */
#include <stddef.h>
#include <stdint.h>
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

int ipam__text_check(const char *s, size_t size, const char *field, int required)
{
	size_t i, bad = SIZE_MAX;

	/* One pass finds the end and the first control byte (on the path of
	 * every commit: most strings are a few bytes in a large field). */
	for (i = 0; i < size && s[i]; i++)
		if (bad == SIZE_MAX && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))
			bad = i;
	if (i >= size)
		return ipam__fail_n(-ENAMETOOLONG, field, s, i, "longer than %zu bytes", size - 1);
	if (required && i == 0)
		return ipam__fail(-EINVAL, field, "", "must not be empty");
	if (bad != SIZE_MAX)
		return ipam__fail_n(-EINVAL, field, s, i, "control byte at offset %zu", bad);
	return 0;
}

int ipam__attrs_check(const ipam_attr *attrs, unsigned nattrs)
{
	int r;

	if (nattrs > IPAM_ATTRS_MAX)
		return ipam__fail(-E2BIG, "attrs", NULL, "at most %d attributes", IPAM_ATTRS_MAX);
	for (unsigned i = 0; i < nattrs; i++) {
		if ((r = ipam__text_check(attrs[i].key, sizeof(attrs[i].key), "attrs.key", 1)) < 0 ||
		    (r = ipam__text_check(attrs[i].value, sizeof(attrs[i].value), "attrs.value", 0)) < 0)
			return r;
	}
	return 0;
}

int ipam__lease_check(const ipam_lease *l)
{
	int r;

	if ((r = ipam__text_check(l->owner, sizeof(l->owner), "owner", 1)) < 0 ||
	    (r = ipam__text_check(l->ifname, sizeof(l->ifname), "ifname", 0)) < 0 ||
	    (r = ipam__text_check(l->attachment, sizeof(l->attachment), "attachment", 0)) < 0 ||
	    (r = ipam__text_check(l->node, sizeof(l->node), "node", 0)) < 0)
		return r;
	if ((r = ipam__attrs_check(l->attrs, l->nattrs)) < 0)
		return r;
	if (l->state < IPAM_LEASE_BOUND || l->state > IPAM_LEASE_SUSPECT)
		return ipam__fail(-EINVAL, "state", NULL, "unknown lease state %d", (int)l->state);
	if (!ipam_addr_is_valid(&l->addr))
		return ipam__fail(-EINVAL, "addr", NULL, "not a valid address");
	return 0;
}

void ipam__lease_from_ref(const struct ipam__lease_ref *l, ipam_lease *out)
{
	const uint8_t *a = l->attrs;

	ipam__strput(out->pool, l->pool, l->pool_len);
	out->addr = l->addr;
	ipam__strput(out->owner, l->owner, l->owner_len);
	ipam__strput(out->ifname, l->ifname, l->ifname_len);
	ipam__strput(out->attachment, l->attach, l->attach_len);
	ipam__strput(out->node, l->node, l->node_len);
	out->generation = l->generation;
	out->state = (ipam_lease_state)l->state;
	out->created = l->created;
	out->updated = l->updated;
	out->expires = l->expires;
	out->suspect_since = l->suspect_since;
	out->nattrs = l->nattrs;
	for (unsigned i = 0; i < l->nattrs; i++) {
		ipam__strput(out->attrs[i].key, (const char *)a + 1, a[0]);
		a += a[0] + 1;
		ipam__strput(out->attrs[i].value, (const char *)a + 1, a[0]);
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
