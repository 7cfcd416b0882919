/* SPDX-License-Identifier: MIT */
/*
 * Output: the summary table shaped like the published one (SCENARIOS.md),
 * per-phase counters, conflicts per allocation, the CSV time series and
 * the gnuplot plot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "churn.h"

const char *const phase_names[PH_COUNT] = { "create", "rebuild", "poweroff", "delete" };
static const char *const phase_titles[PH_COUNT] = { "create", "rebuild", "power-off recovery",
						    "delete" };

static const char *dur_name(ipam_durability d)
{
	switch (d) {
	case IPAM_DURABILITY_FSYNC:
		return "fsync";
	case IPAM_DURABILITY_GROUP:
		return "group";
	case IPAM_DURABILITY_NONE:
		return "none";
	}
	return "?";
}

void report_header(const struct config *c)
{
	printf("ipam-churn: %u pods on %u nodes, %s, %llu addresses per family (ratio %.2f), "
	       "%u workers, seed %llu\n",
	       c->pods, c->nodes, c->dual ? "dual-stack" : "IPv4", (unsigned long long)c->pool_size,
	       c->ratio, c->workers, (unsigned long long)c->seed);
	printf("  GC every %u ms and on exhaustion (>= %u ms apart), oracle: API server %s, "
	       "min_age %lld s, two observations %s; rebuild DELs within %u ms, %.0f %% lost; "
	       "file durability %s; phase timeout %u s\n\n",
	       c->gc_interval_ms, c->gc_min_gap_ms, c->oracle == OR_POD ? "pods" : "sandboxes",
	       (long long)c->gc_min_age_s, c->gc_two_obs ? "on" : "off", c->del_delay_ms,
	       c->lost_dels * 100.0, dur_name(c->durability), c->phase_timeout_s);
}

static void cell(const struct phase_result *r, char *buf, size_t size)
{
	if (!r->ran)
		snprintf(buf, size, "-");
	else if (r->status == 0)
		snprintf(buf, size, "%.3f s", r->wall_ms / 1e3);
	else if (r->status == 3)
		snprintf(buf, size, "failed after %u pods", r->pods_done);
	else if (r->status == 1)
		snprintf(buf, size, "INVARIANT VIOLATED");
	else
		snprintf(buf, size, "error");
}

void report_tables(const struct config *c, const struct run_result *res)
{
	char buf[64];

	printf("| back end | create | rebuild | power-off recovery | delete |\n");
	printf("| --- | --- | --- | --- | --- |\n");
	for (unsigned i = 0; i < c->nruns; i++) {
		printf("| %s |", c->runs[i].label);
		for (int p = 0; p < PH_COUNT; p++) {
			cell(&res[i].ph[p], buf, sizeof(buf));
			printf(" %s |", buf);
		}
		printf("\n");
	}
	printf("\nper phase: ADDs = allocate calls that succeeded; leases = leases created; "
	       "conflicts = commits refused on a precondition; lib-retries = decisions redone "
	       "(library); retries = ADD/DEL requeued by the runtime (exh-waits of them on "
	       "-ENOSPC); reclaims = GC; latency = successful ipam_allocate calls\n");
	printf("%-20s %-9s %10s %6s %6s %7s %9s %11s %8s %9s %5s %8s %7s %8s %8s %8s %8s %7s\n",
	       "back end", "phase", "wall ms", "pods", "ADDs", "leases", "conflicts", "lib-retries",
	       "retries", "exh-waits", "GC", "reclaims", "rebinds", "releases", "p50 us", "p99 us",
	       "RSS MiB", "checks");
	for (unsigned i = 0; i < c->nruns; i++) {
		for (int p = 0; p < PH_COUNT; p++) {
			const struct phase_result *r = &res[i].ph[p];
			if (!r->ran)
				continue;
			printf("%-20s %-9s %10.1f %6u %6llu %7llu %9llu %11llu %8llu %9llu %5llu %8llu "
			       "%7llu %8llu %8.1f %8.1f %8.1f %7llu\n",
			       c->runs[i].label, phase_names[p], r->wall_ms, r->pods_done,
			       (unsigned long long)r->adds, (unsigned long long)r->leases,
			       (unsigned long long)r->conflicts, (unsigned long long)r->lib_retries,
			       (unsigned long long)r->retries, (unsigned long long)r->exh_waits,
			       (unsigned long long)r->gc_passes, (unsigned long long)r->reclaims,
			       (unsigned long long)r->rebinds, (unsigned long long)r->releases,
			       r->p50_us, r->p99_us, (double)r->maxrss_kb / 1024.0,
			       (unsigned long long)r->checks);
		}
	}
	printf("\nconflicts per allocation (all phases, conflicts / successful ADDs):\n");
	for (unsigned i = 0; i < c->nruns; i++) {
		uint64_t conf = 0, adds = 0;
		for (int p = 0; p < PH_COUNT; p++) {
			conf += res[i].ph[p].conflicts;
			adds += res[i].ph[p].adds;
		}
		printf("  %-20s %.4f  (%llu / %llu)", c->runs[i].label,
		       adds ? (double)conf / (double)adds : 0.0, (unsigned long long)conf,
		       (unsigned long long)adds);
		/* Beside the fine run of the same back end, if there is one. */
		if (c->runs[i].coarse && i > 0 && !c->runs[i - 1].coarse &&
		    c->runs[i - 1].kind == c->runs[i].kind) {
			uint64_t fc = 0, fa = 0;
			for (int p = 0; p < PH_COUNT; p++) {
				fc += res[i - 1].ph[p].conflicts;
				fa += res[i - 1].ph[p].adds;
			}
			if (fc && fa && adds)
				printf("  coarse/fine = %.1fx",
				       ((double)conf / (double)adds) / ((double)fc / (double)fa));
			else if (fa && adds)
				printf("  coarse/fine = inf (fine had 0 conflicts)");
		}
		printf("\n");
	}
	for (unsigned i = 0; i < c->nruns; i++)
		if (res[i].status)
			printf("%s: %s\n", c->runs[i].label, res[i].why[0] ? res[i].why : "failed");
}

int report_csv(const char *dir, const char *tag, enum phase p, const int64_t *ms,
	       const unsigned *running, unsigned n)
{
	char path[1024];
	FILE *f;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "ipam-churn: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s-%s.csv", dir, tag, phase_names[p]);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "ipam-churn: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "ms,running\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%lld,%u\n", (long long)ms[i], running[i]);
	return fclose(f) == 0 ? 0 : -1;
}

static int on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096], *save = NULL;
	char full[4200];
	if (!path || strlen(path) >= sizeof(buf))
		return 0;
	strcpy(buf, path);
	for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(full, sizeof(full), "%s/%s", *d ? d : ".", prog);
		if (access(full, X_OK) == 0)
			return 1;
	}
	return 0;
}

void report_plot(const struct config *c, const char *csv_dir)
{
	FILE *g;
	int n = 0;

	if (!on_path("gnuplot")) {
		printf("note: gnuplot is not on PATH; no plot written (the CSV series are in %s)\n",
		       csv_dir);
		return;
	}
	g = popen("gnuplot", "w");
	if (!g) {
		printf("note: cannot run gnuplot: %s\n", strerror(errno));
		return;
	}
	fprintf(g, "set terminal pngcairo size 1400,900 noenhanced\n");
	fprintf(g, "set output '%s'\n", c->plot_file);
	fprintf(g, "set datafile separator ','\nset key bottom right\nset grid\nset yrange [0:*]\n");
	fprintf(g, "set multiplot layout 2,2 title 'ipam-churn: %u pods, %s, ratio %.2f, %u workers'\n",
		c->pods, c->dual ? "dual-stack" : "IPv4", c->ratio, c->workers);
	for (int p = 0; p < PH_COUNT; p++) {
		int first = 1;
		if (!(c->phases & (1u << p)))
			continue;
		fprintf(g, "set title '%s'\nset xlabel 'ms since phase start'\n"
			   "set ylabel '%s'\n", phase_titles[p],
			p == PH_DELETE ? "pods not yet gone" : "pods Running");
		for (unsigned i = 0; i < c->nruns; i++) {
			char path[1024];
			snprintf(path, sizeof(path), "%s/%s-%s.csv", csv_dir, c->runs[i].tag,
				 phase_names[p]);
			if (access(path, R_OK) != 0)
				continue;
			fprintf(g, "%s '%s' every ::1 using 1:2 with lines lw 2 title '%s'",
				first ? "plot" : ",", path, c->runs[i].label);
			first = 0;
		}
		if (first)
			fprintf(g, "plot 0 notitle");
		fprintf(g, "\n");
		n++;
	}
	fprintf(g, "unset multiplot\n");
	if (pclose(g) != 0)
		printf("note: gnuplot failed; no plot written\n");
	else if (n)
		printf("plot: %s\n", c->plot_file);
}
