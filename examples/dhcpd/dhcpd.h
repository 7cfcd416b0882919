/* SPDX-License-Identifier: MIT */
#ifndef DHCPD_H
#define DHCPD_H

/*
 * ipam-dhcpd: a small DHCPv4 server for one interface, on libipam.
 * dhcpd.c runs the socket and the timers, serve.c decides the replies,
 * packet.c speaks the wire format.
 */
#include <stdint.h>

#include <ipam/ipam.h>

#include "packet.h"

#define DHCPD_SET "dhcp" /* the pool set: one scope */
#define DHCPD_POOL "v4"

struct dhcpd {
	/* configuration */
	const char *ifname;
	uint32_t server_ip, mask, router;
	uint32_t dns[DHCP_MAX_DNS];
	unsigned ndns;
	uint32_t lease_time;  /* seconds granted by an ACK */
	uint32_t offer_time;  /* seconds an OFFER holds its address */
	uint32_t quarantine;  /* seconds a released or declined address rests */
	const char *status;   /* status file, or NULL */
	/* state */
	ipam_store *store;
	ipam_ctx *ctx;
	const ipam_pool *pool;
	int changed; /* leases changed since the status file was written */
};

/* Decide the reply to m. Returns 1 with *rep filled if one must be sent,
 * 0 if the message is ignored (logged either way). */
int dhcpd_serve(struct dhcpd *d, const struct dhcp_msg *m, struct dhcp_reply *rep);

/* One garbage-collection pass: reclaim expired leases, return declined
 * addresses whose quarantine is over. */
void dhcpd_gc(struct dhcpd *d, const ipam_gc_oracle *expiry);

/* printf-style line on stdout with a timestamp (the daemon's log). */
void dhcpd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Dotted quad of a host-order address, in one of four rotating buffers. */
const char *dhcpd_ip(uint32_t a);

#endif /* DHCPD_H */
