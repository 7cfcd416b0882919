/* SPDX-License-Identifier: MIT */
/*
 * Only in ipam-cni's musl build (frontends/meson.build): that build links
 * Debian's libjansson.a, which was compiled against glibc with
 * _FORTIFY_SOURCE and so calls glibc's checked variants of three functions.
 * musl has no such variants; these are them, with glibc's contract: the
 * destination's real size (slen, dlen) must cover the length the call may
 * write, or the process stops, as glibc's __chk_fail does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap);
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...);
char *__strncpy_chk(char *dst, const char *src, size_t n, size_t dlen);

__attribute__((format(printf, 5, 0)))
int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap)
{
	(void)flag;
	if (maxlen > slen)
		abort();
	return vsnprintf(s, maxlen, fmt, ap);
}

__attribute__((format(printf, 5, 6)))
int __snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = __vsnprintf_chk(s, maxlen, flag, slen, fmt, ap);
	va_end(ap);
	return r;
}

char *__strncpy_chk(char *dst, const char *src, size_t n, size_t dlen)
{
	if (n > dlen)
		abort();
	return strncpy(dst, src, n);
}
