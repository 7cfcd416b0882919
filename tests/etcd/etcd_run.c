/* SPDX-License-Identifier: MIT */
/*
 * etcd-run COMMAND [ARGS...]: start a throwaway etcd (etcd_launch.h), run
 * COMMAND with IPAM_ETCD_ENDPOINTS set to its URL, stop and remove etcd,
 * exit with COMMAND's status. Exits 77 (skipped) if there is no etcd
 * binary. Used to run the store-contract suites with IPAM_TEST_STORE=etcd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd_launch.h"

static volatile sig_atomic_t child;

static void forward(int sig)
{
	if (child > 0)
		kill((pid_t)child, sig);
}

int main(int argc, char **argv)
{
	struct fx_etcd e;
	struct sigaction sa;
	int st = 0, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: etcd-run COMMAND [ARGS...]\n");
		return 2;
	}
	if (!fx_etcd_binary()) {
		printf("SKIP: no etcd binary (/usr/bin/etcd, or set IPAM_ETCD_BIN): "
		       "install etcd-server to run the etcd store tests\n");
		return 77;
	}
	if (fx_etcd_start(&e, 0) < 0) {
		fx_etcd_destroy(&e);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setenv("IPAM_ETCD_ENDPOINTS", e.url, 1);
	child = fork();
	if (child == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	while (child > 0 && waitpid((pid_t)child, &st, 0) < 0 && errno == EINTR)
		;
	fx_etcd_destroy(&e);
	if (child < 0)
		return 1;
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return rc;
}
