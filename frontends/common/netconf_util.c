/* SPDX-License-Identifier: MIT */
/*
 * Small pieces shared by the configuration reader and writer: the error
 * record, typed getters that name the field they reject, and freeing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam_config.h"
#include "netconf_internal.h"

int ipam_netconf_fail(ipam_netconf_error *err, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* Hostile values must not smuggle control bytes into logs. */
	for (char *p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

/* The reason part of libipam's last message ("what \"value\": reason"). */
const char *nc__lib_reason(void)
{
	const char *m = ipam_last_error_message();
	const char *p = strstr(m, "\": ");

	if (p)
		return p + 3;
	return *m ? m : "invalid";
}

int nc__lib_fail(ipam_netconf_error *err, int r, const char *field, const char *value)
{
	int code = r == -ENOMEM ? IPAM_CNI_ERR_INTERNAL : IPAM_CNI_ERR_CONFIG;

	if (value)
		return ipam_netconf_fail(err, code, field, "%s \"%.200s\": %s", field, value,
					 nc__lib_reason());
	return ipam_netconf_fail(err, code, field, "%s: %s", field, nc__lib_reason());
}

int nc__get_string(const json_t *obj, const char *key, const char *path, int required,
		   const char **out, ipam_netconf_error *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
						 "%s is missing (a string is required)", path);
		return 0;
	}
	if (!json_is_string(v))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path, "%s must be a string", path);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s contains a NUL byte", path);
	*out = json_string_value(v);
	return 0;
}

int nc__get_uint(const json_t *obj, const char *key, const char *path, uint64_t max,
		 uint64_t *out, ipam_netconf_error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0; /* *out keeps its default */
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s must be an integer from 0 to %llu", path,
					 (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int nc__get_bool(const json_t *obj, const char *key, const char *path, int *out,
		 ipam_netconf_error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path, "%s must be true or false",
					 path);
	*out = json_is_true(v);
	return 0;
}

int nc__copy(char *dst, size_t size, const char *src, const char *path, ipam_netconf_error *err)
{
	size_t n = strlen(src);

	if (n >= size)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, path,
					 "%s is too long (%zu bytes, at most %zu)", path, n, size - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

ipam_netconf *ipam_netconf_free(ipam_netconf *c)
{
	if (c) {
		ipam_poolset_free(c->set);
		free(c);
	}
	return NULL;
}

ipam_poolset *ipam_netconf_take_set(ipam_netconf *c)
{
	ipam_poolset *s = c ? c->set : NULL;

	if (c)
		c->set = NULL;
	return s;
}

int ipam_netconf_pool_group(const ipam_netconf *c, const ipam_poolset *set, const char *pool)
{
	if (!c || !set || !pool)
		return -1;
	for (unsigned i = 0; i < c->npools && i < ipam_poolset_count(set); i++)
		if (strcmp(ipam_pool_name(ipam_poolset_pool(set, i)), pool) == 0)
			return (int)c->pool_group[i];
	return -1;
}
