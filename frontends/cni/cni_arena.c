/* SPDX-License-Identifier: MIT */
/*
 * libipam's allocator for one CNI call (ipam_set_allocator()).
 *
 * A call loads a network's leases, makes a commit or two and exits, so its
 * memory never needs to go back to the system before exit. musl's malloc
 * (the static build) returns freed pages eagerly and pays mmap, munmap and
 * a page fault to touch them again: with it a DEL on a full 1000-address
 * network took ~100 more page faults than with glibc's, and an ADD spent
 * about a sixth of its time in mmap/munmap. This allocator takes memory
 * from the system in 1 MiB chunks, hands it out by bumping a pointer, and
 * keeps released blocks on one free list per size class for reuse; libipam
 * tells the size on release, so its blocks carry no header. Blocks above
 * 64 KiB are mapped on their own and kept for reuse by a later large block
 * (a file buffer, a table) instead of being unmapped. (jansson keeps
 * libc's malloc: a string json_dumps() returns is released with free().)
 *
 * Sanitizer builds keep libipam's default allocator so that ASan still
 * sees every lease and table of the CNI tests.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "cni.h"

#define SMALL_MAX 1024u              /* classes of 16 bytes up to here */
#define LARGE_MAX (64u * 1024u)      /* then powers of two up to here */
#define NCLASSES (SMALL_MAX / 16u + 6u)
#define CHUNK (1u << 20)

struct free_block {
	struct free_block *next;
};

#define LARGE_CACHE 8

static struct {
	pthread_mutex_t mu;
	struct free_block *free[NCLASSES];
	unsigned char *bump, *end;
	struct {
		void *p;
		size_t bytes;
	} large[LARGE_CACHE]; /* released large blocks, for reuse */
} arena = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Class of a request, and the bytes a block of that class has. */
static unsigned class_of(size_t size, size_t *bytes)
{
	unsigned c;
	size_t b;

	if (size <= SMALL_MAX) {
		b = size ? (size + 15u) & ~(size_t)15u : 16u;
		*bytes = b;
		return (unsigned)(b / 16u - 1u);
	}
	for (c = SMALL_MAX / 16u, b = 2u * SMALL_MAX; b < size; b *= 2u)
		c++;
	*bytes = b;
	return c;
}

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* A large block: a cached one of at least `bytes` and at most twice that,
 * else a new mapping. */
static void *large_alloc(size_t bytes)
{
	void *p = NULL;

	pthread_mutex_lock(&arena.mu);
	for (unsigned i = 0; i < LARGE_CACHE && !p; i++) {
		if (arena.large[i].p && arena.large[i].bytes == bytes) {
			p = arena.large[i].p;
			arena.large[i].p = NULL;
		}
	}
	pthread_mutex_unlock(&arena.mu);
	return p ? p : map(bytes);
}

static void large_release(void *ptr, size_t bytes)
{
	pthread_mutex_lock(&arena.mu);
	for (unsigned i = 0; i < LARGE_CACHE; i++) {
		if (!arena.large[i].p) {
			arena.large[i].p = ptr;
			arena.large[i].bytes = bytes;
			ptr = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&arena.mu);
	if (ptr)
		munmap(ptr, bytes);
}

/* Large blocks are 128 KiB, 256 KiB, ...: a released one then fits the
 * next request of about its size. */
static size_t large_round(size_t n)
{
	size_t b = 128u * 1024u;

	while (b < n)
		b *= 2u;
	return b;
}

void *cni_arena_alloc(size_t size, void *ud)
{
	size_t bytes;
	unsigned c;
	void *p = NULL;

	(void)ud;
	if (size > LARGE_MAX)
		return size > SIZE_MAX / 4u ? NULL : large_alloc(large_round(size));
	c = class_of(size, &bytes);
	pthread_mutex_lock(&arena.mu);
	if (arena.free[c]) {
		p = arena.free[c];
		arena.free[c] = arena.free[c]->next;
	} else {
		if ((size_t)(arena.end - arena.bump) < bytes) {
			/* The rest of the old chunk is lost: at most 64 KiB a chunk. */
			unsigned char *chunk = map(CHUNK);
			if (chunk) {
				arena.bump = chunk;
				arena.end = chunk + CHUNK;
			}
		}
		if ((size_t)(arena.end - arena.bump) >= bytes) {
			p = arena.bump;
			arena.bump += bytes;
		}
	}
	pthread_mutex_unlock(&arena.mu);
	return p;
}

void cni_arena_release(void *ptr, size_t size, void *ud)
{
	struct free_block *b = ptr;
	size_t bytes;
	unsigned c;

	(void)ud;
	if (!ptr)
		return;
	if (size > LARGE_MAX) {
		large_release(ptr, large_round(size));
		return;
	}
	c = class_of(size, &bytes);
	pthread_mutex_lock(&arena.mu);
	b->next = arena.free[c];
	arena.free[c] = b;
	pthread_mutex_unlock(&arena.mu);
}

static void *arena_resize(void *ptr, size_t old_size, size_t new_size, void *ud)
{
	size_t ob, nb;
	void *n;

	if (!ptr)
		return cni_arena_alloc(new_size, ud);
	if (old_size <= LARGE_MAX && new_size <= LARGE_MAX &&
	    class_of(old_size, &ob) == class_of(new_size, &nb))
		return ptr;
	if (old_size > LARGE_MAX && new_size > LARGE_MAX &&
	    large_round(old_size) == large_round(new_size))
		return ptr;
	n = cni_arena_alloc(new_size, ud);
	if (!n)
		return NULL;
	memcpy(n, ptr, old_size < new_size ? old_size : new_size);
	cni_arena_release(ptr, old_size, ud);
	return n;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CNI_ARENA 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define CNI_ARENA 0
#endif
#endif
#ifndef CNI_ARENA
#define CNI_ARENA 1
#endif

int cni_arena_active(void)
{
	return CNI_ARENA;
}

void cni_arena_install(void)
{
	static const ipam_allocator a = { cni_arena_alloc, arena_resize, cni_arena_release, NULL };

	if (CNI_ARENA)
		ipam_set_allocator(&a);
}
