/* SPDX-License-Identifier: MIT */
/*
 * Only in ipam-cni's musl build (frontends/meson.build).
 *
 * malloc and its family, from the per-call arena (cni_arena.c). musl's
 * malloc maps and unmaps a page at a time as small blocks come and go:
 * about twenty mmap/munmap calls in one ADD, a tenth of its CPU time. musl
 * supports replacing malloc in a static program; blocks here carry a
 * 16-byte header with their size and their distance from the arena block.
 *
 * The checked functions: that build links
 * Debian's libjansson.a, which was compiled against glibc with
 * _FORTIFY_SOURCE and so calls glibc's checked variants of three functions.
 * musl has no such variants; these are them, with glibc's contract: the
 * destination's real size (slen, dlen) must cover the length the call may
 * write, or the process stops, as glibc's __chk_fail does.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"

struct hdr {
	size_t bytes;  /* of the arena block */
	size_t offset; /* from the arena block to the user pointer */
};

_Static_assert(sizeof(struct hdr) == 16, "the header keeps 16-byte alignment");

static void *alloc_aligned(size_t align, size_t size)
{
	size_t bytes;
	unsigned char *b, *p;
	struct hdr h;

	if (align < 16)
		align = 16;
	if (align & (align - 1) || size > SIZE_MAX / 2 - align - sizeof(h)) {
		errno = align & (align - 1) ? EINVAL : ENOMEM;
		return NULL;
	}
	bytes = size + sizeof(h) + (align > 16 ? align : 0);
	b = cni_arena_alloc(bytes, NULL);
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	p = b + sizeof(h);
	p += (align - (uintptr_t)p % align) % align;
	h.bytes = bytes;
	h.offset = (size_t)(p - b);
	memcpy(p - sizeof(h), &h, sizeof(h));
	return p;
}

static struct hdr hdr_of(const void *p)
{
	struct hdr h;

	memcpy(&h, (const unsigned char *)p - sizeof(h), sizeof(h));
	return h;
}

void *malloc(size_t size)
{
	return alloc_aligned(16, size);
}

void free(void *p)
{
	if (p) {
		struct hdr h = hdr_of(p);
		cni_arena_release((unsigned char *)p - h.offset, h.bytes, NULL);
	}
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	struct hdr h = hdr_of(p);
	return h.bytes - h.offset;
}

void *realloc(void *p, size_t size)
{
	size_t have;
	void *n;

	if (!p)
		return malloc(size);
	have = malloc_usable_size(p);
	if (size <= have && size >= have / 2)
		return p;
	n = malloc(size);
	if (!n)
		return NULL;
	memcpy(n, p, have < size ? have : size);
	free(p);
	return n;
}

void *aligned_alloc(size_t align, size_t size)
{
	return alloc_aligned(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align < sizeof(void *) || align & (align - 1))
		return EINVAL;
	p = alloc_aligned(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *memalign(size_t align, size_t size)
{
	return alloc_aligned(align, size);
}

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
