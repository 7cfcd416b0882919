/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ETCD_LAUNCH_H
#define IPAM_ETCD_LAUNCH_H

/*
 * A real etcd for the tests: started on 127.0.0.1 with free ports and a
 * temporary data directory, optionally with TLS and client certificates
 * (a throwaway CA made with openssl), stopped and removed by
 * fx_etcd_destroy(). The etcd process gets SIGKILL if the process that
 * started it dies first, so a crashed test never leaves one behind.
 */
#include <sys/types.h>

struct fx_etcd {
	pid_t pid;
	int tls;
	int port, peer;
	char dir[256];
	char url[96];
	/* TLS material under dir (when tls): the CA, a client certificate it
	 * signed, and one signed by another CA. */
	char ca[320], cert[320], key[320], bad_cert[320], bad_key[320];
};

/* The etcd binary (IPAM_ETCD_BIN or /usr/bin/etcd), or NULL if absent. */
const char *fx_etcd_binary(void);
/* Start a new etcd; 0, or -1 with the reason on stderr. */
int fx_etcd_start(struct fx_etcd *e, int tls);
/* Stop it (SIGTERM, then SIGKILL after 5 s); its data stays. */
void fx_etcd_stop(struct fx_etcd *e);
/* Start it again on the same ports and data. 0 or -1. */
int fx_etcd_restart(struct fx_etcd *e);
/* Stop it and remove its directory. Safe to call twice. */
void fx_etcd_destroy(struct fx_etcd *e);

#endif /* IPAM_ETCD_LAUNCH_H */
