/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ALLOC_H
#define IPAM_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Memory allocator used by every object of the library.
 *
 * The default is jemalloc's non-standard entry points (mallocx/sdallocx) when
 * libipam was built with jemalloc, otherwise the C library's malloc. Either
 * way the host program's own malloc is never replaced: libipam calls jemalloc
 * by its extended names only.
 *
 * alloc(size, ud) returns NULL on failure. release(ptr, size, ud) receives
 * the size that was requested (ptr may be NULL, then it must do nothing).
 * All three callbacks may be called from any thread at once.
 */
typedef struct ipam_allocator {
	void *(*alloc)(size_t size, void *ud);
	void *(*resize)(void *ptr, size_t old_size, size_t new_size, void *ud);
	void (*release)(void *ptr, size_t size, void *ud);
	void *ud;
} ipam_allocator;

/*
 * Install an allocator for all objects created afterwards; NULL restores the
 * default. Call it before creating any object and free every object before
 * switching again: memory is always released by the allocator that made it
 * only if it is not switched while objects are alive. Returns 0, or -EINVAL if
 * a callback is missing.
 */
int ipam_set_allocator(const ipam_allocator *a);

/* Name of the default allocator compiled in: "jemalloc" or "libc". */
const char *ipam_default_allocator_name(void);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_ALLOC_H */
