/* SPDX-License-Identifier: MIT */
/*
 * The per-thread detail of the last failure of the etcd store. It mirrors
 * libipam's record (same ipam_error_info shape and message format) but is
 * separate: the core's recorder is not part of its public API.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "etcd_internal.h"

static _Thread_local ipam_error_info last_error;

/* Copy src into dst, replacing what is not printable ASCII with '?': keys
 * and etcd messages end up in operators' logs. */
static void copy_printable(char *dst, size_t dst_size, const char *src)
{
	size_t len = strlen(src), i, n = len < dst_size - 1 ? len : dst_size - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
	if (len > n && dst_size > 4)
		memcpy(dst + dst_size - 4, "...", 4);
}

int ipam_etcd__fail(int err, const char *field, const char *value, const char *fmt, ...)
{
	ipam_error_info *e = &last_error;
	char why[256];
	va_list ap;

	if (err > 0)
		err = -err;
	e->code = err;
	copy_printable(e->field, sizeof(e->field), field ? field : "");
	copy_printable(e->value, sizeof(e->value), value ? value : "");
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	} else {
		snprintf(why, sizeof(why), "%s", ipam_strerror(err));
	}
	/* Truncating an over-long message is intended: it stays readable. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
	if (e->field[0] && value)
		snprintf(e->message, sizeof(e->message), "%s \"%s\": %s", e->field, e->value, why);
	else if (e->field[0])
		snprintf(e->message, sizeof(e->message), "%s: %s", e->field, why);
	else
		snprintf(e->message, sizeof(e->message), "%s", why);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
	return err;
}

int ipam_etcd_last_error(ipam_error_info *out)
{
	if (out)
		*out = last_error;
	return last_error.code;
}

const char *ipam_etcd_last_error_message(void)
{
	return last_error.message;
}
