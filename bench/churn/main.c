/* SPDX-License-Identifier: MIT */
/*
 * ipam-churn: the 1000-pod churn benchmark of /work/shared/SCENARIOS.md
 * (create, rebuild, power-off, delete at a 1:1 address/pod ratio) on the
 * library's back ends. Each back end x mode runs in its own forked process
 * (clean peak-memory figures, no state shared between runs), which writes
 * its results to shared memory; this process prints them side by side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "churn.h"

static void remove_series(const struct config *c, const char *dir)
{
	char path[1024];
	for (unsigned i = 0; i < c->nruns; i++)
		for (int p = 0; p < PH_COUNT; p++) {
			snprintf(path, sizeof(path), "%s/%s-%s.csv", dir, c->runs[i].tag,
				 phase_names[p]);
			unlink(path);
		}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	struct config c;
	struct run_result *res;
	char tmpdir[] = "/tmp/ipam-churn-XXXXXX";
	int r = churn_args(&c, argc, argv), worst = 0, tmp_csv = 0;
	unsigned skipped = 0;

	if (r == 1)
		return 0;
	if (r)
		return 2;
	if (c.plot_file && !c.csv_dir) {
		if (!mkdtemp(tmpdir)) {
			fprintf(stderr, "ipam-churn: mkdtemp: %s\n", strerror(errno));
			return 1;
		}
		c.csv_dir = tmpdir;
		tmp_csv = 1;
	}
	res = mmap(NULL, sizeof(*res) * c.nruns, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (res == MAP_FAILED) {
		fprintf(stderr, "ipam-churn: mmap: %s\n", strerror(errno));
		return 1;
	}
	report_header(&c);
	fflush(stdout);
	for (unsigned i = 0; i < c.nruns; i++) {
		int ws = 0;
		pid_t pid;
		if (isatty(STDERR_FILENO) && !c.quiet)
			fprintf(stderr, "running %s ...\n", c.runs[i].label);
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "ipam-churn: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			run_backend(&c, &c.runs[i], &res[i]);
			fflush(NULL);
			_exit(0);
		}
		if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws)) {
			res[i].status = 2;
			snprintf(res[i].why, sizeof(res[i].why), "run process died (%s)",
				 WIFSIGNALED(ws) ? strsignal(WTERMSIG(ws)) : "unknown");
		}
		if (res[i].status == 4)
			skipped++;
		else if (res[i].status == 1 || res[i].status == 2)
			worst = 1;
		else if (res[i].status == 3 && !worst)
			worst = 3;
	}
	report_tables(&c, res);
	if (c.csv_dir && !tmp_csv)
		printf("CSV series: %s/<run>-<phase>.csv\n", c.csv_dir);
	if (c.plot_file)
		report_plot(&c, c.csv_dir);
	if (tmp_csv)
		remove_series(&c, tmpdir);
	munmap(res, sizeof(*res) * c.nruns);
	/* Every run skipped (etcd-launch without etcd): meson's "skipped". */
	return skipped == c.nruns ? 77 : worst;
}
