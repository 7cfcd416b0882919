/* SPDX-License-Identifier: MIT */
/*
 * GC: a pass every --gc-interval-ms, and one as soon as a worker finds a
 * pool exhausted, but never two within --gc-min-gap-ms. The oracle is the
 * API-server stand-in (cluster.c). Runs in the process that drives the
 * phases, with that process's context; for a CNI plugin, the GC verb with
 * the live attachments (none if the plugin has no GC).
 */
#include <stdio.h>
#include <time.h>

#include "churn.h"

int gc_pass(const struct config *c, struct arena *a, ipam_ctx *ctx, struct cni_backend *cni)
{
	struct oracle_ud ud = { c, a };
	ipam_gc_oracle o;
	ipam_gc_policy pol;
	ipam_gc_report *rep = NULL;
	int r;

	if (cni) {
		/* The runtime's GC verb: reclaims are not reported back. */
		r = cni_gc(cni, a);
		if (r == 0)
			atomic_fetch_add(&a->gc_passes, 1);
		return r < 0 ? r : 0;
	}
	cluster_oracle(&o, &ud);
	gc_policy(c, &pol);
	r = ipam_gc(ctx, CHURN_SET, &o, &pol, &rep);
	atomic_fetch_add(&a->gc_passes, 1);
	if (rep) {
		atomic_fetch_add(&a->reclaims, rep->counts[IPAM_GC_RECLAIMED]);
		atomic_fetch_add(&a->gc_conflicts, rep->counts[IPAM_GC_CONFLICT]);
		ipam_gc_report_free(rep);
	}
	return r;
}

static struct timespec abs_ts(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	return ts;
}

void *gc_thread(void *arg)
{
	struct gc_args *g = arg;
	struct arena *a = g->a;
	int64_t interval = (int64_t)g->c->gc_interval_ms * 1000000;
	int64_t gap = (int64_t)g->c->gc_min_gap_ms * 1000000;
	int64_t last = now_ns(), next = last + interval;

	arena_lock(a);
	for (;;) {
		int64_t t = now_ns();
		int r;
		if (a->quit || a->fatal)
			break;
		if (t < next && !(a->gc_kick && t >= last + gap)) {
			int64_t until = a->gc_kick ? last + gap : next;
			struct timespec ts = abs_ts(until < next ? until : next);
			pthread_cond_timedwait(&a->gccond, &a->mu, &ts);
			continue;
		}
		a->gc_kick = 0;
		arena_unlock(a);
		r = gc_pass(g->c, a, g->ctx, g->cni);
		if (r < 0)
			arena_fatal(a, "GC pass: %s: %s", ipam_errname(r),
				    g->cni ? cni_last_error() : ipam_last_error_message());
		last = now_ns();
		next = last + interval;
		arena_lock(a);
	}
	arena_unlock(a);
	return NULL;
}
