/* SPDX-License-Identifier: MIT */
/*
 * Prefixes (CIDR) and inclusive ranges. Pure functions over ipam_addr; no
 * allocation. Lengths and offsets are checked so no input can shift by 128
 * or wrap an address around the end of its family's space.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "u128.h"

/* Mask of the host bits of a prefix of length len in a family. */
static ipam__u128 host_mask(int family, unsigned len)
{
	unsigned bits = ipam_family_bits(family);

	if (len >= bits)
		return 0;
	return ipam__family_max(family) >> len;
}

IPAM_EXPORT int ipam_prefix_make(const ipam_addr *a, unsigned len, ipam_prefix *out)
{
	if (!a || !out || !ipam_addr_is_valid(a))
		return ipam__fail(-EINVAL, "prefix", NULL, "not a valid address");
	if (len > ipam_family_bits(a->family))
		return ipam__fail(-EINVAL, "prefix", NULL, "length %u is longer than %u bits", len,
				  ipam_family_bits(a->family));
	memset(out, 0, sizeof(*out));
	out->addr = *a;
	out->len = (uint8_t)len;
	return 0;
}

IPAM_EXPORT int ipam_prefix_parse_n(const char *text, size_t len, unsigned flags, ipam_prefix *out)
{
	const char *slash;
	ipam_addr a;
	unsigned plen = 0, bits;
	size_t alen, i;
	ipam__u128 hm;
	int r;

	if (!text || !out)
		return ipam__fail(-EINVAL, "prefix", NULL, "missing argument");
	if (flags & ~(unsigned)(IPAM_PREFIX_MASK | IPAM_PREFIX_KEEP_HOST | IPAM_PREFIX_BARE_ADDR))
		return ipam__fail(-EINVAL, "flags", NULL, "unknown prefix flags");
	if ((flags & IPAM_PREFIX_MASK) && (flags & IPAM_PREFIX_KEEP_HOST))
		return ipam__fail(-EINVAL, "flags", NULL, "MASK and KEEP_HOST exclude each other");
	if (len == 0)
		return ipam__fail(-EINVAL, "prefix", "", "empty prefix");
	if (memchr(text, '\0', len))
		return ipam__fail_n(-EINVAL, "prefix", text, len, "embedded NUL byte");
	slash = memchr(text, '/', len);
	if (!slash && !(flags & IPAM_PREFIX_BARE_ADDR))
		return ipam__fail_n(-EINVAL, "prefix", text, len, "missing \"/length\"");
	alen = slash ? (size_t)(slash - text) : len;
	r = ipam_addr_parse_n(text, alen, &a);
	if (r < 0)
		return ipam__fail_n(r, "prefix", text, len, "the address part is not a valid address");
	bits = ipam_family_bits(a.family);
	if (!slash) {
		plen = bits;
	} else {
		i = alen + 1;
		if (i == len)
			return ipam__fail_n(-EINVAL, "prefix", text, len, "missing length after '/'");
		if (len - i > 1 && text[i] == '0')
			return ipam__fail_n(-EINVAL, "prefix", text, len, "leading zero in the length");
		for (; i < len; i++) {
			if (text[i] < '0' || text[i] > '9' || plen > 128)
				return ipam__fail_n(-EINVAL, "prefix", text, len,
						    "the length must be a decimal number");
			plen = plen * 10 + (unsigned)(text[i] - '0');
		}
		if (plen > bits)
			return ipam__fail_n(-EINVAL, "prefix", text, len,
					    "length %u is longer than the %u bits of an IPv%d address",
					    plen, bits, a.family);
	}
	hm = host_mask(a.family, plen);
	if ((ipam__addr_value(&a) & hm) && !(flags & IPAM_PREFIX_KEEP_HOST)) {
		if (!(flags & IPAM_PREFIX_MASK)) {
			ipam_addr net = a;
			char buf[IPAM_ADDR_STRLEN];

			ipam__addr_set_value(&net, ipam__addr_value(&a) & ~hm);
			ipam_addr_format(&net, buf, sizeof(buf));
			return ipam__fail_n(-EINVAL, "prefix", text, len,
					    "host bits are set; the network is %s/%u", buf, plen);
		}
		ipam__addr_set_value(&a, ipam__addr_value(&a) & ~hm);
	}
	memset(out, 0, sizeof(*out));
	out->addr = a;
	out->len = (uint8_t)plen;
	return 0;
}

IPAM_EXPORT int ipam_prefix_parse(const char *text, unsigned flags, ipam_prefix *out)
{
	if (!text)
		return ipam__fail(-EINVAL, "prefix", NULL, "missing argument");
	return ipam_prefix_parse_n(text, strlen(text), flags, out);
}

IPAM_EXPORT int ipam_prefix_format(const ipam_prefix *p, char *buf, size_t size)
{
	char tmp[IPAM_PREFIX_STRLEN];
	int n;

	if (!p || !buf || p->len > ipam_family_bits(p->addr.family))
		return ipam__fail_code(-EINVAL);
	n = ipam_addr_format(&p->addr, tmp, sizeof(tmp));
	if (n < 0)
		return n;
	n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, "/%u", p->len);
	if ((size_t)n + 1 > size)
		return ipam__fail_code(-ENOSPC);
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

IPAM_EXPORT ipam_range ipam_prefix_range(const ipam_prefix *p)
{
	ipam_range r;
	ipam__u128 hm = host_mask(p->addr.family, p->len);
	ipam__u128 v = ipam__addr_value(&p->addr);

	r.first = p->addr;
	r.last = p->addr;
	ipam__addr_set_value(&r.first, v & ~hm);
	ipam__addr_set_value(&r.last, (v & ~hm) | hm);
	return r;
}

IPAM_EXPORT int ipam_prefix_contains(const ipam_prefix *p, const ipam_addr *a)
{
	ipam__u128 hm;

	if (!p || !a || p->addr.family != a->family)
		return 0;
	hm = host_mask(a->family, p->len);
	return (ipam__addr_value(&p->addr) & ~hm) == (ipam__addr_value(a) & ~hm);
}

/* ---- ranges ----------------------------------------------------------------- */

IPAM_EXPORT int ipam_range_make(const ipam_addr *first, const ipam_addr *last, ipam_range *out)
{
	if (!first || !last || !out || !ipam_addr_is_valid(first) || !ipam_addr_is_valid(last))
		return ipam__fail(-EINVAL, "range", NULL, "not a valid address");
	if (first->family != last->family)
		return ipam__fail(-EAFNOSUPPORT, "range", NULL, "start and end are of different families");
	if (ipam_addr_cmp(first, last) > 0)
		return ipam__fail(-ERANGE, "range", NULL, "start is after end");
	out->first = *first;
	out->last = *last;
	return 0;
}

IPAM_EXPORT int ipam_range_parse_n(const char *text, size_t len, ipam_range *out)
{
	const char *dash;
	ipam_addr a, b;
	int r;

	if (!text || !out)
		return ipam__fail(-EINVAL, "range", NULL, "missing argument");
	if (len == 0)
		return ipam__fail(-EINVAL, "range", "", "empty range");
	if (memchr(text, '\0', len))
		return ipam__fail_n(-EINVAL, "range", text, len, "embedded NUL byte");
	if (memchr(text, '/', len)) {
		ipam_prefix p;

		r = ipam_prefix_parse_n(text, len, IPAM_PREFIX_STRICT, &p);
		if (r < 0)
			return r;
		*out = ipam_prefix_range(&p);
		return 0;
	}
	dash = memchr(text, '-', len);
	if (!dash) {
		r = ipam_addr_parse_n(text, len, &a);
		if (r < 0)
			return ipam__fail_n(r, "range", text, len, "not an address, prefix or \"first-last\"");
		out->first = out->last = a;
		return 0;
	}
	if (ipam_addr_parse_n(text, (size_t)(dash - text), &a) < 0 ||
	    ipam_addr_parse_n(dash + 1, len - (size_t)(dash - text) - 1, &b) < 0)
		return ipam__fail_n(-EINVAL, "range", text, len, "expected \"first-last\" with two addresses");
	if (a.family != b.family)
		return ipam__fail_n(-EAFNOSUPPORT, "range", text, len, "start and end are of different families");
	if (ipam_addr_cmp(&a, &b) > 0)
		return ipam__fail_n(-ERANGE, "range", text, len, "start is after end");
	out->first = a;
	out->last = b;
	return 0;
}

IPAM_EXPORT int ipam_range_parse(const char *text, ipam_range *out)
{
	if (!text)
		return ipam__fail(-EINVAL, "range", NULL, "missing argument");
	return ipam_range_parse_n(text, strlen(text), out);
}

IPAM_EXPORT int ipam_range_format(const ipam_range *r, char *buf, size_t size)
{
	char tmp[IPAM_RANGE_STRLEN];
	int n, m;

	if (!r || !buf)
		return ipam__fail_code(-EINVAL);
	n = ipam_addr_format(&r->first, tmp, sizeof(tmp));
	if (n < 0)
		return n;
	if (ipam_addr_cmp(&r->first, &r->last) != 0) {
		tmp[n++] = '-';
		m = ipam_addr_format(&r->last, tmp + n, sizeof(tmp) - (size_t)n);
		if (m < 0)
			return m;
		n += m;
	}
	if ((size_t)n + 1 > size)
		return ipam__fail_code(-ENOSPC);
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

IPAM_EXPORT ipam_u128 ipam_range_span(const ipam_range *r)
{
	return ipam__u128_to(ipam__addr_value(&r->last) - ipam__addr_value(&r->first));
}

IPAM_EXPORT int ipam_range_count(const ipam_range *r, ipam_u128 *out)
{
	ipam__u128 span;

	if (!r || !out)
		return ipam__fail_code(-EINVAL);
	span = ipam__addr_value(&r->last) - ipam__addr_value(&r->first);
	if (span == ~(ipam__u128)0)
		return ipam__fail_code(-EOVERFLOW);
	*out = ipam__u128_to(span + 1);
	return 0;
}

IPAM_EXPORT int ipam_range_contains(const ipam_range *r, const ipam_addr *a)
{
	if (!r || !a || r->first.family != a->family)
		return 0;
	return ipam_addr_cmp(&r->first, a) <= 0 && ipam_addr_cmp(a, &r->last) <= 0;
}

IPAM_EXPORT int ipam_range_overlaps(const ipam_range *a, const ipam_range *b)
{
	if (!a || !b || a->first.family != b->first.family)
		return 0;
	return ipam_addr_cmp(&a->first, &b->last) <= 0 && ipam_addr_cmp(&b->first, &a->last) <= 0;
}

IPAM_EXPORT int ipam_range_within(const ipam_range *inner, const ipam_range *outer)
{
	if (!inner || !outer || inner->first.family != outer->first.family)
		return 0;
	return ipam_addr_cmp(&outer->first, &inner->first) <= 0 &&
	       ipam_addr_cmp(&inner->last, &outer->last) <= 0;
}

IPAM_EXPORT int ipam_range_offset(const ipam_range *r, const ipam_addr *a, ipam_u128 *out)
{
	if (!r || !a || !out)
		return ipam__fail_code(-EINVAL);
	if (!ipam_range_contains(r, a))
		return ipam__fail_code(-ERANGE);
	*out = ipam__u128_to(ipam__addr_value(a) - ipam__addr_value(&r->first));
	return 0;
}

IPAM_EXPORT int ipam_range_at(const ipam_range *r, ipam_u128 off, ipam_addr *out)
{
	ipam__u128 o = ipam__u128_from(off);

	if (!r || !out)
		return ipam__fail_code(-EINVAL);
	if (o > ipam__addr_value(&r->last) - ipam__addr_value(&r->first))
		return ipam__fail_code(-ERANGE);
	*out = r->first;
	ipam__addr_set_value(out, ipam__addr_value(&r->first) + o);
	return 0;
}
