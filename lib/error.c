/* SPDX-License-Identifier: MIT */
/*
 * Error codes and the per-thread detail of the last failure.
 *
 * The texts come from IPAM_ERRNO_MAP in <ipam/error.h>, the one list of codes.
 * The detail record is thread-local so concurrent callers never see each
 * other's messages, and it is written only on failure.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local ipam_error_info last_error;
static _Thread_local unsigned long fail_count; /* failures recorded on this thread */

unsigned long ipam__fail_count(void)
{
	return fail_count;
}

int ipam__failed_since(unsigned long count, int err)
{
	return fail_count != count && last_error.code == err;
}

void ipam__error_restore(const ipam_error_info *saved)
{
	last_error = *saved;
}

IPAM_EXPORT const char *ipam_strerror(int err)
{
	if (err == INT_MIN)
		return "unknown error";
	if (err > 0)
		err = -err;
	switch (-err) {
	case 0:
		return "success";
#define IPAM_STRERROR_CASE(name, text) \
	case name:                     \
		return text;
		IPAM_ERRNO_MAP(IPAM_STRERROR_CASE)
#undef IPAM_STRERROR_CASE
	default:
		return "unknown error";
	}
}

IPAM_EXPORT const char *ipam_errname(int err)
{
	if (err == INT_MIN)
		return "UNKNOWN";
	if (err > 0)
		err = -err;
	switch (-err) {
	case 0:
		return "OK";
#define IPAM_ERRNAME_CASE(name, text) \
	case name:                    \
		return #name;
		IPAM_ERRNO_MAP(IPAM_ERRNAME_CASE)
#undef IPAM_ERRNAME_CASE
	default:
		return "UNKNOWN";
	}
}

/* Copy at most len bytes of src into dst (size dst_size), replacing bytes
 * that are not printable ASCII with '?', so a hostile value cannot put
 * control characters into a message that an operator will read. */
static void copy_printable(char *dst, size_t dst_size, const char *src, size_t len)
{
	size_t i, n = len < dst_size - 1 ? len : dst_size - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
	if (len > n && dst_size > 4)
		memcpy(dst + dst_size - 4, "...", 4);
}

static int fail_v(int err, const char *field, const char *value, size_t value_len,
		  const char *fmt, va_list ap) IPAM_PRINTF(5, 0);

static int fail_v(int err, const char *field, const char *value, size_t value_len,
		  const char *fmt, va_list ap)
{
	ipam_error_info *e = &last_error;
	char why[sizeof(e->message)];
	int n;

	if (err == INT_MIN)
		err = -EINVAL; /* no code at all: not negatable */
	if (err > 0)
		err = -err;
	fail_count++;
	e->code = err;
	copy_printable(e->field, sizeof(e->field), field ? field : "", field ? strlen(field) : 0);
	copy_printable(e->value, sizeof(e->value), value ? value : "", value ? value_len : 0);
	if (fmt) {
		vsnprintf(why, sizeof(why), fmt, ap);
	} else {
		snprintf(why, sizeof(why), "%s", ipam_strerror(err));
	}
	/* Truncation of an over-long message is intended: it stays readable. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
	if (e->field[0] && value)
		n = snprintf(e->message, sizeof(e->message), "%s \"%s\": %s", e->field, e->value, why);
	else if (e->field[0])
		n = snprintf(e->message, sizeof(e->message), "%s: %s", e->field, why);
	else
		n = snprintf(e->message, sizeof(e->message), "%s", why);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
	(void)n;
	return err;
}

int ipam__fail_addr(int err, const char *field, const ipam_addr *a, const char *fmt, ...)
{
	char text[IPAM_ADDR_STRLEN] = "(invalid)";
	va_list ap;
	int r;

	if (ipam_addr_is_valid(a)) /* else formatting would record a failure of its own */
		ipam_addr_format(a, text, sizeof(text));
	va_start(ap, fmt);
	r = fail_v(err, field, text, strlen(text), fmt, ap);
	va_end(ap);
	return r;
}

int ipam__errno_code(int err)
{
	if (err < 0)
		err = err == INT_MIN ? EIO : -err;
	if (err == ENOSPC || err == EDQUOT) /* a full disk, not a full pool */
		return -EIO;
	if (err == EPERM)
		return -EACCES;
	return strcmp(ipam_errname(-err), "UNKNOWN") != 0 ? -err : -EIO; /* listed or not */
}

int ipam__fail(int err, const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fail_v(err, field, value, value ? strlen(value) : 0, fmt, ap);
	va_end(ap);
	return r;
}

int ipam__fail_n(int err, const char *field, const char *value, size_t value_len,
		 const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fail_v(err, field, value, value_len, fmt, ap);
	va_end(ap);
	return r;
}

IPAM_EXPORT int ipam_error_set(int err, const char *field, const char *value, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fail_v(err, field, value, value ? strlen(value) : 0, fmt, ap);
	va_end(ap);
	return r;
}

IPAM_EXPORT int ipam_error_setv(int err, const char *field, const char *value, const char *fmt,
				va_list ap)
{
	return fail_v(err, field, value, value ? strlen(value) : 0, fmt, ap);
}

int ipam__fail_code(int err)
{
	return ipam__fail(err, NULL, NULL, NULL);
}

IPAM_EXPORT int ipam_last_error(ipam_error_info *out)
{
	if (out)
		*out = last_error;
	return last_error.code;
}

IPAM_EXPORT const char *ipam_last_error_message(void)
{
	return last_error.message;
}

IPAM_EXPORT void ipam_clear_error(void)
{
	memset(&last_error, 0, sizeof(last_error));
}
