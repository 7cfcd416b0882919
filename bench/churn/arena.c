/* SPDX-License-Identifier: MIT */
/*
 * The shared arena: one anonymous MAP_SHARED mapping made before any fork,
 * holding the pods, the runtime's work queue (a min-heap by due time) and
 * the counters, guarded by one process-shared mutex. Worker threads and
 * forked worker processes use it the same way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "churn.h"

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

double unit_rand(uint64_t *state)
{
	*state = mix64(*state);
	return (double)(*state >> 11) / 9007199254740992.0;
}

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

struct arena *arena_new(const struct config *c)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	size_t off_pods = align16(sizeof(struct arena));
	size_t off_queue = off_pods + align16(sizeof(struct pod) * c->pods);
	unsigned qcap = 4 * c->pods + 64;
	unsigned latcap = 2 * c->pods + 64;
	size_t off_lat = off_queue + align16(sizeof(struct job) * (size_t)(qcap + 1));
	size_t size = off_lat + sizeof(double) * latcap;
	struct arena *a;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	a = m; /* the mapping is zeroed */
	a->size = size;
	a->npods = c->pods;
	a->qcap = qcap;
	a->latcap = latcap;
	a->pods = (void *)((char *)m + off_pods); /* offsets are aligned above */
	a->queue = (void *)((char *)m + off_queue);
	a->lat = (void *)((char *)m + off_lat);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&a->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->qcond, &ca);
	pthread_cond_init(&a->gccond, &ca);
	pthread_condattr_destroy(&ca);
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->qcond);
	pthread_cond_destroy(&a->gccond);
	pthread_mutex_destroy(&a->mu);
	munmap(a, a->size);
}

void arena_lock(struct arena *a)
{
	pthread_mutex_lock(&a->mu);
}

void arena_unlock(struct arena *a)
{
	pthread_mutex_unlock(&a->mu);
}

static int job_before(const struct job *x, const struct job *y)
{
	return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

void queue_push_locked(struct arena *a, struct job *j)
{
	unsigned i;

	if (a->qlen == a->qcap) {
		/* Cannot happen: every pod has at most one ADD and a few DELs. */
		a->fatal = 1;
		snprintf(a->fatal_msg, sizeof(a->fatal_msg), "work queue overflow (%u jobs)", a->qlen);
		pthread_cond_broadcast(&a->qcond);
		return;
	}
	j->seq = a->seq++;
	i = a->qlen++;
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (!job_before(j, &a->queue[p]))
			break;
		a->queue[i] = a->queue[p];
		i = p;
	}
	a->queue[i] = *j;
	pthread_cond_signal(&a->qcond);
}

static void heap_pop(struct arena *a, struct job *out)
{
	struct job last;
	unsigned i = 0, n;

	*out = a->queue[0];
	n = --a->qlen;
	if (n == 0)
		return;
	last = a->queue[n];
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		const struct job *best = &last;
		if (l < n && job_before(&a->queue[l], best)) {
			m = l;
			best = &a->queue[l];
		}
		if (r < n && job_before(&a->queue[r], best))
			m = r;
		if (m == i)
			break;
		a->queue[i] = a->queue[m];
		i = m;
	}
	a->queue[i] = last;
}

int queue_pop(struct arena *a, struct job *out)
{
	arena_lock(a);
	for (;;) {
		int64_t t;
		if (a->quit || a->fatal) {
			arena_unlock(a);
			return -1;
		}
		if (a->qlen == 0) {
			pthread_cond_wait(&a->qcond, &a->mu);
			continue;
		}
		t = now_ns();
		if (a->queue[0].due_ns > t) {
			struct timespec ts = { (time_t)(a->queue[0].due_ns / 1000000000),
					       (long)(a->queue[0].due_ns % 1000000000) };
			pthread_cond_timedwait(&a->qcond, &a->mu, &ts);
			continue;
		}
		heap_pop(a, out);
		a->inflight++;
		/* More due work: let another idle worker have it. */
		if (a->qlen)
			pthread_cond_signal(&a->qcond);
		arena_unlock(a);
		return 0;
	}
}

void arena_fatal(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	arena_lock(a);
	if (!a->fatal) {
		a->fatal = 1;
		va_start(ap, fmt);
		vsnprintf(a->fatal_msg, sizeof(a->fatal_msg), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&a->qcond);
	pthread_cond_broadcast(&a->gccond);
	arena_unlock(a);
}

void arena_kick_gc(struct arena *a)
{
	arena_lock(a);
	if (!a->gc_kick) {
		a->gc_kick = 1;
		pthread_cond_signal(&a->gccond);
	}
	arena_unlock(a);
}
