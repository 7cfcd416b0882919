/* SPDX-License-Identifier: MIT */
#ifndef IPAM_NETCONF_INTERNAL_H
#define IPAM_NETCONF_INTERNAL_H

/* Helpers private to frontends/common (prefix nc__). */
#include <stdint.h>

#include <jansson.h>

#include "ipam_config.h"

/* Reason text of libipam's last failure, without its own field prefix. */
const char *nc__lib_reason(void);
/* Record libipam's failure r against field (and the value, if any). */
int nc__lib_fail(ipam_netconf_error *err, int r, const char *field, const char *value);

/* Typed getters: absent or null leaves *out alone (or NULL for strings);
 * a present value of the wrong type fails naming path. */
int nc__get_string(const json_t *obj, const char *key, const char *path, int required,
		   const char **out, ipam_netconf_error *err);
int nc__get_uint(const json_t *obj, const char *key, const char *path, uint64_t max,
		 uint64_t *out, ipam_netconf_error *err);
int nc__get_bool(const json_t *obj, const char *key, const char *path, int *out,
		 ipam_netconf_error *err);
int nc__copy(char *dst, size_t size, const char *src, const char *path, ipam_netconf_error *err);

/* Pools being built: they stay writable until added to the set. */
struct nc_build {
	unsigned n, ngroups;
	ipam_pool *pools[IPAM_NETCONF_MAX_POOLS];
	unsigned group[IPAM_NETCONF_MAX_POOLS];
	char path[IPAM_NETCONF_MAX_POOLS][48]; /* field of the pool's first range */
	int gw_explicit[IPAM_NETCONF_MAX_POOLS]; /* the gateway was named, not defaulted */
};

/* Range sets (ipam.ranges, the older single range first) into b. */
int nc__parse_ranges(struct nc_build *b, const json_t *ipam, ipam_netconf_error *err);
/* ipam.exclude: each entry into the pool whose subnet holds it. */
int nc__parse_excludes(struct nc_build *b, const json_t *ipam, ipam_netconf_error *err);
void nc__build_free(struct nc_build *b);

#endif
