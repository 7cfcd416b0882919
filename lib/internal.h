/* SPDX-License-Identifier: MIT */
#ifndef IPAM_INTERNAL_H
#define IPAM_INTERNAL_H

/*
 * Private helpers shared by the library's files. Nothing declared here is
 * exported: non-static internal functions carry the ipam__ prefix and the
 * version script (libipam.map) exports only what IPAM_EXPORT marks.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ipam/addr.h>
#include <ipam/alloc.h>
#include <ipam/error.h>

#define IPAM_EXPORT __attribute__((visibility("default")))

#if defined(__GNUC__)
#define IPAM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define IPAM_LIKELY(x) __builtin_expect(!!(x), 1)
#define IPAM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define IPAM_PRINTF(a, b)
#define IPAM_LIKELY(x) (x)
#define IPAM_UNLIKELY(x) (x)
#endif

#define IPAM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- memory (alloc.c) --------------------------------------------------
 * Every allocation of the library goes through these, so an injected
 * allocator (tests fail the Nth call) sees all of them. Sizes are passed
 * back on release, as jemalloc's sdallocx wants. */
void *ipam__alloc(size_t size);
void *ipam__zalloc(size_t size);
void *ipam__resize(void *ptr, size_t old_size, size_t new_size);
void ipam__release(void *ptr, size_t size);
/* n * size with overflow check; NULL (and no allocation) on overflow. */
void *ipam__calloc(size_t n, size_t size);
/* Copy of a NUL-terminated string; release with ipam__strfree(). */
char *ipam__strdup(const char *s);
void ipam__strfree(char *s);

/* Copy a NUL-terminated string into dst of size bytes, truncating; dst is
 * always terminated. The hot-path replacement for snprintf("%s"). */
static inline void ipam__strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Copy len bytes of src (no NUL among them) into dst and terminate it:
 * a string whose length is already known. */
static inline void ipam__strput(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* ---- errors (error.c) --------------------------------------------------
 * Record the detail of a failure for ipam_last_error() and return err, so a
 * caller can write: return ipam__fail(-EINVAL, "subnet", text, "..."). */
int ipam__fail(int err, const char *field, const char *value, const char *fmt, ...)
	IPAM_PRINTF(4, 5);
/* Same, with the value given as (pointer, length): not NUL-terminated. */
int ipam__fail_n(int err, const char *field, const char *value, size_t value_len,
		 const char *fmt, ...) IPAM_PRINTF(5, 6);
/* Record only a code, with the default text. */
int ipam__fail_code(int err);
/* Same as ipam__fail(), the value being address a, formatted ("(invalid)"
 * if it is not well formed). */
int ipam__fail_addr(int err, const char *field, const ipam_addr *a, const char *fmt, ...)
	IPAM_PRINTF(4, 5);
/* How many failures this thread has recorded: a caller that compares it
 * before and after a call can record the code of a failure that recorded
 * nothing (a bare -ENOMEM deep down), so the record is never stale. */
unsigned long ipam__fail_count(void);
/* 1 if err is the code recorded last, by a failure after `count` (a
 * failure swallowed on the way, say a pool found full, does not count). */
int ipam__failed_since(unsigned long count, int err);
/* Put back a record saved with ipam_last_error(): a call that turns an
 * inner failure into a normal outcome leaves the caller's record alone. */
void ipam__error_restore(const ipam_error_info *saved);
/* The library's code for a system errno value (either sign), for errors of
 * files and sockets: itself if <ipam/error.h> lists it, else -EIO (ENOSPC
 * and EDQUOT too: a full disk is not a full pool; EPERM is -EACCES). The
 * message keeps the system's words. */
int ipam__errno_code(int err);

/* Unix seconds to milliseconds, saturating: times read from a store may be
 * anything. */
static inline int64_t ipam__secs_to_ms(int64_t s)
{
	if (s > INT64_MAX / 1000)
		return INT64_MAX;
	if (s < INT64_MIN / 1000)
		return INT64_MIN;
	return s * 1000;
}

/* An address argument of field: 0, or -EINVAL recorded if it is NULL or
 * not well formed (ipam_addr_is_valid()), before anything formats it. */
int ipam__addr_arg(const ipam_addr *a, const char *field);

#endif /* IPAM_INTERNAL_H */
