/* SPDX-License-Identifier: MIT */
/* ipam-churn: the command line. Bad arguments: one line on stderr, exit 2. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "churn.h"

static const char usage[] =
	"usage: ipam-churn [options]\n"
	"The 1000-pod churn benchmark (create, rebuild, power-off, delete) on libipam.\n"
	"\n"
	"  --pods N              pods (default 1000)\n"
	"  --nodes K             nodes (default 10)\n"
	"  --family v4|dual      address families (default dual)\n"
	"  --ratio R             addresses per pod and family (default 1.0; pools hold\n"
	"                        exactly round(N*R) addresses)\n"
	"  --workers W           runtime workers: threads, or processes for file-procs (default 2)\n"
	"  --backend B           memory | file:DIR | file-procs:DIR | cni:PLUGIN |\n"
	"                        etcd:ENDPOINTS | etcd-launch; repeatable (default memory).\n"
	"                        cni: one exec of the CNI IPAM plugin per ADD/DEL (and GC,\n"
	"                        if it speaks CNI 1.1.0), threads; etcd: threads, each with\n"
	"                        its own store handle; etcd-launch starts a throwaway etcd\n"
	"  --mode M              fine | coarse preconditions; repeatable (default fine)\n"
	"  --durability D        fsync | group | none, for file back ends (default fsync)\n"
	"  --phases LIST         comma list of create,rebuild,poweroff,delete (default all)\n"
	"  --del-delay-ms MS     rebuild: old pods' DELs arrive within [0, MS] (default 50)\n"
	"  --lost-dels F         rebuild: fraction of DELs never delivered (default 0.10)\n"
	"  --gc-interval-ms MS   periodic GC (default 200); also on exhaustion\n"
	"  --gc-min-gap-ms MS    least time between two GC passes on exhaustion (default 5)\n"
	"  --gc-min-age-s S      GC policy min_age (default 0)\n"
	"  --gc-two-obs          GC marks suspect first, reclaims on a later pass\n"
	"  --gc-grace-s S        GC grace with --gc-two-obs (default 0)\n"
	"  --oracle pod|sandbox  GC liveness by existing pod (default) or by live sandbox\n"
	"  --phase-timeout-s S   a phase not done by then is reported failed (default 60)\n"
	"  --check-ms MS         invariant samples during phases (default 50)\n"
	"  --tick-ms MS          time-series resolution (default 5)\n"
	"  --retry-base-ms MS    runtime retry backoff base (default 1), --retry-max-ms (default 20)\n"
	"  --seed S              seed (default 1); printed\n"
	"  --csv DIR             write DIR/<run>-<phase>.csv (ms,running; for delete: pods\n"
	"                        not yet gone)\n"
	"  --plot FILE.png       plot running pods vs time with gnuplot, if installed\n"
	"  --quiet               no live progress line\n"
	"  --help                this text\n"
	"\n"
	"Exit status: 0 all phases done and every invariant held; 1 an invariant was\n"
	"violated or an error; 2 bad arguments; 3 a phase timed out (the other phases\n"
	"and back ends still run); 77 every back end skipped (etcd-launch, no etcd).\n";

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ipam-churn: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see --help)\n");
	va_end(ap);
	return 2;
}

static int num(const char *opt, const char *v, unsigned long long lo, unsigned long long hi,
	       unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!v || !*v || *v == '-')
		return bad("%s needs a number, got '%s'", opt, v ? v : "");
	*out = strtoull(v, &end, 10);
	if (errno || *end || *out < lo || *out > hi)
		return bad("%s: '%s' is not a number in range", opt, v);
	return 0;
}

static int real(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	if (!v || !*v)
		return bad("%s needs a number, got '%s'", opt, v ? v : "");
	*out = strtod(v, &end);
	if (errno || *end || !(*out >= lo && *out <= hi))
		return bad("%s: '%s' is not a number in range", opt, v);
	return 0;
}

static int phases(const char *v, unsigned *out)
{
	char buf[256], *save = NULL;
	*out = 0;
	if (!v || strlen(v) >= sizeof(buf))
		return bad("--phases: bad list '%s'%s", v ? v : "", "");
	strcpy(buf, v);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = -1;
		for (int i = 0; i < PH_COUNT; i++)
			if (strcmp(t, phase_names[i]) == 0)
				k = i;
		if (strcmp(t, "power-off") == 0)
			k = PH_POWEROFF;
		if (k < 0)
			return bad("--phases: unknown phase '%s'%s", t, "");
		*out |= 1u << k;
	}
	if (!*out)
		return bad("--phases: empty list '%s'%s", v, "");
	return 0;
}

/* Options that take a value. */
static int known(const char *o)
{
	static const char *const names[] = {
		"--pods", "--nodes", "--workers", "--family", "--ratio", "--backend", "--mode",
		"--durability", "--phases", "--del-delay-ms", "--lost-dels", "--gc-interval-ms",
		"--gc-min-gap-ms", "--gc-min-age-s", "--gc-grace-s", "--oracle", "--phase-timeout-s",
		"--check-ms", "--tick-ms", "--retry-base-ms", "--retry-max-ms", "--seed", "--csv",
		"--plot",
	};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(o, names[i]) == 0)
			return 1;
	return 0;
}

int churn_args(struct config *c, int argc, char **argv)
{
	const char *backends[CHURN_MAX_RUNS];
	int modes[2] = { 0, 0 }, nmodes = 0;
	unsigned nb = 0;
	unsigned long long u;
	int r;

	memset(c, 0, sizeof(*c));
	c->pods = 1000;
	c->nodes = 10;
	c->workers = 2;
	c->dual = 1;
	c->ratio = 1.0;
	c->gc_interval_ms = 200;
	c->gc_min_gap_ms = 5;
	c->phases = (1u << PH_COUNT) - 1;
	c->del_delay_ms = 50;
	c->lost_dels = 0.10;
	c->durability = IPAM_DURABILITY_FSYNC;
	c->phase_timeout_s = 60;
	c->check_ms = 50;
	c->tick_ms = 5;
	c->retry_base_ms = 1;
	c->retry_max_ms = 20;
	c->seed = 1;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;
		r = 0;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		} else if (strcmp(o, "--gc-two-obs") == 0) {
			c->gc_two_obs = 1;
			takes = 0;
		} else if (strcmp(o, "--quiet") == 0) {
			c->quiet = 1;
			takes = 0;
		} else if (!known(o)) {
			return bad("unknown option '%s'", o);
		} else if (!v) {
			return bad("%s needs a value", o);
		} else if (strcmp(o, "--pods") == 0) {
			if (!(r = num(o, v, 1, 1000000, &u)))
				c->pods = (unsigned)u;
		} else if (strcmp(o, "--nodes") == 0) {
			if (!(r = num(o, v, 1, 100000, &u)))
				c->nodes = (unsigned)u;
		} else if (strcmp(o, "--workers") == 0) {
			if (!(r = num(o, v, 1, CHURN_MAX_WORKERS, &u)))
				c->workers = (unsigned)u;
		} else if (strcmp(o, "--family") == 0) {
			if (strcmp(v, "v4") == 0)
				c->dual = 0;
			else if (strcmp(v, "dual") == 0)
				c->dual = 1;
			else
				return bad("--family: '%s' is not v4 or dual%s", v, "");
		} else if (strcmp(o, "--ratio") == 0) {
			r = real(o, v, 0.01, 1000.0, &c->ratio);
		} else if (strcmp(o, "--backend") == 0) {
			if (nb == CHURN_MAX_RUNS)
				return bad("too many --backend options%s%s", "", "");
			if (strcmp(v, "memory") != 0 && strcmp(v, "etcd-launch") != 0 &&
			    strncmp(v, "file:", 5) != 0 && strncmp(v, "file-procs:", 11) != 0 &&
			    strncmp(v, "cni:", 4) != 0 && strncmp(v, "etcd:", 5) != 0)
				return bad("--backend: '%s' is not memory, file:DIR, file-procs:DIR, "
					   "cni:PLUGIN, etcd:ENDPOINTS or etcd-launch", v);
			if (strchr(v, ':') && !strchr(v, ':')[1])
				return bad("--backend: '%s' needs a directory, plugin or endpoints%s", v,
					   "");
			if (strlen(v) >= 500)
				return bad("--backend: argument too long%s%s", "", "");
			backends[nb++] = v;
		} else if (strcmp(o, "--mode") == 0) {
			int m = strcmp(v, "fine") == 0 ? 0 : strcmp(v, "coarse") == 0 ? 1 : -1;
			if (m < 0)
				return bad("--mode: '%s' is not fine or coarse%s", v, "");
			if (nmodes == 2)
				return bad("--mode given more than twice%s%s", "", "");
			modes[nmodes++] = m;
		} else if (strcmp(o, "--durability") == 0) {
			if (strcmp(v, "fsync") == 0)
				c->durability = IPAM_DURABILITY_FSYNC;
			else if (strcmp(v, "group") == 0)
				c->durability = IPAM_DURABILITY_GROUP;
			else if (strcmp(v, "none") == 0)
				c->durability = IPAM_DURABILITY_NONE;
			else
				return bad("--durability: '%s' is not fsync, group or none%s", v, "");
		} else if (strcmp(o, "--phases") == 0) {
			r = phases(v, &c->phases);
		} else if (strcmp(o, "--del-delay-ms") == 0) {
			if (!(r = num(o, v, 0, 600000, &u)))
				c->del_delay_ms = (unsigned)u;
		} else if (strcmp(o, "--lost-dels") == 0) {
			r = real(o, v, 0.0, 1.0, &c->lost_dels);
		} else if (strcmp(o, "--gc-interval-ms") == 0) {
			if (!(r = num(o, v, 1, 3600000, &u)))
				c->gc_interval_ms = (unsigned)u;
		} else if (strcmp(o, "--gc-min-gap-ms") == 0) {
			if (!(r = num(o, v, 0, 3600000, &u)))
				c->gc_min_gap_ms = (unsigned)u;
		} else if (strcmp(o, "--gc-min-age-s") == 0) {
			if (!(r = num(o, v, 0, 86400, &u)))
				c->gc_min_age_s = (int64_t)u;
		} else if (strcmp(o, "--gc-grace-s") == 0) {
			if (!(r = num(o, v, 0, 86400, &u)))
				c->gc_grace_s = (int64_t)u;
		} else if (strcmp(o, "--oracle") == 0) {
			if (strcmp(v, "pod") == 0)
				c->oracle = OR_POD;
			else if (strcmp(v, "sandbox") == 0)
				c->oracle = OR_SANDBOX;
			else
				return bad("--oracle: '%s' is not pod or sandbox%s", v, "");
		} else if (strcmp(o, "--phase-timeout-s") == 0) {
			if (!(r = num(o, v, 1, 86400, &u)))
				c->phase_timeout_s = (unsigned)u;
		} else if (strcmp(o, "--check-ms") == 0) {
			if (!(r = num(o, v, 1, 600000, &u)))
				c->check_ms = (unsigned)u;
		} else if (strcmp(o, "--tick-ms") == 0) {
			if (!(r = num(o, v, 1, 10000, &u)))
				c->tick_ms = (unsigned)u;
		} else if (strcmp(o, "--retry-base-ms") == 0) {
			if (!(r = num(o, v, 1, 60000, &u)))
				c->retry_base_ms = (unsigned)u;
		} else if (strcmp(o, "--retry-max-ms") == 0) {
			if (!(r = num(o, v, 1, 60000, &u)))
				c->retry_max_ms = (unsigned)u;
		} else if (strcmp(o, "--seed") == 0) {
			if (!(r = num(o, v, 0, UINT64_MAX, &u)))
				c->seed = u;
		} else if (strcmp(o, "--csv") == 0) {
			c->csv_dir = v;
		} else if (strcmp(o, "--plot") == 0) {
			c->plot_file = v;
		} else {
			return bad("unknown option '%s'%s", o, "");
		}
		if (r)
			return r;
		i += takes;
	}
	if (c->retry_max_ms < c->retry_base_ms)
		c->retry_max_ms = c->retry_base_ms;
	c->pool_size = (uint64_t)llround((double)c->pods * c->ratio);
	if (c->pool_size < 1)
		return bad("--ratio: pools would hold no address%s%s", "", "");
	if (c->pool_size > (1u << 24) - 2)
		return bad("--pods x --ratio: pools of more than 16777214 addresses are not supported%s%s",
			   "", "");
	if (nb == 0)
		backends[nb++] = "memory";
	if (nmodes == 0)
		modes[nmodes++] = 0;
	if (nb * (unsigned)nmodes > CHURN_MAX_RUNS)
		return bad("too many back end x mode combinations%s%s", "", "");
	for (unsigned b = 0; b < nb; b++) {
		int cni = strncmp(backends[b], "cni:", 4) == 0;
		/* A CNI plugin decides its own preconditions: one run. */
		for (int m = 0; m < (cni ? 1 : nmodes); m++) {
			struct run_spec *rs = &c->runs[c->nruns];
			const char *kind = "memory";
			const char *dir = "";
			if (strncmp(backends[b], "file:", 5) == 0) {
				rs->kind = BK_FILE;
				kind = "file";
				dir = backends[b] + 5;
			} else if (strncmp(backends[b], "file-procs:", 11) == 0) {
				rs->kind = BK_FILE_PROCS;
				kind = "file-procs";
				dir = backends[b] + 11;
			} else if (cni) {
				rs->kind = BK_CNI;
				dir = backends[b] + 4;
				kind = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
			} else if (strncmp(backends[b], "etcd:", 5) == 0) {
				rs->kind = BK_ETCD;
				kind = "etcd";
				dir = backends[b] + 5;
			} else if (strcmp(backends[b], "etcd-launch") == 0) {
				rs->kind = BK_ETCD_LAUNCH;
				kind = "etcd-launch";
			} else {
				rs->kind = BK_MEMORY;
			}
			snprintf(rs->dir, sizeof(rs->dir), "%s", dir);
			rs->coarse = cni ? 0 : modes[m];
			if (cni)
				snprintf(rs->label, sizeof(rs->label), "cni %.50s", kind);
			else
				snprintf(rs->label, sizeof(rs->label), "%s, %s", kind,
					 modes[m] ? "coarse" : "fine");
			snprintf(rs->tag, sizeof(rs->tag), "r%u-%s-%s", c->nruns, cni ? "cni" : kind,
				 modes[m] ? "coarse" : "fine");
			c->nruns++;
		}
	}
	return 0;
}
