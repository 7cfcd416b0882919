/* SPDX-License-Identifier: MIT */
/*
 * Failures of the etcd store go to libipam's own per-thread record through its
 * public setter, so ipam_last_error() and ipam_etcd_last_error() tell the
 * same thing and the sanitising of hostile values happens in one place.
 */
#include <stdarg.h>

#include "etcd_internal.h"

int ipam_etcd__fail(int err, const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ipam_error_setv(err, field, value, fmt, ap);
	va_end(ap);
	return r;
}

int ipam_etcd_last_error(ipam_error_info *out)
{
	return ipam_last_error(out);
}

const char *ipam_etcd_last_error_message(void)
{
	return ipam_last_error_message();
}
