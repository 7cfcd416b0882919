/* SPDX-License-Identifier: MIT */
/*
 * Starting and stopping a real etcd for the tests (see etcd_launch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "etcd_launch.h"

const char *fx_etcd_binary(void)
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

static int sh(const char *dir, const char *cmd)
{
	char full[2048];

	snprintf(full, sizeof(full), "cd '%s' && (%s) >>openssl.log 2>&1", dir, cmd);
	if (system(full) != 0) {
		fprintf(stderr, "etcd fixture: failed: %s (see %s/openssl.log)\n", cmd, dir);
		return -1;
	}
	return 0;
}

/* A CA, a server certificate for 127.0.0.1, a client certificate, and a
 * client certificate from another CA. */
static int make_certs(struct fx_etcd *e)
{
	static const char *const steps[] = {
		"printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' >server.ext",
		"printf 'extendedKeyUsage=clientAuth\\n' >client.ext",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		"-subj /CN=ipam-test-ca -keyout ca.key -out ca.crt",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		"-subj /CN=ipam-other-ca -keyout other-ca.key -out other-ca.crt",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		"-subj /CN=127.0.0.1 -keyout server.key -out server.csr",
		"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		"-extfile server.ext -out server.crt",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		"-subj /CN=ipam-client -keyout client.key -out client.csr",
		"openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		"-extfile client.ext -out client.crt",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		"-subj /CN=ipam-intruder -keyout bad.key -out bad.csr",
		"openssl x509 -req -in bad.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial "
		"-days 2 -extfile client.ext -out bad.crt",
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (sh(e->dir, steps[i]) < 0)
			return -1;
	snprintf(e->ca, sizeof(e->ca), "%s/ca.crt", e->dir);
	snprintf(e->cert, sizeof(e->cert), "%s/client.crt", e->dir);
	snprintf(e->key, sizeof(e->key), "%s/client.key", e->dir);
	snprintf(e->bad_cert, sizeof(e->bad_cert), "%s/bad.crt", e->dir);
	snprintf(e->bad_key, sizeof(e->bad_key), "%s/bad.key", e->dir);
	return 0;
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

static int healthy(struct fx_etcd *e)
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
	if (e->tls) {
		curl_easy_setopt(h, CURLOPT_CAINFO, e->ca);
		curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
	}
	r = curl_easy_perform(h);
	curl_easy_cleanup(h);
	return r == CURLE_OK && strstr(body, "\"health\":\"true\"") != NULL;
}

static int spawn(struct fx_etcd *e)
{
	char data[300], log[300], peer[64], tca[340], tcert[340], tkey[340], cluster[96];
	const char *bin = fx_etcd_binary();
	struct timespec ts = { 0, 50 * 1000000L };

	snprintf(data, sizeof(data), "%s/data", e->dir);
	snprintf(log, sizeof(log), "%s/etcd.log", e->dir);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", e->peer);
	snprintf(cluster, sizeof(cluster), "default=%s", peer);
	snprintf(tca, sizeof(tca), "--trusted-ca-file=%s", e->ca);
	snprintf(tcert, sizeof(tcert), "--cert-file=%s/server.crt", e->dir);
	snprintf(tkey, sizeof(tkey), "--key-file=%s/server.key", e->dir);
	e->pid = fork();
	if (e->pid < 0)
		return -1;
	if (e->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		const char *argv[24] = { bin, "--name", "default", "--data-dir", data,
					 "--listen-client-urls", e->url, "--advertise-client-urls", e->url,
					 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
					 "--initial-cluster", cluster, NULL };
		int n = 15;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (e->tls) {
			argv[n++] = "--client-cert-auth";
			argv[n++] = tca;
			argv[n++] = tcert;
			argv[n++] = tkey;
		}
		argv[n] = NULL;
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) { /* 15 s */
		int st;
		if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
			fprintf(stderr, "etcd fixture: etcd exited at start (see %s)\n", log);
			e->pid = 0;
			return -1;
		}
		if (healthy(e))
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "etcd fixture: etcd not healthy after 15 s (see %s)\n", log);
	fx_etcd_stop(e);
	return -1;
}

int fx_etcd_start(struct fx_etcd *e, int tls)
{
	const char *t = getenv("TMPDIR");

	memset(e, 0, sizeof(*e));
	e->tls = tls;
	if (!fx_etcd_binary()) {
		fprintf(stderr, "etcd fixture: no etcd binary (/usr/bin/etcd or IPAM_ETCD_BIN)\n");
		return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(e->dir, sizeof(e->dir), "%s/ipam-etcd-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(e->dir)) {
		perror("etcd fixture: mkdtemp");
		e->dir[0] = '\0';
		return -1;
	}
	if (tls && make_certs(e) < 0)
		return -1;
	for (int attempt = 0; attempt < 3; attempt++) { /* a port may be taken meanwhile */
		e->port = free_port();
		e->peer = free_port();
		if (e->port < 0 || e->peer < 0 || e->port == e->peer)
			continue;
		snprintf(e->url, sizeof(e->url), "%s://127.0.0.1:%d", tls ? "https" : "http", e->port);
		if (spawn(e) == 0)
			return 0;
	}
	return -1;
}

void fx_etcd_stop(struct fx_etcd *e)
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

int fx_etcd_restart(struct fx_etcd *e)
{
	fx_etcd_stop(e);
	return spawn(e);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fx_etcd_destroy(struct fx_etcd *e)
{
	fx_etcd_stop(e);
	if (e->dir[0])
		nftw(e->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	e->dir[0] = '\0';
}
