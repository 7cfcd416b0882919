/* SPDX-License-Identifier: MIT */
#ifndef IPAM_TEST_LEASE_EQ_H
#define IPAM_TEST_LEASE_EQ_H

/* Comparing two public lease records field by field, for the suites. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ipam/ipam.h>

/* NULL if a and b are equal in every field (attributes up to nattrs), else
 * the first field that differs, with both values, written into buf. */
static inline const char *tu_lease_diff(const ipam_lease *a, const ipam_lease *b, char *buf,
					size_t size)
{
	char x[IPAM_ADDR_STRLEN], y[IPAM_ADDR_STRLEN];
	const struct {
		const char *name, *a, *b;
	} strs[] = {
		{ "pool", a->pool, b->pool },		{ "owner", a->owner, b->owner },
		{ "ifname", a->ifname, b->ifname },	{ "attachment", a->attachment, b->attachment },
		{ "node", a->node, b->node },
	};
	const struct {
		const char *name;
		int64_t a, b;
	} nums[] = {
		{ "generation", (int64_t)a->generation, (int64_t)b->generation },
		{ "state", a->state, b->state },
		{ "created", a->created, b->created },
		{ "updated", a->updated, b->updated },
		{ "expires", a->expires, b->expires },
		{ "suspect_since", a->suspect_since, b->suspect_since },
		{ "nattrs", a->nattrs, b->nattrs },
	};

	if (ipam_addr_cmp(&a->addr, &b->addr) != 0) {
		ipam_addr_format(&a->addr, x, sizeof(x));
		ipam_addr_format(&b->addr, y, sizeof(y));
		snprintf(buf, size, "addr: %s vs %s", x, y);
		return buf;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(strs[i].a, strs[i].b) != 0) {
			snprintf(buf, size, "%s: \"%s\" vs \"%s\"", strs[i].name, strs[i].a, strs[i].b);
			return buf;
		}
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i].a != nums[i].b) {
			snprintf(buf, size, "%s: %" PRId64 " vs %" PRId64, nums[i].name, nums[i].a, nums[i].b);
			return buf;
		}
	}
	for (unsigned i = 0; i < a->nattrs && i < IPAM_ATTRS_MAX; i++) {
		if (strcmp(a->attrs[i].key, b->attrs[i].key) != 0 ||
		    strcmp(a->attrs[i].value, b->attrs[i].value) != 0) {
			snprintf(buf, size, "attrs[%u]: %s=%s vs %s=%s", i, a->attrs[i].key,
				 a->attrs[i].value, b->attrs[i].key, b->attrs[i].value);
			return buf;
		}
	}
	return NULL;
}

#endif /* IPAM_TEST_LEASE_EQ_H */
