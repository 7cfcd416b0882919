/* SPDX-License-Identifier: MIT */
/*
 * ipam-cni beside Debian's host-local on the same host-local style config,
 * one exec per request as a runtime does: 1000 ADD then 1000 DEL, IPv4 and
 * dual-stack, 1 and 4 workers, default durability. Prints per-phase wall
 * time, per-operation latency p50/p99 when the pool is nearly empty (first
 * 10 %) and nearly full (last 10 %), and the ratios. Then the cost of an
 * ADD at 10 % against 90 % fill measured side by side: two networks filled
 * to 5 % and 85 %, then 100 ADDs into each, alternating, so that the
 * machine's drift over the seconds between the first and last tenth of a
 * phase does not enter the ratio.
 * usage: bench-cni IPAM_CNI [HOST_LOCAL] [N]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Exec plugin with the CNI environment and conf on stdin; 0 on success. */
static int call(const char *plugin, const char *verb, const char *cid, const char *conf)
{
	int in[2];
	pid_t pid;
	int status;

	if (pipe(in) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(in[0], 0);
		dup2(null, 1);
		close(in[1]);
		setenv("CNI_COMMAND", verb, 1);
		setenv("CNI_CONTAINERID", cid, 1);
		setenv("CNI_NETNS", "/var/run/netns/bench", 1);
		setenv("CNI_IFNAME", "eth0", 1);
		setenv("CNI_PATH", "/usr/lib/cni", 1);
		execl(plugin, plugin, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (write(in[1], conf, strlen(conf)) < 0)
		perror("write");
	close(in[1]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n ? v[(int)((n - 1) * p)] : 0;
}

struct result {
	double wall_s;
	double p50_lo, p99_lo, p50_hi, p99_hi; /* ms at low / high fill */
	int failures;
};

/* One phase with W workers; each op's latency stored at its sequence number. */
static struct result phase(const char *plugin, const char *verb, const char *conf, int n, int w,
			   const char *prefix)
{
	struct result r = { 0 };
	double *lat = calloc((size_t)n, sizeof(double));
	int *seq = calloc((size_t)n, sizeof(int));
	int pipes[8][2];
	double t0;

	/* Each phase starts with nothing left to write back: the files
	 * the previous one wrote (host-local: one per address) would
	 * otherwise slow this one's fsyncs. */
	sync();
	t0 = now_us();

	for (int k = 0; k < w; k++) {
		if (pipe(pipes[k]) < 0)
			exit(1);
		if (fork() == 0) {
			close(pipes[k][0]);
			for (int i = k; i < n; i += w) {
				char cid[64];
				double a = now_us(), d;
				int ok;
				snprintf(cid, sizeof(cid), "%s-%05d", prefix, i);
				ok = call(plugin, verb, cid, conf) == 0;
				d = now_us() - a;
				double rec[3] = { (double)i, d, ok };
				if (write(pipes[k][1], rec, sizeof(rec)) < 0)
					_exit(1);
			}
			_exit(0);
		}
		close(pipes[k][1]);
	}
	/* Order of completion approximates fill level. */
	int done = 0;
	for (int k = 0; k < w; k++) {
		double rec[3];
		while (read(pipes[k][0], rec, sizeof(rec)) == sizeof(rec)) {
			lat[done] = rec[1] / 1000.0;
			seq[done] = (int)rec[0];
			r.failures += rec[2] == 0;
			done++;
		}
		close(pipes[k][0]);
	}
	while (wait(NULL) > 0)
		;
	r.wall_s = (now_us() - t0) / 1e6;
	/* low fill: ops with sequence < 10 % of n; high fill: >= 90 %. */
	double *lo = calloc((size_t)n, sizeof(double)), *hi = calloc((size_t)n, sizeof(double));
	int nlo = 0, nhi = 0;
	for (int i = 0; i < done; i++) {
		if (seq[i] < n / 10)
			lo[nlo++] = lat[i];
		else if (seq[i] >= n - n / 10)
			hi[nhi++] = lat[i];
	}
	r.p50_lo = pct(lo, nlo, 0.5);
	r.p99_lo = pct(lo, nlo, 0.99);
	r.p50_hi = pct(hi, nhi, 0.5);
	r.p99_hi = pct(hi, nhi, 0.99);
	free(lo);
	free(hi);
	free(lat);
	free(seq);
	return r;
}

/* Median microseconds of `count` ADDs into each of two networks,
 * alternating: conf_lo (filled to about 5 %) and conf_hi (about 85 %). */
static void fill_probe(const char *plugin, const char *conf_lo, const char *conf_hi, int count,
		       double *lo_us, double *hi_us)
{
	double *lo = calloc((size_t)count, sizeof(double)), *hi = calloc((size_t)count, sizeof(double));
	char cid[64];

	sync(); /* as phase() */
	for (int i = 0; i < 850; i++) {
		snprintf(cid, sizeof(cid), "fill-%05d", i);
		if ((i < 50 && call(plugin, "ADD", cid, conf_lo) != 0) ||
		    call(plugin, "ADD", cid, conf_hi) != 0)
			fprintf(stderr, "bench-cni: fill ADD %d failed\n", i);
	}
	sync();
	for (int i = 0; i < count; i++) {
		double t;
		snprintf(cid, sizeof(cid), "probe-%05d", i);
		t = now_us();
		if (call(plugin, "ADD", cid, conf_lo) != 0)
			fprintf(stderr, "bench-cni: probe ADD %d failed\n", i);
		lo[i] = now_us() - t;
		t = now_us();
		if (call(plugin, "ADD", cid, conf_hi) != 0)
			fprintf(stderr, "bench-cni: probe ADD %d failed\n", i);
		hi[i] = now_us() - t;
	}
	*lo_us = pct(lo, count, 0.5);
	*hi_us = pct(hi, count, 0.5);
	free(lo);
	free(hi);
}

int main(int argc, char **argv)
{
	const char *plugins[2] = { argc > 1 ? argv[1] : "build/frontends/cni/ipam-cni",
				   argc > 2 ? argv[2] : "/usr/lib/cni/host-local" };
	const char *names[2] = { "ipam-cni", "host-local" };
	int n = argc > 3 ? atoi(argv[3]) : 1000;
	static const struct { const char *label, *ranges; } fam[2] = {
		{ "IPv4", "[[{\"subnet\":\"10.66.0.0/22\",\"rangeStart\":\"10.66.0.2\",\"rangeEnd\":\"10.66.3.233\"}]]" },
		{ "dual-stack", "[[{\"subnet\":\"10.66.0.0/22\",\"rangeStart\":\"10.66.0.2\",\"rangeEnd\":\"10.66.3.233\"}],"
				"[{\"subnet\":\"fd66::/118\",\"rangeStart\":\"fd66::2\",\"rangeEnd\":\"fd66::3e9\"}]]" },
	};
	char tmpl[] = "/tmp/bench-cni-XXXXXX";
	const char *base = mkdtemp(tmpl);

	printf("%d ADD then %d DEL per run, one exec per request, pool of exactly %d addresses per family\n",
	       n, n, 1000);
	printf("%-10s %-10s %-2s | %-8s %9s %9s %9s %9s %9s | %-8s %9s\n", "family", "plugin", "W",
	       "ADD", "wall s", "p50 lo", "p99 lo", "p50 hi", "p99 hi", "DEL", "wall s");
	for (int f = 0; f < 2; f++) {
		for (int w = 1; w <= 4; w *= 4) {
			double add_wall[2] = { 0, 0 }, del_wall[2] = { 0, 0 };
			for (int p = 0; p < 2; p++) {
				char dir[256], conf[1024], cmd[300];
				snprintf(dir, sizeof(dir), "%s/%s-%d-%d", base, names[p], f, w);
				snprintf(conf, sizeof(conf),
					 "{\"cniVersion\":\"1.0.0\",\"name\":\"bench%d%d\",\"type\":\"bridge\","
					 "\"ipam\":{\"type\":\"%s\",\"ranges\":%s,\"dataDir\":\"%s\"}}",
					 f, w, names[p], fam[f].ranges, dir);
				struct result a = phase(plugins[p], "ADD", conf, n, w, "c");
				struct result d = phase(plugins[p], "DEL", conf, n, w, "c");
				add_wall[p] = a.wall_s;
				del_wall[p] = d.wall_s;
				printf("%-10s %-10s %-2d | %-8s %9.2f %8.2fms %8.2fms %8.2fms %8.2fms | %-8s %9.2f%s\n",
				       fam[f].label, names[p], w, "", a.wall_s, a.p50_lo, a.p99_lo, a.p50_hi,
				       a.p99_hi, "", d.wall_s,
				       a.failures || d.failures ? "  (some calls failed)" : "");
				if (a.failures || d.failures)
					printf("    failures: %d ADD, %d DEL\n", a.failures, d.failures);
				snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
				if (system(cmd) != 0)
					perror("rm");
			}
			printf("%-10s %-10s %-2d | host-local / ipam-cni: ADD %.1fx, DEL %.1fx\n", fam[f].label,
			       "ratio", w, add_wall[1] / add_wall[0], del_wall[1] / del_wall[0]);
		}
	}
	printf("\nADD at ~10 %% vs ~90 %% fill, side by side (1 worker; 100 ADDs into a network at "
	       "5-15 %% and one at 85-95 %%, alternating; p50):\n");
	for (int f = 0; f < 2; f++) {
		for (int p = 0; p < 2; p++) {
			char dlo[256], dhi[256], clo[1024], chi[1024], cmd[600];
			double lo, hi;
			snprintf(dlo, sizeof(dlo), "%s/%s-%d-lo", base, names[p], f);
			snprintf(dhi, sizeof(dhi), "%s/%s-%d-hi", base, names[p], f);
			snprintf(clo, sizeof(clo),
				 "{\"cniVersion\":\"1.0.0\",\"name\":\"fill%dlo\",\"type\":\"bridge\","
				 "\"ipam\":{\"type\":\"%s\",\"ranges\":%s,\"dataDir\":\"%s\"}}",
				 f, names[p], fam[f].ranges, dlo);
			snprintf(chi, sizeof(chi),
				 "{\"cniVersion\":\"1.0.0\",\"name\":\"fill%dhi\",\"type\":\"bridge\","
				 "\"ipam\":{\"type\":\"%s\",\"ranges\":%s,\"dataDir\":\"%s\"}}",
				 f, names[p], fam[f].ranges, dhi);
			fill_probe(plugins[p], clo, chi, 100, &lo, &hi);
			printf("%-10s %-10s | ADD p50 %7.2f ms at ~10 %%, %7.2f ms at ~90 %%: %.2fx\n",
			       fam[f].label, names[p], lo / 1e3, hi / 1e3, hi / lo);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dlo, dhi);
			if (system(cmd) != 0)
				perror("rm");
		}
	}
	rmdir(base);
	return 0;
}
