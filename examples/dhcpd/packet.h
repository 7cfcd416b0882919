/* SPDX-License-Identifier: MIT */
#ifndef DHCPD_PACKET_H
#define DHCPD_PACKET_H

/*
 * DHCPv4 messages (RFC 2131, options RFC 2132): parse a client's message
 * into a flat struct, build a server's reply. No sockets, no libipam: the
 * daemon's policy lives in serve.c. Addresses are host-order uint32_t.
 */
#include <stddef.h>
#include <stdint.h>

enum dhcp_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
	DHCP_INFORM = 8
};

#define DHCP_FLAG_BROADCAST 0x8000u
#define DHCP_CLIENT_ID_MAX 64 /* longer client ids are refused */
#define DHCP_MAX_DNS 4

/* What the server reads from a client's message. */
struct dhcp_msg {
	uint8_t htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	int type;           /* option 53, 0 if absent */
	uint32_t requested; /* option 50, 0 if absent */
	uint32_t server_id; /* option 54, 0 if absent */
	uint8_t client_id[DHCP_CLIENT_ID_MAX];
	unsigned client_id_len; /* option 61, 0 if absent */
	char hostname[64];      /* option 12, sanitised; "" if absent */
};

/* Parse a BOOTREQUEST of len bytes. 0, or -1 if it is not a well-formed
 * DHCP request from an Ethernet client (then *m is unspecified). */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m);

/* What the server puts in a reply. */
struct dhcp_reply {
	int type;            /* DHCP_OFFER, DHCP_ACK or DHCP_NAK */
	uint32_t yiaddr;     /* the address offered or acknowledged (0 for NAK, INFORM) */
	uint32_t server_id;
	uint32_t lease_time; /* seconds; 0: no lease options (INFORM, NAK) */
	uint32_t mask;       /* 0: none */
	uint32_t router;     /* 0: none */
	uint32_t dns[DHCP_MAX_DNS];
	unsigned ndns;
	const char *message; /* option 56 (NAK reason), or NULL */
};

/* Build the reply to req into buf. Returns its length, or 0 if size is
 * too small (DHCP_REPLY_MAX is always enough). */
#define DHCP_REPLY_MAX 576
size_t dhcp_build(uint8_t *buf, size_t size, const struct dhcp_msg *req, const struct dhcp_reply *rep);

/* "DISCOVER", "ACK", ... */
const char *dhcp_type_name(int type);

/* An owner name for libipam: "id:<hex>" from the client identifier, else
 * "mac:aa:bb:cc:dd:ee:ff" from chaddr. */
void dhcp_owner(const struct dhcp_msg *m, char *buf, size_t size);
/* The hardware address as "aa:bb:cc:dd:ee:ff". */
void dhcp_mac(const struct dhcp_msg *m, char *buf, size_t size);

#endif /* DHCPD_PACKET_H */
