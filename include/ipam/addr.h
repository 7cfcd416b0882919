/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ADDR_H
#define IPAM_ADDR_H

/*
 * The address layer: one 128-bit value plus a family, prefixes and ranges.
 *
 * Nothing here allocates memory, takes a lock or touches global state other
 * than the per-thread error detail (ipam_last_error()). Every function checks
 * its arguments and reports bad input with a negative errno code.
 *
 * IPv4 addresses are held in the low 32 bits of `lo`, in host byte order;
 * `hi` is then 0. IPv6 addresses use all 128 bits, `hi` holding the first
 * eight bytes in network order read as a big-endian number.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPAM_AF_INET 4
#define IPAM_AF_INET6 6

/* Longest text of an address ("ffff:ffff:...:255.255.255.255") plus NUL. */
#define IPAM_ADDR_STRLEN 46
/* Longest text of a prefix (address, '/', three digits) plus NUL. */
#define IPAM_PREFIX_STRLEN 50
/* Longest text of a range ("first-last") plus NUL. */
#define IPAM_RANGE_STRLEN 92
/* Longest decimal text of a 128-bit count plus NUL. */
#define IPAM_U128_STRLEN 40

/* An unsigned 128-bit number: counts, offsets and spans of address ranges. */
typedef struct ipam_u128 {
	uint64_t hi;
	uint64_t lo;
} ipam_u128;

typedef struct ipam_addr {
	uint64_t hi;
	uint64_t lo;
	uint8_t family; /* IPAM_AF_INET or IPAM_AF_INET6; 0 = unset */
} ipam_addr;

typedef struct ipam_prefix {
	ipam_addr addr;
	uint8_t len; /* 0..32 for IPv4, 0..128 for IPv6 */
} ipam_prefix;

/* An inclusive range first..last of one family, first <= last. */
typedef struct ipam_range {
	ipam_addr first;
	ipam_addr last;
} ipam_range;

/* ---- 128-bit arithmetic ------------------------------------------------ */

static inline ipam_u128 ipam_u128_make(uint64_t hi, uint64_t lo)
{
	ipam_u128 r = { hi, lo };
	return r;
}

/* -1, 0 or 1. */
int ipam_u128_cmp(ipam_u128 a, ipam_u128 b);
/* *out = a + b; -EOVERFLOW (and *out untouched) if it does not fit. */
int ipam_u128_add(ipam_u128 a, ipam_u128 b, ipam_u128 *out);
/* *out = a - b; -EOVERFLOW if b > a. */
int ipam_u128_sub(ipam_u128 a, ipam_u128 b, ipam_u128 *out);
/* Decimal text; returns its length or -ENOSPC if buf is too small. */
int ipam_u128_format(ipam_u128 v, char *buf, size_t size);

/* ---- addresses ---------------------------------------------------------- */

/*
 * Parse a NUL-terminated IPv4 dotted quad or IPv6 text (RFC 4291 section
 * 2.2, including a trailing dotted quad). Strict: no leading zeros in IPv4
 * octets (they are octal to some parsers and decimal to others), no zone
 * index, no surrounding space, no trailing bytes. Returns 0 or -EINVAL.
 */
int ipam_addr_parse(const char *text, ipam_addr *out);

/* As ipam_addr_parse() on exactly len bytes; an embedded NUL is refused. */
int ipam_addr_parse_n(const char *text, size_t len, ipam_addr *out);

/*
 * Format canonically: dotted quad for IPv4, RFC 5952 for IPv6 (lower case,
 * longest run of two or more zero groups compressed, the first such run on a
 * tie, IPv4-mapped addresses as ::ffff:a.b.c.d). Returns the length written
 * (excluding the NUL), -ENOSPC if size is too small, -EINVAL for a bad addr.
 */
int ipam_addr_format(const ipam_addr *a, char *buf, size_t size);

/* An IPv4 address from a host-order 32-bit value. */
ipam_addr ipam_addr_v4(uint32_t host_order);

/* From network-order bytes: 4 for IPAM_AF_INET, 16 for IPAM_AF_INET6. */
int ipam_addr_from_bytes(int family, const uint8_t *bytes, ipam_addr *out);

/* To network-order bytes; out must hold 16. Returns 4 or 16, or -EINVAL. */
int ipam_addr_to_bytes(const ipam_addr *a, uint8_t *out);

/* 32 or 128 for a valid family, 0 otherwise. */
unsigned ipam_family_bits(int family);

/* 1 if a is a well-formed address of a known family, else 0. */
int ipam_addr_is_valid(const ipam_addr *a);

/* Order by family (IPv4 first), then by value. -1, 0, 1. */
int ipam_addr_cmp(const ipam_addr *a, const ipam_addr *b);

/* *out = a + off; -EOVERFLOW past the family's last address. */
int ipam_addr_add(const ipam_addr *a, ipam_u128 off, ipam_addr *out);

/* *out = a - off; -EOVERFLOW below the family's first address. */
int ipam_addr_sub(const ipam_addr *a, ipam_u128 off, ipam_addr *out);

/* *out = hi - lo; -EAFNOSUPPORT on mixed families, -ERANGE if hi < lo. */
int ipam_addr_diff(const ipam_addr *hi, const ipam_addr *lo, ipam_u128 *out);

/* ---- prefixes ------------------------------------------------------------ */

/* Parse flags for ipam_prefix_parse(). */
#define IPAM_PREFIX_STRICT 0u    /* refuse host bits: "10.0.0.1/24" -> -EINVAL */
#define IPAM_PREFIX_MASK 1u      /* clear host bits: "10.0.0.1/24" -> 10.0.0.0/24 */
#define IPAM_PREFIX_KEEP_HOST 2u /* keep them: an interface address with its mask */
/* Also accept a bare address as a host prefix (/32 or /128). */
#define IPAM_PREFIX_BARE_ADDR 4u

/*
 * Parse "address/length". The length is decimal without leading zeros or
 * sign, at most 32 (IPv4) or 128 (IPv6). By default a network address is
 * required and host bits are refused with a message naming the network.
 */
int ipam_prefix_parse(const char *text, unsigned flags, ipam_prefix *out);
int ipam_prefix_parse_n(const char *text, size_t len, unsigned flags, ipam_prefix *out);

/* Returns the length written or -ENOSPC / -EINVAL. */
int ipam_prefix_format(const ipam_prefix *p, char *buf, size_t size);

/* Build a prefix; -EINVAL for a bad length, host bits kept as given. */
int ipam_prefix_make(const ipam_addr *a, unsigned len, ipam_prefix *out);

/* The network (host bits cleared) and last address of the prefix. */
ipam_range ipam_prefix_range(const ipam_prefix *p);

/* 1 if a lies inside p (same family, same network bits), else 0. */
int ipam_prefix_contains(const ipam_prefix *p, const ipam_addr *a);

/* ---- ranges -------------------------------------------------------------- */

/* first..last; -EAFNOSUPPORT on mixed families, -ERANGE if first > last. */
int ipam_range_make(const ipam_addr *first, const ipam_addr *last, ipam_range *out);

/*
 * Parse "first-last", a prefix "net/len" (its whole span) or a single
 * address (a one-address range). Returns 0 or a negative code.
 */
int ipam_range_parse(const char *text, ipam_range *out);
int ipam_range_parse_n(const char *text, size_t len, ipam_range *out);

/* "first-last", or just "first" for a one-address range. */
int ipam_range_format(const ipam_range *r, char *buf, size_t size);

/* last - first: the count minus one, which always fits in 128 bits. */
ipam_u128 ipam_range_span(const ipam_range *r);

/* Number of addresses; -EOVERFLOW for the whole IPv6 space (2^128). */
int ipam_range_count(const ipam_range *r, ipam_u128 *out);

int ipam_range_contains(const ipam_range *r, const ipam_addr *a);
int ipam_range_overlaps(const ipam_range *a, const ipam_range *b);
/* 1 if inner lies entirely inside outer. */
int ipam_range_within(const ipam_range *inner, const ipam_range *outer);

/* Offset of a from r->first; -ERANGE if a is outside r. */
int ipam_range_offset(const ipam_range *r, const ipam_addr *a, ipam_u128 *out);

/* The address at offset off from r->first; -ERANGE past r->last. */
int ipam_range_at(const ipam_range *r, ipam_u128 off, ipam_addr *out);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_ADDR_H */
