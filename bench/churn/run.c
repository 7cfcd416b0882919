/* SPDX-License-Identifier: MIT */
/*
 * One back end, all requested phases: make the store and context, start
 * the workers (threads sharing one context; for etcd threads each with its
 * own store handle and a spread context; for file-procs forked processes
 * each with its own store handle on the same directory; for cni threads
 * that exec the plugin, and no store here but the plugin's), the GC
 * thread, then drive the phases: start one, sample the running pods every
 * tick and the invariants every --check-ms until every pod is Running (or
 * gone), or the phase times out; settle (late DELs, a GC pass), check the
 * phase end, record the counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "churn.h"

void pool_first(unsigned f, ipam_addr *out)
{
	if (f == 0)
		*out = ipam_addr_v4(0x0a000001u); /* 10.0.0.1 in 10.0.0.0/8 */
	else
		ipam_addr_parse("fd00:c4a0::1", out); /* in fd00:c4a0::/64 */
}

static int add_pool(const struct config *c, ipam_poolset *set, unsigned f)
{
	ipam_pool *p = NULL;
	ipam_addr first, last;
	ipam_range rg;
	ipam_u128 cap;
	int r;

	pool_first(f, &first);
	if ((r = ipam_addr_add(&first, ipam_u128_make(0, c->pool_size - 1), &last)) < 0 ||
	    (r = ipam_range_make(&first, &last, &rg)) < 0 ||
	    (r = ipam_pool_new_str(&p, f ? "v6" : "v4", f ? "fd00:c4a0::/64" : "10.0.0.0/8")) < 0 ||
	    (r = ipam_pool_add_range(p, &rg)) < 0)
		goto fail;
	if ((r = ipam_pool_capacity(p, &cap)) < 0)
		goto fail;
	if (cap.hi || cap.lo != c->pool_size) {
		r = -ERANGE;
		goto fail;
	}
	if ((r = ipam_poolset_add(set, p)) < 0)
		goto fail;
	return 0;
fail:
	ipam_pool_free(p);
	return r;
}

int make_poolset(const struct config *c, ipam_poolset **out)
{
	ipam_poolset *set = NULL;
	int r = ipam_poolset_new(&set, CHURN_SET);
	for (unsigned f = 0; r == 0 && f < (c->dual ? 2u : 1u); f++)
		r = add_pool(c, set, f);
	if (r < 0) {
		ipam_poolset_free(set);
		return r;
	}
	*out = set;
	return 0;
}

static int open_ctx(const struct config *c, const struct run_spec *rs, int spread,
		    ipam_store **st, ipam_ctx **ctx)
{
	ipam_ctx_options o;
	ipam_poolset *set = NULL;
	char why[256];
	int r;

	*st = NULL;
	*ctx = NULL;
	if (rs->kind == BK_MEMORY) {
		r = ipam_store_memory_new(st);
	} else if (rs->kind == BK_ETCD || rs->kind == BK_ETCD_LAUNCH) {
		r = churn_etcd_store(rs->dir, rs->prefix, st, why, sizeof(why));
		if (r < 0)
			fprintf(stderr, "ipam-churn: %s\n", why);
	} else {
		ipam_file_store_options fo;
		ipam_file_store_options_init(&fo);
		fo.durability = c->durability;
		r = ipam_store_file_new(st, rs->dir, &fo);
	}
	if (r < 0)
		return r;
	ipam_ctx_options_init(&o);
	o.coarse = rs->coarse;
	o.spread = spread;
	if ((r = ipam_ctx_new(ctx, *st, &o)) < 0 || (r = make_poolset(c, &set)) < 0)
		goto fail;
	if ((r = ipam_ctx_add_poolset(*ctx, set)) < 0) {
		ipam_poolset_free(set);
		goto fail;
	}
	return 0;
fail:
	*ctx = ipam_ctx_free(*ctx);
	*st = ipam_store_free(*st);
	return r;
}

static void close_ctx(ipam_store *st, ipam_ctx *ctx)
{
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}

/* Start from an empty pool set: remove this set's files (only those). */
static void clean_dir(const char *dir)
{
	static const char *const names[] = { ".snap", ".log", ".lock", ".snap.tmp" };
	char path[1100];
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/" CHURN_SET "%s", dir, names[i]);
		unlink(path);
	}
}

/* ---- counters ------------------------------------------------------------------------- */

struct snap {
	ipam_ctx_stats s;
	uint64_t adds, retries, exh, releases, stale, passes, reclaims;
};

struct driver {
	const struct config *c;
	const struct run_spec *rs;
	struct arena *a;
	ipam_ctx *ctx; /* the driver's: GC and checks (and the workers', with threads) */
	struct checker *chk;
	int procs;
	int tty;
	struct cni_backend *cni;
	/* etcd: each worker thread's own store and context */
	unsigned nw;
	ipam_store *wst[CHURN_MAX_WORKERS];
	ipam_ctx *wctx[CHURN_MAX_WORKERS];
};

/* The context the invariants read: the driver's, or the library's view of
 * the CNI plugin's store (NULL if it has none). */
static ipam_ctx *check_ctx(struct driver *d)
{
	return d->cni ? cni_check_ctx(d->cni) : d->ctx;
}

static void add_stats(ipam_ctx_stats *s, const ipam_ctx_stats *x)
{
	s->allocations += x->allocations;
	s->rebinds += x->rebinds;
	s->releases += x->releases;
	s->commits += x->commits;
	s->conflicts += x->conflicts;
	s->retries += x->retries;
	s->exhausted += x->exhausted;
	s->gave_up += x->gave_up;
}

static void take(struct driver *d, struct snap *out)
{
	memset(&out->s, 0, sizeof(out->s));
	if (d->ctx)
		ipam_ctx_stats_get(d->ctx, &out->s);
	for (unsigned w = 0; w < d->nw; w++) {
		ipam_ctx_stats x;
		ipam_ctx_stats_get(d->wctx[w], &x);
		add_stats(&out->s, &x);
	}
	if (d->procs) {
		arena_lock(d->a);
		for (unsigned w = 0; w < d->c->workers; w++)
			add_stats(&out->s, &d->a->wstats[w]);
		arena_unlock(d->a);
	}
	out->adds = atomic_load(&d->a->adds);
	out->retries = atomic_load(&d->a->retries);
	out->exh = atomic_load(&d->a->exh_waits);
	out->releases = atomic_load(&d->a->releases);
	out->stale = atomic_load(&d->a->stale);
	out->passes = atomic_load(&d->a->gc_passes);
	out->reclaims = atomic_load(&d->a->reclaims);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static void fill_result(struct driver *d, const struct snap *b, const struct snap *e,
			struct phase_result *r)
{
	unsigned n = atomic_load(&d->a->lat_n);
	struct rusage ru;

	r->adds = e->adds - b->adds;
	r->leases = e->s.allocations - b->s.allocations;
	r->conflicts = e->s.conflicts - b->s.conflicts;
	r->lib_retries = e->s.retries - b->s.retries;
	r->gave_up = e->s.gave_up - b->s.gave_up;
	r->rebinds = e->s.rebinds - b->s.rebinds;
	r->retries = e->retries - b->retries;
	r->exh_waits = e->exh - b->exh;
	r->releases = e->releases - b->releases;
	r->stale = e->stale - b->stale;
	r->gc_passes = e->passes - b->passes;
	r->reclaims = e->reclaims - b->reclaims;
	if (n > d->a->latcap)
		n = d->a->latcap;
	if (n) {
		qsort(d->a->lat, n, sizeof(double), cmp_double);
		r->p50_us = d->a->lat[(n - 1) / 2];
		r->p99_us = d->a->lat[(size_t)((double)(n - 1) * 0.99)];
	}
	getrusage(RUSAGE_SELF, &ru);
	r->maxrss_kb = ru.ru_maxrss;
	if (d->procs) {
		arena_lock(d->a);
		for (unsigned w = 0; w < d->c->workers; w++)
			if (d->a->wrss_kb[w] > r->maxrss_kb)
				r->maxrss_kb = d->a->wrss_kb[w];
		arena_unlock(d->a);
	}
}

/* ---- one phase ---------------------------------------------------------------------------- */

static void sleep_until(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Wait until no DEL is queued or in flight (late DELs of this phase). */
static void settle(struct driver *d, int64_t limit_ns)
{
	for (;;) {
		int busy = 0;
		arena_lock(d->a);
		busy = d->a->inflight > 0 || d->a->fatal;
		for (unsigned i = 0; !busy && i < d->a->qlen; i++)
			busy = d->a->queue[i].kind == JOB_DEL;
		if (d->a->fatal)
			busy = 0;
		arena_unlock(d->a);
		if (!busy || now_ns() > limit_ns)
			return;
		sleep_until(now_ns() + 1000000);
	}
}

/* 0 done, 1 violated, 2 error, 3 timed out. */
static int run_phase(struct driver *d, enum phase p, struct phase_result *res, char *why,
		     size_t whysize)
{
	const struct config *c = d->c;
	struct arena *a = d->a;
	unsigned cap = c->phase_timeout_s * 1000u / c->tick_ms + 16, ns = 0, want, running = 0;
	unsigned pend = 0;
	int64_t *ms = malloc(sizeof(int64_t) * cap);
	unsigned *run = malloc(sizeof(unsigned) * cap);
	int64_t t0, t, next_check, next_tick, last_prog = 0;
	int64_t timeout = (int64_t)c->phase_timeout_s * 1000000000;
	struct snap b, e;
	int status = 0, done = 0;

	if (!ms || !run) {
		free(ms);
		free(run);
		snprintf(why, whysize, "out of memory");
		return 2;
	}
	memset(res, 0, sizeof(*res));
	take(d, &b);
	atomic_store(&a->lat_n, 0);
	t0 = now_ns();
	arena_lock(a);
	a->last_change_ns = t0;
	arena_unlock(a);
	cluster_start_phase(c, a, p, t0);
	want = p == PH_DELETE ? 0 : cluster_existing(a);
	next_check = t0 + (int64_t)c->check_ms * 1000000;
	next_tick = t0;
	for (;;) {
		int fatal;
		int64_t last;
		next_tick += (int64_t)c->tick_ms * 1000000;
		sleep_until(next_tick);
		t = now_ns();
		arena_lock(a);
		running = a->running;
		pend = a->pending_dels;
		fatal = a->fatal;
		last = a->last_change_ns;
		if (fatal)
			snprintf(why, whysize, "%s", a->fatal_msg);
		arena_unlock(a);
		if (ns < cap) {
			ms[ns] = (t - t0) / 1000000;
			/* delete: pods not gone yet (their DEL not done) */
			run[ns++] = p == PH_DELETE ? running + pend : running;
		}
		if (fatal) {
			status = 2;
			break;
		}
		done = p == PH_DELETE ? pend == 0 && running == 0 : running == want;
		if (done) {
			res->wall_ms = (double)(last - t0) / 1e6;
			break;
		}
		if (t >= next_check) {
			uint64_t sk = 0;
			int v = check_invariants(d->chk, a, check_ctx(d), 0, why, whysize, &sk);
			res->checks++;
			res->skipped_checks += sk;
			if (v) {
				status = 1;
				break;
			}
			next_check = now_ns() + (int64_t)c->check_ms * 1000000;
		}
		if (d->tty && t - last_prog > 100000000) {
			fprintf(stderr, "\r  %-18s %-9s %6.2f s  running %5u/%u  DELs pending %5u ",
				d->rs->label, phase_names[p], (double)(t - t0) / 1e9, running,
				c->pods, pend);
			last_prog = t;
		}
		if (t - t0 > timeout) {
			status = 3;
			res->wall_ms = (double)(t - t0) / 1e6;
			snprintf(why, whysize, "phase %s timed out", phase_names[p]);
			break;
		}
	}
	if (d->tty)
		fprintf(stderr, "\r%78s\r", "");
	res->ran = 1;
	res->ok = status == 0;
	res->pods_done = p == PH_DELETE ? c->pods - pend : running;
	if (status == 0 || status == 3) {
		/* Not timed: late DELs land, then one GC pass. */
		int r;
		settle(d, now_ns() + (int64_t)c->del_delay_ms * 1000000 + 10000000000);
		r = gc_pass(c, a, d->ctx, d->cni);
		if (r < 0) {
			snprintf(why, whysize, "GC pass: %s: %.200s", ipam_errname(r),
				 d->cni ? cni_last_error() : ipam_last_error_message());
			status = 2;
		}
	}
	if (status == 0 || status == 3) {
		uint64_t sk = 0;
		ipam_ctx *cx = check_ctx(d);
		if (check_invariants(d->chk, a, cx, status == 0, why, whysize, &sk))
			status = 1;
		res->checks++;
		if (status != 1 && p == PH_DELETE && cx && check_all_free(d->chk, cx, why, whysize))
			status = 1;
		if (p == PH_DELETE && d->cni && !cx && cni_leftover(d->cni) > 0)
			printf("%s: %d addresses still reserved in its dataDir after delete "
			       "(not checked: no GC verb to reclaim them)\n", d->rs->label,
			       cni_leftover(d->cni));
	}
	take(d, &e);
	fill_result(d, &b, &e, res);
	res->status = status;
	res->ok = status == 0;
	if (c->csv_dir && ns)
		report_csv(c->csv_dir, d->rs->tag, p, ms, run, ns);
	free(ms);
	free(run);
	return status;
}

/* ---- workers ------------------------------------------------------------------------------ */

static void worker_process(const struct config *c, const struct run_spec *rs, struct arena *a,
			   unsigned id)
{
	ipam_store *st;
	ipam_ctx *ctx;
	int r = open_ctx(c, rs, 1, &st, &ctx);
	if (r < 0) {
		arena_fatal(a, "worker %u: open %s: %s: %s", id, rs->dir, ipam_errname(r),
			    ipam_last_error_message());
		_exit(1);
	}
	atomic_fetch_add(&a->ready, 1);
	struct worker_args w = { c, a, ctx, id, 1, NULL };
	worker_loop(&w);
	close_ctx(st, ctx);
	_exit(0);
}

static int wait_ready(struct arena *a, unsigned n)
{
	int64_t limit = now_ns() + 30000000000;
	while (atomic_load(&a->ready) < n) {
		if (a->fatal || now_ns() > limit)
			return -1;
		sleep_until(now_ns() + 1000000);
	}
	return 0;
}

/* cni and etcd: what the run needs before its workers start. 0, or -1
 * with res filled (status 4: skipped). */
static int prepare(struct driver *d, struct run_spec *rs, struct churn_etcd **etcd,
		   struct run_result *res)
{
	char url[128];
	int r;

	if (rs->kind == BK_CNI) {
		if (cni_open(&d->cni, d->c, rs->dir, res->why, sizeof(res->why)) < 0)
			goto failed;
		checker_pools(d->chk, cni_pool_name(d->cni, 0), cni_pool_name(d->cni, 1));
		printf("%s: %s, CNI %s, %s; dataDir %s\n", rs->label, rs->dir, cni_version(d->cni),
		       cni_has_gc(d->cni) ? "GC verb with the live attachments" : "no GC verb",
		       cni_datadir(d->cni));
		fflush(stdout);
		return 0;
	}
	if (rs->kind == BK_ETCD_LAUNCH) {
		r = churn_etcd_launch(etcd, url, sizeof(url), res->why, sizeof(res->why));
		if (r) {
			res->status = r > 0 ? 4 : 2;
			return -1;
		}
		snprintf(rs->dir, sizeof(rs->dir), "%s", url);
	}
	if (rs->kind == BK_ETCD || rs->kind == BK_ETCD_LAUNCH) {
		snprintf(rs->prefix, sizeof(rs->prefix), "/ipam-churn/%s-%ld", rs->tag, (long)getpid());
		printf("%s: etcd at %s, prefix %s, %u worker threads with a store handle each\n",
		       rs->label, rs->dir, rs->prefix, d->c->workers);
		fflush(stdout);
	}
	return 0;
failed:
	res->status = 2;
	return -1;
}

int run_backend(const struct config *c, const struct run_spec *rs0, struct run_result *res)
{
	struct run_spec spec = *rs0, *rs = &spec;
	struct driver d = { .c = c, .rs = rs, .procs = rs->kind == BK_FILE_PROCS };
	pthread_t threads[CHURN_MAX_WORKERS], gct;
	pid_t pids[CHURN_MAX_WORKERS];
	struct worker_args wargs[CHURN_MAX_WORKERS];
	struct churn_etcd *etcd = NULL;
	struct gc_args g;
	ipam_store *st = NULL;
	unsigned started = 0;
	int r, status = 0, gc_started = 0;
	int etcd_kind = rs->kind == BK_ETCD || rs->kind == BK_ETCD_LAUNCH;

	memset(res, 0, sizeof(*res));
	d.tty = !c->quiet && isatty(STDERR_FILENO);
	d.a = arena_new(c);
	d.chk = checker_new(c);
	if (!d.a || !d.chk) {
		snprintf(res->why, sizeof(res->why), "out of memory");
		res->status = 2;
		goto out;
	}
	if (prepare(&d, rs, &etcd, res) < 0)
		goto out;
	if (rs->kind == BK_FILE || rs->kind == BK_FILE_PROCS) {
		clean_dir(rs->dir);
		/* Create the files, then close them: forked workers must not
		 * share this process's open lock file. */
		if ((r = open_ctx(c, rs, 0, &st, &d.ctx)) < 0)
			goto open_failed;
		close_ctx(st, d.ctx);
		st = NULL;
		d.ctx = NULL;
	}
	if (d.procs) {
		for (unsigned w = 0; w < c->workers; w++) {
			pid_t pid = fork();
			if (pid == 0)
				worker_process(c, rs, d.a, w);
			if (pid < 0) {
				arena_fatal(d.a, "fork: %s", strerror(errno));
				break;
			}
			pids[started++] = pid;
		}
		if (started < c->workers || wait_ready(d.a, c->workers) < 0) {
			snprintf(res->why, sizeof(res->why), "worker processes did not start: %.200s",
				 d.a->fatal_msg);
			res->status = 2;
			goto stop;
		}
	}
	if (rs->kind != BK_CNI && (r = open_ctx(c, rs, 0, &st, &d.ctx)) < 0)
		goto open_failed;
	if (etcd_kind) {
		for (; d.nw < c->workers; d.nw++)
			if ((r = open_ctx(c, rs, 1, &d.wst[d.nw], &d.wctx[d.nw])) < 0)
				goto open_failed;
	}
	if (!d.procs) {
		for (unsigned w = 0; w < c->workers; w++) {
			wargs[w] = (struct worker_args){ c, d.a, etcd_kind ? d.wctx[w] : d.ctx, w, 0,
							 d.cni };
			if (pthread_create(&threads[w], NULL, worker_thread, &wargs[w]) != 0)
				break;
			started++;
		}
	}
	g = (struct gc_args){ c, d.a, d.ctx, d.cni };
	gc_started = pthread_create(&gct, NULL, gc_thread, &g) == 0;
	if (started < c->workers || !gc_started) {
		snprintf(res->why, sizeof(res->why), "cannot start threads");
		res->status = 2;
		goto stop;
	}
	for (int p = 0; p < PH_COUNT && status != 1 && status != 2; p++) {
		struct phase_result tmp;
		int s;
		if (!(c->phases & (1u << p)))
			continue;
		if (p != PH_CREATE && p != PH_DELETE && cluster_existing(d.a) == 0) {
			/* Nothing to rebuild or power off: create, untimed. */
			s = run_phase(&d, PH_CREATE, &tmp, res->why, sizeof(res->why));
			if (s) {
				status = s;
				break;
			}
		}
		s = run_phase(&d, (enum phase)p, &res->ph[p], res->why, sizeof(res->why));
		if (s > status || (s && status == 3))
			status = s;
	}
	res->status = status;
stop:
	arena_lock(d.a);
	d.a->quit = 1;
	pthread_cond_broadcast(&d.a->qcond);
	pthread_cond_broadcast(&d.a->gccond);
	arena_unlock(d.a);
	if (!d.procs)
		for (unsigned w = 0; w < started; w++)
			pthread_join(threads[w], NULL);
	if (gc_started)
		pthread_join(gct, NULL);
	if (d.procs) {
		for (unsigned w = 0; w < started; w++) {
			int ws = 0;
			if (waitpid(pids[w], &ws, 0) == pids[w] &&
			    !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) && res->status == 0) {
				res->status = 2;
				snprintf(res->why, sizeof(res->why), "worker process %u failed", w);
			}
		}
	}
	if (d.a->fatal && res->status != 1) {
		res->status = 2;
		snprintf(res->why, sizeof(res->why), "%s", d.a->fatal_msg);
	}
	goto out;
open_failed:
	res->status = 2;
	snprintf(res->why, sizeof(res->why), "open %.100s store: %s: %.100s",
		 rs->kind == BK_MEMORY ? "memory" : rs->dir, ipam_errname(r), ipam_last_error_message());
	if (d.procs || started)
		goto stop;
out:
	for (unsigned w = 0; w < d.nw; w++)
		close_ctx(d.wst[w], d.wctx[w]);
	close_ctx(st, d.ctx);
	cni_close(d.cni);
	churn_etcd_stop(etcd);
	checker_free(d.chk);
	arena_free(d.a);
	return res->status;
}
