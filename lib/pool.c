/* SPDX-License-Identifier: MIT */
/*
 * Pool definitions: built once (from a config file, a CNI network, a DHCP
 * scope), validated, then read by every allocation. Setters check their own
 * argument and leave the pool unchanged on failure; ipam_pool_validate()
 * checks how the parts fit together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"
#include "u128.h"

/* ---- small growable arrays ------------------------------------------------ */

static int vec_push(struct ipam__vec *v, const void *item, size_t size)
{
	if (v->count >= IPAM_POOL_MAX_ITEMS)
		return -E2BIG;
	if (v->count == v->cap) {
		unsigned ncap = v->cap ? v->cap * 2 : 4;
		void *n = ipam__resize(v->items, (size_t)v->cap * size, (size_t)ncap * size);
		if (!n)
			return -ENOMEM;
		v->items = n;
		v->cap = ncap;
	}
	memcpy((char *)v->items + (size_t)v->count * size, item, size);
	v->count++;
	return 0;
}

static void vec_free(struct ipam__vec *v, size_t size)
{
	ipam__release(v->items, (size_t)v->cap * size);
	memset(v, 0, sizeof(*v));
}


/* ---- names -------------------------------------------------------------------- */

IPAM_EXPORT int ipam_name_check(const char *name)
{
	size_t n;

	if (!name)
		return ipam__fail(-EINVAL, "name", NULL, "missing name");
	n = strnlen(name, IPAM_NAME_MAX + 1);
	if (n == 0)
		return ipam__fail(-EINVAL, "name", "", "empty name");
	if (n > IPAM_NAME_MAX)
		return ipam__fail_n(-ENAMETOOLONG, "name", name, n, "longer than %d bytes", IPAM_NAME_MAX);
	if (name[0] == '.' || name[0] == '-')
		return ipam__fail(-EINVAL, "name", name, "must not start with '.' or '-'");
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return ipam__fail(-EINVAL, "name", name,
					  "byte %zu is not one of [A-Za-z0-9._-]", i);
	}
	return 0;
}

/* ---- construction ------------------------------------------------------------- */

static void fmt_addr(const ipam_addr *a, char *buf, size_t size)
{
	if (ipam_addr_format(a, buf, size) < 0)
		snprintf(buf, size, "(invalid)");
}

static void fmt_range(const ipam_range *r, char *buf, size_t size)
{
	if (ipam_range_format(r, buf, size) < 0)
		snprintf(buf, size, "(invalid)");
}

/* The default allocatable range of a subnet, as host-local computes it. */
static ipam_range default_range(const ipam_prefix *subnet)
{
	ipam_range r = ipam_prefix_range(subnet);
	ipam__u128 first = ipam__addr_value(&r.first), last = ipam__addr_value(&r.last);
	unsigned bits = ipam_family_bits(subnet->addr.family);

	if (subnet->addr.family == IPAM_AF_INET && subnet->len <= bits - 2) {
		first++; /* network */
		last--;  /* broadcast */
	} else if (subnet->addr.family == IPAM_AF_INET6 && subnet->len <= bits - 2) {
		first++; /* subnet-router anycast */
	}
	ipam__addr_set_value(&r.first, first);
	ipam__addr_set_value(&r.last, last);
	return r;
}

IPAM_EXPORT int ipam_pool_new(ipam_pool **out, const char *name, const ipam_prefix *subnet)
{
	ipam_pool *p;
	ipam_range net;
	char buf[IPAM_PREFIX_STRLEN];
	int r;

	if (!out || !subnet)
		return ipam__fail(-EINVAL, "pool", NULL, "missing argument");
	*out = NULL;
	r = ipam_name_check(name);
	if (r < 0)
		return r;
	if (!ipam_addr_is_valid(&subnet->addr) || subnet->len > ipam_family_bits(subnet->addr.family))
		return ipam__fail(-EINVAL, "subnet", NULL, "not a valid prefix");
	if (ipam_prefix_format(subnet, buf, sizeof(buf)) < 0)
		return ipam__fail(-EINVAL, "subnet", NULL, "not a valid prefix");
	net = ipam_prefix_range(subnet);
	if (ipam_addr_cmp(&net.first, &subnet->addr) != 0)
		return ipam__fail(-EINVAL, "subnet", buf, "host bits are set; give the network address");
	p = ipam__zalloc(sizeof(*p));
	if (!p)
		return ipam__fail_code(-ENOMEM);
	memcpy(p->name, name, strlen(name) + 1);
	p->subnet = *subnet;
	p->default_range = default_range(subnet);
	p->index_kind = IPAM_INDEX_AUTO;
	p->bitmap_max = IPAM_BITMAP_MAX_DEFAULT;
	p->policy = IPAM_POLICY_NEXT_FIT;
	*out = p;
	return 0;
}

IPAM_EXPORT int ipam_pool_new_str(ipam_pool **out, const char *name, const char *subnet)
{
	ipam_prefix pfx;
	int r;

	if (!out)
		return ipam__fail(-EINVAL, "pool", NULL, "missing argument");
	*out = NULL;
	r = ipam_prefix_parse(subnet, IPAM_PREFIX_STRICT, &pfx);
	if (r < 0) {
		ipam_error_info e;
		ipam_last_error(&e);
		return ipam__fail(r, "subnet", subnet, "%s", e.message);
	}
	return ipam_pool_new(out, name, &pfx);
}

IPAM_EXPORT ipam_pool *ipam_pool_free(ipam_pool *p)
{
	if (!p)
		return NULL;
	for (unsigned i = 0; i < p->search.count; i++)
		ipam__strfree(VEC_AT(p->search, char *, i));
	vec_free(&p->ranges, sizeof(ipam_range));
	vec_free(&p->excludes, sizeof(ipam_range));
	vec_free(&p->routes, sizeof(struct ipam__route));
	vec_free(&p->dns, sizeof(ipam_addr));
	vec_free(&p->search, sizeof(char *));
	ipam__strfree(p->dns_domain);
	ipam__release(p, sizeof(*p));
	return NULL;
}

/* ---- copies and comparison (the memory store keeps its own definition) ---------- */

static int vec_copy(struct ipam__vec *dst, const struct ipam__vec *src, size_t size)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->count)
		return 0;
	dst->items = ipam__alloc((size_t)src->count * size);
	if (!dst->items)
		return -ENOMEM;
	memcpy(dst->items, src->items, (size_t)src->count * size);
	dst->count = dst->cap = src->count;
	return 0;
}

int ipam__pool_clone(const ipam_pool *p, ipam_pool **out)
{
	ipam_pool *c = ipam__zalloc(sizeof(*c));
	int r = 0;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	/* The fixed fields; what p owns through pointers is made again (and
	 * is nothing in c until then: a failure frees only c's own). */
	*c = *p;
	memset(&c->ranges, 0, sizeof(c->ranges));
	memset(&c->excludes, 0, sizeof(c->excludes));
	memset(&c->routes, 0, sizeof(c->routes));
	memset(&c->dns, 0, sizeof(c->dns));
	memset(&c->search, 0, sizeof(c->search));
	c->dns_domain = NULL;
	if (vec_copy(&c->ranges, &p->ranges, sizeof(ipam_range)) < 0 ||
	    vec_copy(&c->excludes, &p->excludes, sizeof(ipam_range)) < 0 ||
	    vec_copy(&c->routes, &p->routes, sizeof(struct ipam__route)) < 0 ||
	    vec_copy(&c->dns, &p->dns, sizeof(ipam_addr)) < 0 ||
	    (p->dns_domain && !(c->dns_domain = ipam__strdup(p->dns_domain))))
		r = -ENOMEM;
	for (unsigned i = 0; r == 0 && i < p->search.count; i++) {
		char *d = ipam__strdup(VEC_AT(p->search, char *, i));
		if (!d || vec_push(&c->search, &d, sizeof(d)) < 0) {
			ipam__strfree(d);
			r = -ENOMEM;
		}
	}
	if (r < 0) {
		ipam_pool_free(c);
		return r;
	}
	*out = c;
	return 0;
}

static int addr_same(const ipam_addr *a, const ipam_addr *b)
{
	return a->family == b->family && (!a->family || ipam_addr_cmp(a, b) == 0);
}

static int ranges_same(const struct ipam__vec *a, const struct ipam__vec *b)
{
	if (a->count != b->count)
		return 0;
	for (unsigned i = 0; i < a->count; i++) {
		const ipam_range *x = &VEC_AT(*a, ipam_range, i), *y = &VEC_AT(*b, ipam_range, i);
		if (!addr_same(&x->first, &y->first) || !addr_same(&x->last, &y->last))
			return 0;
	}
	return 1;
}

int ipam__pool_same(const ipam_pool *a, const ipam_pool *b)
{
	return strcmp(a->name, b->name) == 0 && addr_same(&a->subnet.addr, &b->subnet.addr) &&
	       a->subnet.len == b->subnet.len && addr_same(&a->gateway, &b->gateway) &&
	       a->flags == b->flags && a->index_kind == b->index_kind &&
	       a->bitmap_max == b->bitmap_max && a->policy == b->policy &&
	       a->quarantine_seconds == b->quarantine_seconds &&
	       a->quarantine_allocations == b->quarantine_allocations &&
	       a->quarantine_flags == b->quarantine_flags && ranges_same(&a->ranges, &b->ranges) &&
	       ranges_same(&a->excludes, &b->excludes);
}

/* ---- setters ---------------------------------------------------------------------- */

static int check_in_subnet(const ipam_pool *p, const char *field, const ipam_range *r)
{
	ipam_range s = ipam_prefix_range(&p->subnet);
	char buf[IPAM_RANGE_STRLEN], sbuf[IPAM_PREFIX_STRLEN];

	if (!ipam_addr_is_valid(&r->first) || !ipam_addr_is_valid(&r->last))
		return ipam__fail(-EINVAL, field, NULL, "not a valid address");
	fmt_range(r, buf, sizeof(buf));
	if (r->first.family != p->subnet.addr.family || r->last.family != r->first.family)
		return ipam__fail(-EAFNOSUPPORT, field, buf, "is not of the subnet's family (IPv%d)",
				  p->subnet.addr.family);
	if (ipam_addr_cmp(&r->first, &r->last) > 0)
		return ipam__fail(-ERANGE, field, buf, "start is after end");
	if (!ipam_range_within(r, &s)) {
		ipam_prefix_format(&p->subnet, sbuf, sizeof(sbuf));
		return ipam__fail(-ERANGE, field, buf, "lies outside the subnet %s", sbuf);
	}
	return 0;
}

IPAM_EXPORT int ipam_pool_add_range(ipam_pool *p, const ipam_range *r)
{
	char buf[IPAM_RANGE_STRLEN], obuf[IPAM_RANGE_STRLEN];
	int e;

	if (!p || !r)
		return ipam__fail(-EINVAL, "ranges", NULL, "missing argument");
	e = check_in_subnet(p, "ranges", r);
	if (e < 0)
		return e;
	for (unsigned i = 0; i < p->ranges.count; i++) {
		const ipam_range *o = &VEC_AT(p->ranges, ipam_range, i);
		if (ipam_range_overlaps(o, r)) {
			fmt_range(r, buf, sizeof(buf));
			fmt_range(o, obuf, sizeof(obuf));
			return ipam__fail(-EEXIST, "ranges", buf, "overlaps range %s", obuf);
		}
	}
	e = vec_push(&p->ranges, r, sizeof(*r));
	if (e < 0)
		return ipam__fail(e, "ranges", NULL, e == -E2BIG ? "too many ranges" : NULL);
	return 0;
}

IPAM_EXPORT int ipam_pool_add_exclude(ipam_pool *p, const ipam_range *r)
{
	int e;

	if (!p || !r)
		return ipam__fail(-EINVAL, "exclude", NULL, "missing argument");
	e = check_in_subnet(p, "exclude", r);
	if (e < 0)
		return e;
	e = vec_push(&p->excludes, r, sizeof(*r));
	if (e < 0)
		return ipam__fail(e, "exclude", NULL, e == -E2BIG ? "too many exclusions" : NULL);
	return 0;
}

IPAM_EXPORT int ipam_pool_set_gateway(ipam_pool *p, const ipam_addr *gw)
{
	char buf[IPAM_ADDR_STRLEN], sbuf[IPAM_PREFIX_STRLEN];

	if (!p)
		return ipam__fail(-EINVAL, "gateway", NULL, "missing argument");
	if (!gw) {
		memset(&p->gateway, 0, sizeof(p->gateway));
		return 0;
	}
	if (!ipam_addr_is_valid(gw))
		return ipam__fail(-EINVAL, "gateway", NULL, "not a valid address");
	fmt_addr(gw, buf, sizeof(buf));
	if (!ipam_prefix_contains(&p->subnet, gw)) {
		ipam_prefix_format(&p->subnet, sbuf, sizeof(sbuf));
		return ipam__fail(-ERANGE, "gateway", buf, "lies outside the subnet %s", sbuf);
	}
	p->gateway = *gw;
	return 0;
}

IPAM_EXPORT int ipam_pool_add_route(ipam_pool *p, const ipam_prefix *dst, const ipam_addr *gw)
{
	struct ipam__route rt;
	char buf[IPAM_PREFIX_STRLEN];
	int e;

	if (!p || !dst)
		return ipam__fail(-EINVAL, "routes", NULL, "missing argument");
	if (!ipam_addr_is_valid(&dst->addr) || dst->len > ipam_family_bits(dst->addr.family))
		return ipam__fail(-EINVAL, "routes", NULL, "not a valid destination prefix");
	memset(&rt, 0, sizeof(rt));
	rt.dst = *dst;
	if (gw) {
		if (!ipam_addr_is_valid(gw))
			return ipam__fail(-EINVAL, "routes.gw", NULL, "not a valid address");
		if (gw->family != dst->addr.family) {
			ipam_prefix_format(dst, buf, sizeof(buf));
			return ipam__fail(-EAFNOSUPPORT, "routes.gw", buf,
					  "gateway and destination are of different families");
		}
		rt.gw = *gw;
	}
	e = vec_push(&p->routes, &rt, sizeof(rt));
	if (e < 0)
		return ipam__fail(e, "routes", NULL, e == -E2BIG ? "too many routes" : NULL);
	return 0;
}

IPAM_EXPORT int ipam_pool_add_dns_server(ipam_pool *p, const ipam_addr *server)
{
	int e;

	if (!p || !server || !ipam_addr_is_valid(server))
		return ipam__fail(-EINVAL, "dns.nameservers", NULL, "not a valid address");
	e = vec_push(&p->dns, server, sizeof(*server));
	if (e < 0)
		return ipam__fail(e, "dns.nameservers", NULL, e == -E2BIG ? "too many name servers" : NULL);
	return 0;
}

/* A DNS name: 1..253 bytes of letters, digits, '-', '_' and '.'. */
static int check_domain(const char *field, const char *d)
{
	size_t n;

	if (!d)
		return ipam__fail(-EINVAL, field, NULL, "missing domain");
	n = strnlen(d, 254);
	if (n == 0 || n > 253)
		return ipam__fail_n(-EINVAL, field, d, n, "a domain is 1 to 253 bytes");
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return ipam__fail(-EINVAL, field, d, "byte %zu is not allowed in a domain", i);
	}
	return 0;
}

IPAM_EXPORT int ipam_pool_set_dns_domain(ipam_pool *p, const char *domain)
{
	char *copy = NULL;
	int e;

	if (!p)
		return ipam__fail(-EINVAL, "dns.domain", NULL, "missing argument");
	if (domain) {
		e = check_domain("dns.domain", domain);
		if (e < 0)
			return e;
		copy = ipam__strdup(domain);
		if (!copy)
			return ipam__fail_code(-ENOMEM);
	}
	ipam__strfree(p->dns_domain);
	p->dns_domain = copy;
	return 0;
}

IPAM_EXPORT int ipam_pool_add_dns_search(ipam_pool *p, const char *domain)
{
	char *copy;
	int e;

	if (!p)
		return ipam__fail(-EINVAL, "dns.search", NULL, "missing argument");
	e = check_domain("dns.search", domain);
	if (e < 0)
		return e;
	copy = ipam__strdup(domain);
	if (!copy)
		return ipam__fail_code(-ENOMEM);
	e = vec_push(&p->search, &copy, sizeof(copy));
	if (e < 0) {
		ipam__strfree(copy);
		return ipam__fail(e, "dns.search", NULL, e == -E2BIG ? "too many search domains" : NULL);
	}
	return 0;
}

IPAM_EXPORT int ipam_pool_set_vlan(ipam_pool *p, unsigned vlan)
{
	if (!p)
		return ipam__fail(-EINVAL, "vlan", NULL, "missing argument");
	if (vlan > 4094)
		return ipam__fail(-ERANGE, "vlan", NULL, "VLAN id %u is not in 1..4094 (0 = none)", vlan);
	p->vlan = vlan;
	return 0;
}

IPAM_EXPORT int ipam_pool_set_index(ipam_pool *p, ipam_index_kind kind, uint64_t bitmap_max)
{
	if (!p)
		return ipam__fail(-EINVAL, "index", NULL, "missing argument");
	if (kind != IPAM_INDEX_AUTO && kind != IPAM_INDEX_BITMAP && kind != IPAM_INDEX_SPARSE)
		return ipam__fail(-EINVAL, "index", NULL, "unknown index kind %d", (int)kind);
	if (bitmap_max > (UINT64_C(1) << 32))
		return ipam__fail(-ERANGE, "index", NULL, "bitmap limit above 2^32 addresses");
	p->index_kind = kind;
	p->bitmap_max = bitmap_max ? bitmap_max : IPAM_BITMAP_MAX_DEFAULT;
	return 0;
}

IPAM_EXPORT int ipam_pool_set_policy(ipam_pool *p, ipam_policy policy)
{
	if (!p)
		return ipam__fail(-EINVAL, "policy", NULL, "missing argument");
	if (policy != IPAM_POLICY_NEXT_FIT && policy != IPAM_POLICY_LOWEST && policy != IPAM_POLICY_RANDOM)
		return ipam__fail(-EINVAL, "policy", NULL, "unknown policy %d", (int)policy);
	p->policy = policy;
	return 0;
}

IPAM_EXPORT int ipam_pool_set_flags(ipam_pool *p, unsigned flags)
{
	if (!p)
		return ipam__fail(-EINVAL, "flags", NULL, "missing argument");
	if (flags & ~IPAM_POOL_STRICT_GATEWAY)
		return ipam__fail(-EINVAL, "flags", NULL, "unknown pool flags 0x%x", flags);
	p->flags = flags;
	return 0;
}

IPAM_EXPORT int ipam_pool_set_quarantine(ipam_pool *p, uint32_t seconds, uint32_t allocations,
					 unsigned flags)
{
	if (!p)
		return ipam__fail(-EINVAL, "quarantine", NULL, "missing argument");
	if (flags & ~IPAM_QUARANTINE_HARD)
		return ipam__fail(-EINVAL, "quarantine", NULL, "unknown quarantine flags 0x%x", flags);
	p->quarantine_seconds = seconds;
	p->quarantine_allocations = allocations;
	p->quarantine_flags = flags;
	return 0;
}

/* ---- reading ------------------------------------------------------------------- */

IPAM_EXPORT const char *ipam_pool_name(const ipam_pool *p)
{
	return p ? p->name : NULL;
}

IPAM_EXPORT int ipam_pool_family(const ipam_pool *p)
{
	return p ? p->subnet.addr.family : 0;
}

IPAM_EXPORT const ipam_prefix *ipam_pool_subnet(const ipam_pool *p)
{
	return p ? &p->subnet : NULL;
}

IPAM_EXPORT const ipam_addr *ipam_pool_gateway(const ipam_pool *p)
{
	return p && p->gateway.family ? &p->gateway : NULL;
}

IPAM_EXPORT unsigned ipam_pool_vlan(const ipam_pool *p)
{
	return p ? p->vlan : 0;
}

IPAM_EXPORT ipam_policy ipam_pool_policy(const ipam_pool *p)
{
	return p ? p->policy : IPAM_POLICY_NEXT_FIT;
}

IPAM_EXPORT void ipam_pool_quarantine(const ipam_pool *p, uint32_t *seconds, uint32_t *allocations,
				      unsigned *flags)
{
	if (seconds)
		*seconds = p ? p->quarantine_seconds : 0;
	if (allocations)
		*allocations = p ? p->quarantine_allocations : 0;
	if (flags)
		*flags = p ? p->quarantine_flags : 0;
}

IPAM_EXPORT unsigned ipam_pool_range_count(const ipam_pool *p)
{
	if (!p)
		return 0;
	return p->ranges.count ? p->ranges.count : 1;
}

IPAM_EXPORT const ipam_range *ipam_pool_range(const ipam_pool *p, unsigned i)
{
	if (!p)
		return NULL;
	if (p->ranges.count == 0)
		return i == 0 ? &p->default_range : NULL;
	return i < p->ranges.count ? &VEC_AT(p->ranges, ipam_range, i) : NULL;
}

IPAM_EXPORT unsigned ipam_pool_exclude_count(const ipam_pool *p)
{
	return p ? p->excludes.count : 0;
}

IPAM_EXPORT const ipam_range *ipam_pool_exclude(const ipam_pool *p, unsigned i)
{
	return p && i < p->excludes.count ? &VEC_AT(p->excludes, ipam_range, i) : NULL;
}

IPAM_EXPORT unsigned ipam_pool_route_count(const ipam_pool *p)
{
	return p ? p->routes.count : 0;
}

IPAM_EXPORT int ipam_pool_route(const ipam_pool *p, unsigned i, ipam_prefix *dst, ipam_addr *gw)
{
	const struct ipam__route *rt;

	if (!p || i >= p->routes.count)
		return ipam__fail_code(-ENOENT);
	rt = &VEC_AT(p->routes, struct ipam__route, i);
	if (dst)
		*dst = rt->dst;
	if (gw)
		*gw = rt->gw;
	return 0;
}

IPAM_EXPORT unsigned ipam_pool_dns_server_count(const ipam_pool *p)
{
	return p ? p->dns.count : 0;
}

IPAM_EXPORT const ipam_addr *ipam_pool_dns_server(const ipam_pool *p, unsigned i)
{
	return p && i < p->dns.count ? &VEC_AT(p->dns, ipam_addr, i) : NULL;
}

IPAM_EXPORT const char *ipam_pool_dns_domain(const ipam_pool *p)
{
	return p ? p->dns_domain : NULL;
}

IPAM_EXPORT unsigned ipam_pool_dns_search_count(const ipam_pool *p)
{
	return p ? p->search.count : 0;
}

IPAM_EXPORT const char *ipam_pool_dns_search(const ipam_pool *p, unsigned i)
{
	return p && i < p->search.count ? VEC_AT(p->search, char *, i) : NULL;
}
