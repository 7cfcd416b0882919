/* SPDX-License-Identifier: MIT */
/*
 * host-local's range sets into libipam pools.
 *
 * A range set (one element of ipam.ranges, or the older single range written
 * directly in ipam) is a group: the result carries one address per group.
 * Ranges of a group that share a subnet become one pool with several ranges;
 * each further subnet of the group becomes a further pool of the same group
 * (a libipam pool has exactly one subnet). Pools are named "rs<G>" for the
 * first subnet of group G and "rs<G>-<K>" for the K-th further one, so the
 * names follow host-local's range-set index and do not depend on addresses.
 *
 * Defaults are host-local's: rangeStart is the subnet's second address,
 * rangeEnd its last but one (IPv4, the broadcast address is left out) or its
 * last (IPv6), gateway the second address. Subnets too small for that (/31,
 * /32, /127, /128, which host-local refuses) hand out every address and
 * have no default gateway. One gateway per subnet: ranges of one subnet that
 * name different gateways are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipam_config.h"
#include "netconf_internal.h"

struct raw_range {
	ipam_prefix subnet;
	ipam_range span;
	ipam_addr gw;
	int gw_explicit;
};

static int parse_addr_field(const json_t *obj, const char *key, const char *path,
			    const ipam_prefix *subnet, ipam_addr *out, int *found,
			    ipam_netconf_error *err)
{
	char field[96];
	const char *s;
	int r;

	snprintf(field, sizeof(field), "%s.%s", path, key);
	*found = 0;
	if (nc__get_string(obj, key, field, 0, &s, err) < 0)
		return -1;
	if (!s || !*s)
		return 0; /* host-local treats "" as absent too */
	r = ipam_addr_parse(s, out);
	if (r < 0)
		return nc__lib_fail(err, r, field, s);
	if (out->family != subnet->addr.family || !ipam_prefix_contains(subnet, out)) {
		char sub[IPAM_PREFIX_STRLEN];
		ipam_prefix_format(subnet, sub, sizeof(sub));
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
					 "%s \"%.64s\" is outside the subnet %s", field, s, sub);
	}
	*found = 1;
	return 0;
}

/* host-local's defaults for a subnet: the span and the gateway. */
static void default_span(const ipam_prefix *p, ipam_range *span, ipam_addr *gw, int *has_gw)
{
	unsigned bits = ipam_family_bits(p->addr.family);
	ipam_range all = ipam_prefix_range(p);

	*span = all;
	*has_gw = 0;
	if (p->len + 2u > bits)
		return; /* /31, /32, /127, /128: all of it, no gateway */
	ipam_addr_add(&all.first, ipam_u128_make(0, 1), &span->first);
	if (p->addr.family == IPAM_AF_INET)
		ipam_addr_sub(&all.last, ipam_u128_make(0, 1), &span->last);
	*gw = span->first;
	*has_gw = 1;
}

static int parse_range(const json_t *obj, const char *path, struct raw_range *out,
		       ipam_netconf_error *err)
{
	char field[96];
	const char *s;
	ipam_addr a;
	int found, r, has_gw;

	if (!json_is_object(obj))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s must be an object with a \"subnet\"", path);
	snprintf(field, sizeof(field), "%s.subnet", path);
	if (nc__get_string(obj, "subnet", field, 1, &s, err) < 0)
		return -1;
	r = ipam_prefix_parse(s, IPAM_PREFIX_STRICT, &out->subnet);
	if (r < 0)
		return nc__lib_fail(err, r, field, s);
	default_span(&out->subnet, &out->span, &out->gw, &has_gw);
	out->gw_explicit = 0;
	if (!has_gw)
		memset(&out->gw, 0, sizeof(out->gw));
	if (parse_addr_field(obj, "rangeStart", path, &out->subnet, &a, &found, err) < 0)
		return -1;
	if (found)
		out->span.first = a;
	if (parse_addr_field(obj, "rangeEnd", path, &out->subnet, &a, &found, err) < 0)
		return -1;
	if (found)
		out->span.last = a;
	if (parse_addr_field(obj, "gateway", path, &out->subnet, &a, &found, err) < 0)
		return -1;
	if (found) {
		out->gw = a;
		out->gw_explicit = 1;
	}
	if (ipam_addr_cmp(&out->span.first, &out->span.last) > 0) {
		char f[IPAM_ADDR_STRLEN], l[IPAM_ADDR_STRLEN];
		ipam_addr_format(&out->span.first, f, sizeof(f));
		ipam_addr_format(&out->span.last, l, sizeof(l));
		snprintf(field, sizeof(field), "%s.rangeEnd", path);
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
					 "%s %s comes before rangeStart %s", field, l, f);
	}
	return 0;
}

static int same_prefix(const ipam_prefix *a, const ipam_prefix *b)
{
	return a->len == b->len && ipam_addr_cmp(&a->addr, &b->addr) == 0;
}

/* The pool of group g for subnet, made if it does not exist yet. */
static int pool_for(struct nc_build *b, unsigned g, const struct raw_range *rr, const char *path,
		    unsigned *idx, ipam_netconf_error *err)
{
	unsigned k = 0;
	char name[IPAM_NAME_MAX + 1];
	int r;

	for (unsigned i = 0; i < b->n; i++) {
		if (b->group[i] != g)
			continue;
		if (same_prefix(ipam_pool_subnet(b->pools[i]), &rr->subnet)) {
			*idx = i;
			return 0;
		}
		k++;
	}
	if (b->n == IPAM_NETCONF_MAX_POOLS)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s: more than %d subnets in the network", path,
					 IPAM_NETCONF_MAX_POOLS);
	if (k)
		snprintf(name, sizeof(name), "rs%u-%u", g, k);
	else
		snprintf(name, sizeof(name), "rs%u", g);
	r = ipam_pool_new(&b->pools[b->n], name, &rr->subnet);
	if (r < 0)
		return nc__lib_fail(err, r, path, NULL);
	b->group[b->n] = g;
	b->gw_explicit[b->n] = 0;
	snprintf(b->path[b->n], sizeof(b->path[0]), "%s", path);
	*idx = b->n++;
	return 0;
}

static int add_range(struct nc_build *b, unsigned g, const json_t *obj, const char *path,
		     int *family, ipam_netconf_error *err)
{
	struct raw_range rr;
	unsigned i = 0;
	int r;

	if (parse_range(obj, path, &rr, err) < 0)
		return -1;
	if (*family && *family != rr.subnet.addr.family)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s: a range set must not mix IPv4 and IPv6 subnets", path);
	*family = rr.subnet.addr.family;
	if (pool_for(b, g, &rr, path, &i, err) < 0)
		return -1;
	r = ipam_pool_add_range(b->pools[i], &rr.span);
	if (r < 0)
		return nc__lib_fail(err, r, path, NULL);
	if (rr.gw.family) {
		const ipam_addr *have = ipam_pool_gateway(b->pools[i]);
		if (have && ipam_addr_cmp(have, &rr.gw) != 0) {
			if (!rr.gw_explicit)
				return 0; /* keep the gateway an earlier range named */
			if (b->gw_explicit[i])
				return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
							 "%s.gateway: ranges of one subnet must "
							 "name the same gateway", path);
		}
		r = ipam_pool_set_gateway(b->pools[i], &rr.gw);
		if (r < 0)
			return nc__lib_fail(err, r, path, NULL);
		b->gw_explicit[i] |= rr.gw_explicit;
	}
	return 0;
}

static int add_range_set(struct nc_build *b, unsigned g, const json_t *set, const char *path,
			 ipam_netconf_error *err)
{
	char field[96];
	int family = 0;
	size_t j;
	json_t *obj;

	if (!json_is_array(set) || json_array_size(set) == 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s must be a non-empty array of ranges", path);
	json_array_foreach(set, j, obj) {
		snprintf(field, sizeof(field), "%s[%zu]", path, j);
		if (add_range(b, g, obj, field, &family, err) < 0)
			return -1;
	}
	return 0;
}

int nc__parse_ranges(struct nc_build *b, const json_t *ipam, ipam_netconf_error *err)
{
	const json_t *ranges = json_object_get(ipam, "ranges");
	const json_t *subnet = json_object_get(ipam, "subnet");
	char path[48];
	size_t i;
	json_t *set;

	/* The older single range first, as host-local prepends it. */
	if (subnet && !json_is_null(subnet) &&
	    !(json_is_string(subnet) && json_string_length(subnet) == 0)) {
		int family = 0;
		if (add_range(b, b->ngroups, ipam, "ipam", &family, err) < 0)
			return -1;
		b->ngroups++;
	}
	if (ranges && !json_is_null(ranges)) {
		if (!json_is_array(ranges))
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.ranges",
						 "ipam.ranges must be an array of range sets");
		json_array_foreach(ranges, i, set) {
			snprintf(path, sizeof(path), "ipam.ranges[%zu]", i);
			if (b->ngroups == IPAM_NETCONF_MAX_POOLS)
				return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
							 "ipam.ranges: more than %d range sets",
							 IPAM_NETCONF_MAX_POOLS);
			if (add_range_set(b, b->ngroups, set, path, err) < 0)
				return -1;
			b->ngroups++;
		}
	}
	if (b->ngroups == 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.ranges",
					 "ipam.ranges: no IP ranges specified (give \"ranges\" or "
					 "\"subnet\")");
	return 0;
}

int nc__parse_excludes(struct nc_build *b, const json_t *ipam, ipam_netconf_error *err)
{
	const json_t *ex = json_object_get(ipam, "exclude");
	char field[48];
	size_t k;
	json_t *v;

	if (!ex || json_is_null(ex))
		return 0;
	if (!json_is_array(ex))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "ipam.exclude",
					 "ipam.exclude must be an array of addresses, ranges "
					 "(\"a-b\") or prefixes");
	json_array_foreach(ex, k, v) {
		ipam_range r;
		unsigned i;
		int rc;

		snprintf(field, sizeof(field), "ipam.exclude[%zu]", k);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
						 "%s must be a string", field);
		rc = ipam_range_parse(json_string_value(v), &r);
		if (rc < 0)
			return nc__lib_fail(err, rc, field, json_string_value(v));
		for (i = 0; i < b->n; i++) {
			const ipam_prefix *sub = ipam_pool_subnet(b->pools[i]);
			if (ipam_prefix_contains(sub, &r.first) && ipam_prefix_contains(sub, &r.last))
				break;
		}
		if (i == b->n)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
						 "%s \"%.64s\" lies in no subnet of the network",
						 field, json_string_value(v));
		rc = ipam_pool_add_exclude(b->pools[i], &r);
		if (rc < 0)
			return nc__lib_fail(err, rc, field, json_string_value(v));
	}
	return 0;
}

void nc__build_free(struct nc_build *b)
{
	for (unsigned i = 0; i < b->n; i++)
		b->pools[i] = ipam_pool_free(b->pools[i]);
	b->n = 0;
}
