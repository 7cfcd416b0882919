/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ERROR_H
#define IPAM_ERROR_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every fallible function of libipam returns 0 (or a non-negative count) on
 * success and a negative errno-style code on failure. The codes that the
 * library itself produces are listed once, here, and ipam_strerror() and
 * ipam_errname() are generated from the same list, so a code and its text
 * cannot drift apart.
 *
 * XX(name, text): name is an <errno.h> constant; the returned code is -name.
 */
#define IPAM_ERRNO_MAP(XX)                                                       \
	XX(EINVAL, "invalid argument")                                           \
	XX(ENOMEM, "out of memory")                                              \
	XX(ENOSPC, "no free address in pool")                                    \
	XX(EEXIST, "already exists")                                             \
	XX(ENOENT, "not found")                                                  \
	XX(EAGAIN, "conflicting concurrent changes, try again later")            \
	XX(EIO, "input/output error")                                            \
	XX(ERANGE, "value out of range")                                         \
	XX(EOVERFLOW, "arithmetic overflow")                                     \
	XX(E2BIG, "too large for the selected index")                            \
	XX(EBUSY, "resource busy")                                               \
	XX(ENOTSUP, "operation not supported")                                   \
	XX(EACCES, "permission denied")                                          \
	XX(ENAMETOOLONG, "name too long")                                        \
	XX(EBADMSG, "corrupt data (checksum or framing)")                        \
	XX(EPROTO, "unsupported format version")                                 \
	XX(ESTALE, "stale generation or attachment")                             \
	XX(EAFNOSUPPORT, "address family mismatch")                              \
	XX(ETIMEDOUT, "timed out")                                               \
	XX(ECONNREFUSED, "connection refused")                                   \
	XX(ECANCELED, "operation cancelled")                                     \
	XX(EDEADLK, "not allowed from inside a callback of the library")

/* Levels given to the optional log callbacks (syslog's numbers). */
#define IPAM_LOG_ERR 3
#define IPAM_LOG_WARNING 4
#define IPAM_LOG_INFO 6
#define IPAM_LOG_DEBUG 7

/* Static, human-readable text for a code (negative or positive errno value).
 * Unknown codes give "unknown error". Never NULL, never allocates. */
const char *ipam_strerror(int err);

/* Symbolic name of a code ("ENOSPC"), or "UNKNOWN". Never NULL. */
const char *ipam_errname(int err);

/*
 * Detail of the most recent failure on the calling thread.
 *
 * Parsers and validators record which field and value were rejected and why;
 * other calls may leave only the code. The record is per thread and is
 * overwritten by the next failing call on the same thread; successful calls
 * leave it alone. The strings are always NUL-terminated.
 */
typedef struct ipam_error_info {
	int code;          /* negative errno code, 0 if nothing failed yet */
	char field[48];    /* the offending field ("subnet", "ranges[1].end") */
	char value[96];    /* the offending value as given (truncated) */
	char message[320]; /* full sentence: field, value and why */
} ipam_error_info;

/* Copy the calling thread's last failure into *out. Returns its code. */
int ipam_last_error(ipam_error_info *out);

/* The calling thread's last failure message ("" when none). The pointer
 * stays valid until the next libipam call on this thread. */
const char *ipam_last_error_message(void);

/*
 * Record a failure in the calling thread's detail, exactly as the library
 * records its own, and return err (made negative). For libraries, stores
 * and oracles built on libipam, so that their failures reach
 * ipam_last_error() too. fmt may be NULL (the code's text is used); bytes
 * of field and value that are not printable ASCII are replaced.
 */
int ipam_error_set(int err, const char *field, const char *value, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

/* ipam_error_set() with the arguments as a va_list, for a library's own
 * variadic failure function. */
int ipam_error_setv(int err, const char *field, const char *value, const char *fmt, va_list ap)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 0)))
#endif
	;

/* Forget the calling thread's last failure. */
void ipam_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_ERROR_H */
