/* SPDX-License-Identifier: MIT */
/*
 * The library's allocator.
 *
 * Default: jemalloc through mallocx/rallocx/sdallocx when built with it. Only
 * these extended names are called, so a program linking libipam keeps its
 * own malloc: the shared library's dependency on libjemalloc comes after
 * libc in the symbol search order, and libipam never calls malloc() itself.
 * The allocator can be replaced (tests inject failures); the table is read
 * with acquire semantics so a switch made before threads start is seen.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"

#if IPAM_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

static void *default_alloc(size_t size, void *ud)
{
	(void)ud;
	return mallocx(size ? size : 1, 0);
}

static void *default_resize(void *ptr, size_t old_size, size_t new_size, void *ud)
{
	(void)ud;
	(void)old_size;
	if (!ptr)
		return mallocx(new_size ? new_size : 1, 0);
	return rallocx(ptr, new_size ? new_size : 1, 0);
}

static void default_release(void *ptr, size_t size, void *ud)
{
	(void)ud;
	if (ptr)
		sdallocx(ptr, size ? size : 1, 0);
}
#define DEFAULT_NAME "jemalloc"
#else
static void *default_alloc(size_t size, void *ud)
{
	(void)ud;
	return malloc(size ? size : 1);
}

static void *default_resize(void *ptr, size_t old_size, size_t new_size, void *ud)
{
	(void)ud;
	(void)old_size;
	return realloc(ptr, new_size ? new_size : 1);
}

static void default_release(void *ptr, size_t size, void *ud)
{
	(void)ud;
	(void)size;
	free(ptr);
}
#define DEFAULT_NAME "libc"
#endif

static const ipam_allocator default_allocator = {
	default_alloc, default_resize, default_release, NULL,
};

static ipam_allocator custom_allocator;
static _Atomic(const ipam_allocator *) current = &default_allocator;

IPAM_EXPORT int ipam_set_allocator(const ipam_allocator *a)
{
	if (!a) {
		atomic_store_explicit(&current, &default_allocator, memory_order_release);
		return 0;
	}
	if (!a->alloc || !a->resize || !a->release)
		return ipam__fail(-EINVAL, "allocator", NULL, "alloc, resize and release are all required");
	custom_allocator = *a;
	atomic_store_explicit(&current, &custom_allocator, memory_order_release);
	return 0;
}

IPAM_EXPORT const char *ipam_default_allocator_name(void)
{
	return DEFAULT_NAME;
}

static inline const ipam_allocator *cur(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

void *ipam__alloc(size_t size)
{
	const ipam_allocator *a = cur();
	return a->alloc(size, a->ud);
}

void *ipam__zalloc(size_t size)
{
	void *p = ipam__alloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *ipam__calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return ipam__zalloc(n * size);
}

void *ipam__resize(void *ptr, size_t old_size, size_t new_size)
{
	const ipam_allocator *a = cur();
	return a->resize(ptr, old_size, new_size, a->ud);
}

void ipam__release(void *ptr, size_t size)
{
	const ipam_allocator *a = cur();
	if (ptr)
		a->release(ptr, size, a->ud);
}

char *ipam__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = ipam__alloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

void ipam__strfree(char *s)
{
	if (s)
		ipam__release(s, strlen(s) + 1);
}
