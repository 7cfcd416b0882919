/* SPDX-License-Identifier: MIT */
/*
 * DHCPv4 wire format. Every read is bounds-checked against the received
 * length: a message is hostile until parsed. Option overload (52) is not
 * supported: options in sname/file are ignored, which clients tolerate
 * since the server never asks for them.
 */
#include <stdio.h>
#include <string.h>

#include "packet.h"

#define BOOTP_HEADER 236
#define OPTIONS_AT 240
#define MAGIC 0x63825363u
#define MIN_REPLY 300 /* BOOTP's minimum: some clients drop shorter ones */

enum {
	OPT_PAD = 0,
	OPT_MASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_HOSTNAME = 12,
	OPT_REQUESTED = 50,
	OPT_LEASE_TIME = 51,
	OPT_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_MESSAGE = 56,
	OPT_T1 = 58,
	OPT_T2 = 59,
	OPT_CLIENT_ID = 61,
	OPT_END = 255
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Keep a host name to [A-Za-z0-9.-]: it ends up in logs and lease records. */
static void copy_hostname(char *dst, size_t size, const uint8_t *src, unsigned len)
{
	size_t n = 0;
	for (unsigned i = 0; i < len && n + 1 < size; i++) {
		uint8_t c = src[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-')
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

static int parse_option(struct dhcp_msg *m, uint8_t code, const uint8_t *v, unsigned len)
{
	switch (code) {
	case OPT_TYPE:
		if (len != 1)
			return -1;
		m->type = v[0];
		break;
	case OPT_REQUESTED:
	case OPT_SERVER_ID:
		if (len != 4)
			return -1;
		*(code == OPT_REQUESTED ? &m->requested : &m->server_id) = get32(v);
		break;
	case OPT_CLIENT_ID:
		if (len < 2 || len > DHCP_CLIENT_ID_MAX)
			return -1;
		memcpy(m->client_id, v, len);
		m->client_id_len = len;
		break;
	case OPT_HOSTNAME:
		copy_hostname(m->hostname, sizeof(m->hostname), v, len);
		break;
	default:
		break; /* parameter request list and the rest: not needed */
	}
	return 0;
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
	size_t i = OPTIONS_AT;

	memset(m, 0, sizeof(*m));
	if (len < OPTIONS_AT || buf[0] != 1 /* BOOTREQUEST */ || get32(buf + BOOTP_HEADER) != MAGIC)
		return -1;
	m->htype = buf[1];
	m->hlen = buf[2];
	m->hops = buf[3];
	if (m->htype != 1 || m->hlen != 6) /* Ethernet only */
		return -1;
	m->xid = get32(buf + 4);
	m->secs = (uint16_t)(buf[8] << 8 | buf[9]);
	m->flags = (uint16_t)(buf[10] << 8 | buf[11]);
	m->ciaddr = get32(buf + 12);
	m->yiaddr = get32(buf + 16);
	m->siaddr = get32(buf + 20);
	m->giaddr = get32(buf + 24);
	memcpy(m->chaddr, buf + 28, 16);
	while (i < len && buf[i] != OPT_END) {
		uint8_t code = buf[i++];
		if (code == OPT_PAD)
			continue;
		if (i >= len || i + 1 + buf[i] > len)
			return -1; /* an option runs past the end */
		if (parse_option(m, code, buf + i + 1, buf[i]) < 0)
			return -1;
		i += 1u + buf[i];
	}
	return m->type >= DHCP_DISCOVER && m->type <= DHCP_INFORM ? 0 : -1;
}

/* Appends options to a reply; `room` keeps one byte for the END option. */
struct opt_writer {
	uint8_t *p, *end;
	int overflow;
};

static void opt_put(struct opt_writer *w, uint8_t code, const void *v, size_t len)
{
	if (len > 255 || (size_t)(w->end - w->p) < 2 + len + 1) {
		w->overflow = 1;
		return;
	}
	*w->p++ = code;
	*w->p++ = (uint8_t)len;
	memcpy(w->p, v, len);
	w->p += len;
}

static void opt_put32(struct opt_writer *w, uint8_t code, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	opt_put(w, code, b, 4);
}

size_t dhcp_build(uint8_t *buf, size_t size, const struct dhcp_msg *req, const struct dhcp_reply *rep)
{
	struct opt_writer w;
	uint8_t type = (uint8_t)rep->type, dns[4 * DHCP_MAX_DNS];
	size_t len;

	if (size < MIN_REPLY)
		return 0;
	memset(buf, 0, size);
	buf[0] = 2; /* BOOTREPLY */
	buf[1] = req->htype;
	buf[2] = req->hlen;
	put32(buf + 4, req->xid);
	buf[10] = (uint8_t)(req->flags >> 8); /* the broadcast flag is echoed */
	put32(buf + 12, rep->type == DHCP_NAK ? 0 : req->ciaddr);
	put32(buf + 16, rep->yiaddr);
	put32(buf + 24, req->giaddr);
	memcpy(buf + 28, req->chaddr, 16);
	put32(buf + BOOTP_HEADER, MAGIC);
	w.p = buf + OPTIONS_AT;
	w.end = buf + size;
	w.overflow = 0;
	opt_put(&w, OPT_TYPE, &type, 1);
	opt_put32(&w, OPT_SERVER_ID, rep->server_id);
	if (rep->lease_time) {
		opt_put32(&w, OPT_LEASE_TIME, rep->lease_time);
		opt_put32(&w, OPT_T1, rep->lease_time / 2);
		opt_put32(&w, OPT_T2, rep->lease_time / 8 * 7);
	}
	if (rep->type != DHCP_NAK) {
		if (rep->mask)
			opt_put32(&w, OPT_MASK, rep->mask);
		if (rep->router)
			opt_put32(&w, OPT_ROUTER, rep->router);
		for (unsigned i = 0; i < rep->ndns && i < DHCP_MAX_DNS; i++)
			put32(dns + 4 * i, rep->dns[i]);
		if (rep->ndns)
			opt_put(&w, OPT_DNS, dns, 4 * (rep->ndns < DHCP_MAX_DNS ? rep->ndns : DHCP_MAX_DNS));
	}
	if (rep->message)
		opt_put(&w, OPT_MESSAGE, rep->message, strlen(rep->message));
	if (w.overflow)
		return 0;
	*w.p++ = OPT_END;
	len = (size_t)(w.p - buf);
	return len < MIN_REPLY ? MIN_REPLY : len;
}

const char *dhcp_type_name(int type)
{
	static const char *const names[] = { "?",   "DISCOVER", "OFFER",   "REQUEST", "DECLINE",
					     "ACK", "NAK",      "RELEASE", "INFORM" };
	return type >= 1 && type <= 8 ? names[type] : names[0];
}

void dhcp_mac(const struct dhcp_msg *m, char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m->chaddr[0], m->chaddr[1],
		 m->chaddr[2], m->chaddr[3], m->chaddr[4], m->chaddr[5]);
}

void dhcp_owner(const struct dhcp_msg *m, char *buf, size_t size)
{
	size_t n;

	if (m->client_id_len == 0) {
		n = (size_t)snprintf(buf, size, "mac:");
		dhcp_mac(m, buf + n, size - n);
		return;
	}
	n = (size_t)snprintf(buf, size, "id:");
	for (unsigned i = 0; i < m->client_id_len && n + 3 <= size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%02x", m->client_id[i]);
}
