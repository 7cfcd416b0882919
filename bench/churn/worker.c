/* SPDX-License-Identifier: MIT */
/*
 * The runtime (kubelet + CNI): workers take due jobs from the shared queue.
 * ADD: ipam_allocate for the pod's current sandbox; on -ENOSPC (pool
 * exhausted: ask for a GC pass) or -EAGAIN (try again later) the job goes
 * back to the queue after a jittered, growing delay, as a kubelet retries
 * sandbox creation, so DELs queued behind it still get through. DEL:
 * ipam_release_attachment, compare-and-release by sandbox id. A job for a
 * sandbox that is no longer its pod's current one is dropped. With a CNI
 * back end the same ADD and DEL are one exec of the plugin each.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "churn.h"

static int job_current(const struct arena *a, const struct job *j)
{
	const struct pod *p = &a->pods[j->slot];
	return p->state == POD_PENDING && p->gen == j->gen && p->inc == j->inc;
}

static void requeue(struct worker_args *w, struct job *j, uint64_t *rng)
{
	struct arena *a = w->a;
	unsigned shift = j->attempts < 16 ? j->attempts : 16;
	double cap = (double)w->c->retry_base_ms * (double)(1u << shift);
	if (cap > w->c->retry_max_ms)
		cap = w->c->retry_max_ms;
	/* Jitter in [cap/2, cap): spread retries out without starving. */
	j->due_ns = now_ns() + (int64_t)((0.5 + 0.5 * unit_rand(rng)) * cap * 1e6);
	j->attempts++;
	atomic_fetch_add(&a->retries, 1);
	arena_lock(a);
	a->inflight--;
	queue_push_locked(a, j);
	arena_unlock(a);
}

static void done(struct arena *a)
{
	arena_lock(a);
	a->inflight--;
	arena_unlock(a);
}

static void do_add(struct worker_args *w, struct job *j, uint64_t *rng)
{
	struct arena *a = w->a;
	const struct config *c = w->c;
	char owner[64], sandbox[96], node[32];
	ipam_attr attr;
	ipam_lease out[2];
	ipam_addr got[2];
	unsigned nout = 2;
	int64_t t0;
	int r, cur;

	arena_lock(a);
	cur = job_current(a, j);
	if (!cur)
		a->inflight--;
	arena_unlock(a);
	if (!cur) {
		atomic_fetch_add(&a->stale, 1);
		return;
	}
	pod_owner(j->slot, j->gen, owner, sizeof(owner));
	pod_sandbox(c, j->slot, j->gen, j->inc, sandbox, sizeof(sandbox));
	memset(&attr, 0, sizeof(attr));
	snprintf(attr.key, sizeof(attr.key), "k8s.pod.uid");
	pod_uid(c, j->slot, j->gen, attr.value, sizeof(attr.value));
	ipam_request req = {
		.poolset = CHURN_SET,
		.owner = owner,
		.ifname = "eth0",
		.attachment = sandbox,
		.node = pod_node(j->slot, c->nodes, node, sizeof(node)),
		.attrs = &attr,
		.nattrs = 1,
	};
	t0 = now_ns();
	if (w->cni) {
		r = cni_add(w->cni, j->slot, j->gen, j->inc, got, &nout);
	} else {
		r = ipam_allocate(w->ctx, &req, out, &nout);
		for (unsigned i = 0; r == 0 && i < nout && i < 2; i++)
			got[i] = out[i].addr;
	}
	if (r == 0) {
		double us = (double)(now_ns() - t0) / 1e3;
		unsigned k = atomic_fetch_add(&a->lat_n, 1);
		unsigned want = c->dual ? 2 : 1;
		if (k < a->latcap)
			a->lat[k] = us;
		if (nout != want) {
			arena_fatal(a, "%s: allocate returned %u addresses, expected %u", owner, nout,
				    want);
			done(a);
			return;
		}
		arena_lock(a);
		if (job_current(a, j)) {
			struct pod *p = &a->pods[j->slot];
			p->state = POD_RUNNING;
			p->addr[0] = got[0];
			p->addr[1] = want == 2 ? got[1] : got[0];
			p->epoch++;
			a->running++;
			a->last_change_ns = now_ns();
			atomic_fetch_add(&a->adds, 1);
		} else {
			/* The sandbox died while we asked (a later phase): its
			 * lease is a zombie for GC or a rebind to handle. */
			atomic_fetch_add(&a->stale, 1);
		}
		a->inflight--;
		arena_unlock(a);
		return;
	}
	if (r == -ENOSPC) {
		atomic_fetch_add(&a->exh_waits, 1);
		arena_kick_gc(a);
		requeue(w, j, rng);
		return;
	}
	if (r == -EAGAIN) {
		requeue(w, j, rng);
		return;
	}
	arena_fatal(a, "ADD %s (%s): %s: %s", owner, sandbox, ipam_errname(r),
		    w->cni ? cni_last_error() : ipam_last_error_message());
	done(a);
}

static void do_del(struct worker_args *w, struct job *j, uint64_t *rng)
{
	struct arena *a = w->a;
	char sandbox[96];
	int r;

	pod_sandbox(w->c, j->slot, j->gen, j->inc, sandbox, sizeof(sandbox));
	r = w->cni ? cni_del(w->cni, j->slot, j->gen, j->inc)
		   : ipam_release_attachment(w->ctx, CHURN_SET, sandbox, 0);
	if (r == -EAGAIN) {
		requeue(w, j, rng);
		return;
	}
	if (r < 0) {
		arena_fatal(a, "DEL %s: %s: %s", sandbox, ipam_errname(r),
			    w->cni ? cni_last_error() : ipam_last_error_message());
		done(a);
		return;
	}
	atomic_fetch_add(&a->releases, w->cni ? 1u : (uint64_t)r);
	arena_lock(a);
	if (j->counted) {
		a->pending_dels--;
		a->last_change_ns = now_ns();
		if (a->pods[j->slot].gen == j->gen && a->pods[j->slot].inc == j->inc)
			a->pods[j->slot].terminating = 0;
	}
	a->inflight--;
	arena_unlock(a);
}

void worker_loop(struct worker_args *w)
{
	uint64_t rng = mix64(w->c->seed ^ (0x776f726b6572ull + w->id));
	struct job j;

	while (queue_pop(w->a, &j) == 0) {
		if (j.kind == JOB_ADD)
			do_add(w, &j, &rng);
		else
			do_del(w, &j, &rng);
		if (w->publish_stats && w->id < CHURN_MAX_WORKERS) {
			ipam_ctx_stats st;
			struct rusage ru;
			ipam_ctx_stats_get(w->ctx, &st);
			getrusage(RUSAGE_SELF, &ru);
			arena_lock(w->a);
			w->a->wstats[w->id] = st;
			w->a->wrss_kb[w->id] = ru.ru_maxrss;
			arena_unlock(w->a);
		}
	}
}

void *worker_thread(void *arg)
{
	worker_loop(arg);
	return NULL;
}
