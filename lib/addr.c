/* SPDX-License-Identifier: MIT */
/*
 * Addresses: strict parsing, RFC 5952 formatting, 128-bit arithmetic.
 *
 * Built for untrusted text (configs, CNI stdin, store files): every parser
 * takes an explicit length, reads nothing past it, allocates nothing and
 * refuses anything that another common parser would read differently
 * (leading zeros in IPv4 octets, zone indexes, surrounding space).
 */
#include <string.h>

#include "internal.h"
#include "u128.h"

IPAM_EXPORT int ipam_u128_cmp(ipam_u128 a, ipam_u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

IPAM_EXPORT int ipam_u128_add(ipam_u128 a, ipam_u128 b, ipam_u128 *out)
{
	ipam__u128 x = ipam__u128_from(a), y = ipam__u128_from(b);

	if (!out)
		return ipam__fail_code(-EINVAL);
	if (x + y < x)
		return ipam__fail_code(-EOVERFLOW);
	*out = ipam__u128_to(x + y);
	return 0;
}

IPAM_EXPORT int ipam_u128_sub(ipam_u128 a, ipam_u128 b, ipam_u128 *out)
{
	ipam__u128 x = ipam__u128_from(a), y = ipam__u128_from(b);

	if (!out)
		return ipam__fail_code(-EINVAL);
	if (y > x)
		return ipam__fail_code(-EOVERFLOW);
	*out = ipam__u128_to(x - y);
	return 0;
}

IPAM_EXPORT int ipam_u128_format(ipam_u128 v, char *buf, size_t size)
{
	char tmp[IPAM_U128_STRLEN];
	ipam__u128 x = ipam__u128_from(v);
	size_t n = 0;

	if (!buf)
		return ipam__fail_code(-EINVAL);
	do {
		tmp[n++] = (char)('0' + (unsigned)(x % 10));
		x /= 10;
	} while (x);
	if (n + 1 > size)
		return ipam__fail_code(-ENOSPC);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return (int)n;
}

/* ---- parsing ---------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Dotted quad over exactly len bytes. */
static int parse_v4(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i = 0;

	for (int octet = 0; octet < 4; octet++) {
		unsigned x = 0;
		size_t start = i;

		if (octet > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 4)
			x = x * 10 + (unsigned)(s[i++] - '0');
		if (i == start || i - start > 3 || x > 255)
			return -1;
		if (i - start > 1 && s[start] == '0')
			return -1; /* leading zero: octal to some parsers */
		v = (v << 8) | x;
	}
	if (i != len)
		return -1;
	*out = v;
	return 0;
}

/* RFC 4291 section 2.2 text over exactly len bytes, into 8 groups. */
static int parse_v6(const char *s, size_t len, uint16_t g[8])
{
	uint16_t t[8];
	int n = 0, gap = -1;
	size_t i = 0;

	if (len < 2)
		return -1;
	if (s[0] == ':') {
		if (s[1] != ':')
			return -1;
		gap = 0;
		i = 2;
		if (i == len)
			goto expand;
	}
	for (;;) {
		size_t start = i;
		unsigned v = 0;
		int h;

		while (i < len && i - start < 5 && (h = hexval(s[i])) >= 0) {
			v = (v << 4) | (unsigned)h;
			i++;
		}
		if (i < len && s[i] == '.') {
			uint32_t v4;

			if (n > 6 || parse_v4(s + start, len - start, &v4) < 0)
				return -1;
			t[n++] = (uint16_t)(v4 >> 16);
			t[n++] = (uint16_t)v4;
			break;
		}
		if (i == start || i - start > 4 || n == 8)
			return -1;
		t[n++] = (uint16_t)v;
		if (i == len)
			break;
		if (s[i] != ':')
			return -1;
		if (++i == len)
			return -1; /* a single trailing colon */
		if (s[i] == ':') {
			if (gap >= 0)
				return -1; /* a second "::" */
			gap = n;
			if (++i == len)
				break;
		}
	}
expand:
	if (gap < 0) {
		if (n != 8)
			return -1;
		memcpy(g, t, sizeof(t));
		return 0;
	}
	if (n > 7)
		return -1; /* "::" must stand for at least one group */
	memset(g, 0, 8 * sizeof(uint16_t));
	for (int k = 0; k < gap; k++)
		g[k] = t[k];
	for (int k = gap; k < n; k++)
		g[8 - (n - k)] = t[k];
	return 0;
}

IPAM_EXPORT int ipam_addr_parse_n(const char *text, size_t len, ipam_addr *out)
{
	uint16_t g[8];
	uint32_t v4;

	if (!text || !out)
		return ipam__fail(-EINVAL, "address", NULL, "missing argument");
	if (len == 0)
		return ipam__fail(-EINVAL, "address", "", "empty address");
	if (memchr(text, '\0', len))
		return ipam__fail_n(-EINVAL, "address", text, len, "embedded NUL byte");
	if (memchr(text, ':', len)) {
		if (parse_v6(text, len, g) < 0)
			return ipam__fail_n(-EINVAL, "address", text, len, "not a valid IPv6 address");
		out->family = IPAM_AF_INET6;
		out->hi = ((uint64_t)g[0] << 48) | ((uint64_t)g[1] << 32) | ((uint64_t)g[2] << 16) | g[3];
		out->lo = ((uint64_t)g[4] << 48) | ((uint64_t)g[5] << 32) | ((uint64_t)g[6] << 16) | g[7];
		return 0;
	}
	if (parse_v4(text, len, &v4) < 0)
		return ipam__fail_n(-EINVAL, "address", text, len,
				    "not a valid IPv4 address (four decimal octets 0-255, no leading zeros)");
	*out = ipam_addr_v4(v4);
	return 0;
}

IPAM_EXPORT int ipam_addr_parse(const char *text, ipam_addr *out)
{
	if (!text)
		return ipam__fail(-EINVAL, "address", NULL, "missing argument");
	return ipam_addr_parse_n(text, strlen(text), out);
}

/* ---- formatting ------------------------------------------------------------- */

static size_t format_v4(uint32_t v, char *p)
{
	size_t n = 0;

	for (int octet = 3; octet >= 0; octet--) {
		unsigned x = (v >> (octet * 8)) & 0xff;
		if (x >= 100)
			p[n++] = (char)('0' + x / 100);
		if (x >= 10)
			p[n++] = (char)('0' + (x / 10) % 10);
		p[n++] = (char)('0' + x % 10);
		if (octet)
			p[n++] = '.';
	}
	p[n] = '\0';
	return n;
}

static size_t format_v6(const ipam_addr *a, char *p)
{
	static const char hex[] = "0123456789abcdef";
	uint16_t g[8];
	int best = -1, best_len = 0, groups = 8;
	size_t n = 0;

	for (int k = 0; k < 4; k++) {
		g[k] = (uint16_t)(a->hi >> (48 - 16 * k));
		g[4 + k] = (uint16_t)(a->lo >> (48 - 16 * k));
	}
	/* IPv4-mapped addresses keep their dotted quad (RFC 5952 section 5). */
	if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff)
		groups = 6;
	for (int k = 0; k < groups;) {
		int run = 0;
		while (k + run < groups && g[k + run] == 0)
			run++;
		if (run > best_len) {
			best = k;
			best_len = run;
		}
		k += run ? run : 1;
	}
	if (best_len < 2)
		best = -1; /* a single zero group is never compressed */
	for (int k = 0; k < groups; k++) {
		if (k == best) {
			p[n++] = ':';
			p[n++] = ':';
			k += best_len - 1;
			continue;
		}
		if (k > 0 && k != best + best_len)
			p[n++] = ':';
		int started = 0;
		for (int shift = 12; shift >= 0; shift -= 4) {
			unsigned d = (g[k] >> shift) & 0xf;
			if (d || started || shift == 0) {
				p[n++] = hex[d];
				started = 1;
			}
		}
	}
	if (groups == 6) {
		if (p[n - 1] != ':')
			p[n++] = ':';
		n += format_v4((uint32_t)a->lo, p + n);
	}
	p[n] = '\0';
	return n;
}

IPAM_EXPORT int ipam_addr_format(const ipam_addr *a, char *buf, size_t size)
{
	char tmp[IPAM_ADDR_STRLEN];
	size_t n;

	if (!a || !buf || !ipam_addr_is_valid(a))
		return ipam__fail(-EINVAL, "address", NULL, "not a valid address");
	n = a->family == IPAM_AF_INET ? format_v4((uint32_t)a->lo, tmp) : format_v6(a, tmp);
	if (n + 1 > size)
		return ipam__fail_code(-ENOSPC);
	memcpy(buf, tmp, n + 1);
	return (int)n;
}

/* ---- construction and arithmetic -------------------------------------------- */

IPAM_EXPORT ipam_addr ipam_addr_v4(uint32_t host_order)
{
	ipam_addr a;

	memset(&a, 0, sizeof(a));
	a.family = IPAM_AF_INET;
	a.lo = host_order;
	return a;
}

IPAM_EXPORT unsigned ipam_family_bits(int family)
{
	return family == IPAM_AF_INET ? 32 : family == IPAM_AF_INET6 ? 128 : 0;
}

IPAM_EXPORT int ipam_addr_is_valid(const ipam_addr *a)
{
	if (!a)
		return 0;
	if (a->family == IPAM_AF_INET6)
		return 1;
	return a->family == IPAM_AF_INET && a->hi == 0 && a->lo <= UINT32_MAX;
}

int ipam__addr_arg(const ipam_addr *a, const char *field)
{
	if (!a)
		return ipam__fail(-EINVAL, field, NULL, "missing argument");
	if (!ipam_addr_is_valid(a))
		return ipam__fail(-EINVAL, field, NULL,
				  "not a well-formed address (family %u%s)", a->family,
				  a->family == IPAM_AF_INET ? ", a value past 32 bits" : "");
	return 0;
}

IPAM_EXPORT int ipam_addr_from_bytes(int family, const uint8_t *b, ipam_addr *out)
{
	ipam_addr a;

	if (!b || !out)
		return ipam__fail_code(-EINVAL);
	memset(&a, 0, sizeof(a));
	if (family == IPAM_AF_INET) {
		a = ipam_addr_v4(((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
				 ((uint32_t)b[2] << 8) | b[3]);
	} else if (family == IPAM_AF_INET6) {
		a.family = IPAM_AF_INET6;
		for (int k = 0; k < 8; k++) {
			a.hi = (a.hi << 8) | b[k];
			a.lo = (a.lo << 8) | b[8 + k];
		}
	} else {
		return ipam__fail(-EAFNOSUPPORT, "family", NULL, "family must be 4 or 6");
	}
	*out = a;
	return 0;
}

IPAM_EXPORT int ipam_addr_to_bytes(const ipam_addr *a, uint8_t *out)
{
	if (!a || !out || !ipam_addr_is_valid(a))
		return ipam__fail_code(-EINVAL);
	if (a->family == IPAM_AF_INET) {
		for (int k = 0; k < 4; k++)
			out[k] = (uint8_t)(a->lo >> (24 - 8 * k));
		return 4;
	}
	for (int k = 0; k < 8; k++) {
		out[k] = (uint8_t)(a->hi >> (56 - 8 * k));
		out[8 + k] = (uint8_t)(a->lo >> (56 - 8 * k));
	}
	return 16;
}

IPAM_EXPORT int ipam_addr_cmp(const ipam_addr *a, const ipam_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

IPAM_EXPORT int ipam_addr_add(const ipam_addr *a, ipam_u128 off, ipam_addr *out)
{
	ipam__u128 v, o = ipam__u128_from(off), max;

	if (!a || !out || !ipam_addr_is_valid(a))
		return ipam__fail_code(-EINVAL);
	v = ipam__addr_value(a);
	max = ipam__family_max(a->family);
	if (o > max - v)
		return ipam__fail_code(-EOVERFLOW);
	*out = *a;
	ipam__addr_set_value(out, v + o);
	return 0;
}

IPAM_EXPORT int ipam_addr_sub(const ipam_addr *a, ipam_u128 off, ipam_addr *out)
{
	ipam__u128 v, o = ipam__u128_from(off);

	if (!a || !out || !ipam_addr_is_valid(a))
		return ipam__fail_code(-EINVAL);
	v = ipam__addr_value(a);
	if (o > v)
		return ipam__fail_code(-EOVERFLOW);
	*out = *a;
	ipam__addr_set_value(out, v - o);
	return 0;
}

IPAM_EXPORT int ipam_addr_diff(const ipam_addr *hi, const ipam_addr *lo, ipam_u128 *out)
{
	if (!hi || !lo || !out || !ipam_addr_is_valid(hi) || !ipam_addr_is_valid(lo))
		return ipam__fail_code(-EINVAL);
	if (hi->family != lo->family)
		return ipam__fail_code(-EAFNOSUPPORT);
	if (ipam_addr_cmp(hi, lo) < 0)
		return ipam__fail_code(-ERANGE);
	*out = ipam__u128_to(ipam__addr_value(hi) - ipam__addr_value(lo));
	return 0;
}
