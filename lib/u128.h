/* SPDX-License-Identifier: MIT */
#ifndef IPAM_U128_H
#define IPAM_U128_H

/*
 * Native 128-bit arithmetic for the library's internals. The public API uses
 * the portable ipam_u128 pair; inside, GCC and Clang's unsigned __int128 is
 * shorter and faster. Conversions are explicit so the two never mix by
 * accident.
 */

#include <ipam/addr.h>

__extension__ typedef unsigned __int128 ipam__u128;

static inline ipam__u128 ipam__u128_from(ipam_u128 v)
{
	return ((ipam__u128)v.hi << 64) | v.lo;
}

static inline ipam_u128 ipam__u128_to(ipam__u128 v)
{
	ipam_u128 r = { (uint64_t)(v >> 64), (uint64_t)v };
	return r;
}

static inline ipam__u128 ipam__addr_value(const ipam_addr *a)
{
	return ((ipam__u128)a->hi << 64) | a->lo;
}

static inline void ipam__addr_set_value(ipam_addr *a, ipam__u128 v)
{
	a->hi = (uint64_t)(v >> 64);
	a->lo = (uint64_t)v;
}

/* Largest value of a family: 2^32-1 or 2^128-1 (0 for a bad family). */
static inline ipam__u128 ipam__family_max(int family)
{
	if (family == IPAM_AF_INET)
		return (ipam__u128)UINT32_MAX;
	if (family == IPAM_AF_INET6)
		return ~(ipam__u128)0;
	return 0;
}

#endif /* IPAM_U128_H */
