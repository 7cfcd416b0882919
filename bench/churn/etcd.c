/* SPDX-License-Identifier: MIT */
/*
 * The etcd back ends. etcd:ENDPOINTS uses a running cluster; etcd-launch
 * starts a throwaway single-member etcd on free loopback ports with a
 * temporary data directory (the start-up of tests/etcd/etcd_launch.c,
 * without TLS), and stops and removes it at the end. The etcd process gets
 * SIGKILL if the run process dies first. Without the etcd store built in,
 * both refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "churn.h"

#ifdef CHURN_HAVE_ETCD
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include "ipam_etcd.h"

int churn_etcd_store(const char *endpoints, const char *prefix, ipam_store **out, char *why,
		     size_t size)
{
	ipam_etcd_options o;
	int r;
	ipam_etcd_options_init(&o);
	o.endpoints = endpoints;
	o.prefix = prefix;
	r = ipam_store_etcd_new(out, &o);
	if (r < 0)
		snprintf(why, size, "etcd store %s: %s: %s", endpoints, ipam_errname(r),
			 ipam_etcd_last_error_message());
	return r;
}

struct churn_etcd {
	pid_t pid;
	int port, peer;
	char dir[256];
	char url[96];
};

static const char *etcd_binary(void)
{
	const char *b = getenv("IPAM_ETCD_BIN");
	if (!b || !*b)
		b = "/usr/bin/etcd";
	return access(b, X_OK) == 0 ? b : NULL;
}

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	char *buf = ud;
	size_t have = strlen(buf), len = size * n;
	if (have + len < 256) {
		memcpy(buf + have, p, len);
		buf[have + len] = '\0';
	}
	return len;
}

static int healthy(const struct churn_etcd *e)
{
	char url[160], body[256] = "";
	CURL *h = curl_easy_init();
	CURLcode r;

	if (!h)
		return 0;
	snprintf(url, sizeof(url), "%s/health", e->url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)body);
	r = curl_easy_perform(h);
	curl_easy_cleanup(h);
	return r == CURLE_OK && strstr(body, "\"health\":\"true\"") != NULL;
}

static void stop_proc(struct churn_etcd *e)
{
	struct timespec ts = { 0, 10 * 1000000L };
	if (e->pid <= 0)
		return;
	kill(e->pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
			e->pid = 0;
			return;
		}
		nanosleep(&ts, NULL);
	}
	kill(e->pid, SIGKILL);
	waitpid(e->pid, NULL, 0);
	e->pid = 0;
}

static int spawn(struct churn_etcd *e, const char *bin, char *why, size_t size)
{
	char data[300], log[300], peer[64], cluster[96];
	struct timespec ts = { 0, 50 * 1000000L };

	snprintf(data, sizeof(data), "%s/data", e->dir);
	snprintf(log, sizeof(log), "%s/etcd.log", e->dir);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", e->peer);
	snprintf(cluster, sizeof(cluster), "default=%s", peer);
	e->pid = fork();
	if (e->pid < 0)
		return -1;
	if (e->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		const char *argv[] = { bin, "--name", "default", "--data-dir", data,
				       "--listen-client-urls", e->url, "--advertise-client-urls", e->url,
				       "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
				       "--initial-cluster", cluster, NULL };
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) { /* 15 s */
		if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
			snprintf(why, size, "etcd exited at start (see %s)", log);
			e->pid = 0;
			return -1;
		}
		if (healthy(e))
			return 0;
		nanosleep(&ts, NULL);
	}
	snprintf(why, size, "etcd not healthy after 15 s (see %s)", log);
	stop_proc(e);
	return -1;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void churn_etcd_stop(struct churn_etcd *e)
{
	if (!e)
		return;
	stop_proc(e);
	if (e->dir[0])
		nftw(e->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
}

int churn_etcd_launch(struct churn_etcd **out, char *url, size_t urlsize, char *why, size_t size)
{
	const char *t = getenv("TMPDIR"), *bin = etcd_binary();
	struct churn_etcd *e;

	*out = NULL;
	if (!bin) {
		snprintf(why, size, "no etcd binary (/usr/bin/etcd or IPAM_ETCD_BIN)");
		return 1;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(e->dir, sizeof(e->dir), "%s/ipam-churn-etcd-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(e->dir)) {
		snprintf(why, size, "mkdtemp: %s", strerror(errno));
		e->dir[0] = '\0';
		churn_etcd_stop(e);
		return -1;
	}
	for (int attempt = 0; attempt < 3; attempt++) { /* a port may be taken meanwhile */
		e->port = free_port();
		e->peer = free_port();
		if (e->port < 0 || e->peer < 0 || e->port == e->peer)
			continue;
		snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->port);
		if (spawn(e, bin, why, size) == 0) {
			snprintf(url, urlsize, "%s", e->url);
			*out = e;
			return 0;
		}
	}
	churn_etcd_stop(e);
	return -1;
}

#else /* !CHURN_HAVE_ETCD */

int churn_etcd_store(const char *endpoints, const char *prefix, ipam_store **out, char *why,
		     size_t size)
{
	(void)endpoints;
	(void)prefix;
	*out = NULL;
	snprintf(why, size, "this ipam-churn was built without the etcd store");
	return -ENOTSUP;
}

int churn_etcd_launch(struct churn_etcd **out, char *url, size_t urlsize, char *why, size_t size)
{
	(void)url;
	(void)urlsize;
	*out = NULL;
	snprintf(why, size, "this ipam-churn was built without the etcd store");
	return -1;
}

void churn_etcd_stop(struct churn_etcd *e)
{
	(void)e;
}

#endif
