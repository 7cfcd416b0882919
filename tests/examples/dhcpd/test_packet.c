/* SPDX-License-Identifier: MIT */
/*
 * ipam-dhcpd's wire format without a network: a request parses into the
 * fields the server uses, every truncation of it and random corruptions
 * are refused or parsed within bounds (the sanitizer build checks the
 * reads), and a reply carries what the server put in it. Random runs print
 * their seed; replay with IPAM_TEST_SEED=N.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "packet.h"

static int failures;

#define EXPECT(cond)                                                                    \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                     \
		}                                                                       \
	} while (0)

/* A DISCOVER from 02:00:00:00:00:07 with client id, requested address,
 * host name (with characters to drop) and a parameter request list. */
static size_t make_discover(uint8_t *b)
{
	static const uint8_t opts[] = { 53, 1, 1,  61, 7, 1, 2, 0, 0, 0, 0, 7,
					50, 4, 10, 99, 0, 42, 12, 6, 'h', 'o', ';', 's', '\n', 't',
					55, 3, 1,  3, 6, 0, 0, 255 };
	memset(b, 0, 240);
	b[0] = 1;
	b[1] = 1;
	b[2] = 6;
	b[4] = 0xde, b[5] = 0xad, b[6] = 0xbe, b[7] = 0xef;
	b[10] = 0x80; /* broadcast flag */
	b[28] = 2, b[33] = 7;
	b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
	memcpy(b + 240, opts, sizeof(opts));
	return 240 + sizeof(opts);
}

static void parse_fields(void)
{
	uint8_t b[600];
	size_t n = make_discover(b);
	struct dhcp_msg m;
	char owner[300];

	EXPECT(dhcp_parse(b, n, &m) == 0);
	EXPECT(m.type == DHCP_DISCOVER);
	EXPECT(m.xid == 0xdeadbeefu);
	EXPECT(m.flags == DHCP_FLAG_BROADCAST);
	EXPECT(m.requested == (10u << 24 | 99u << 16 | 42u));
	EXPECT(m.client_id_len == 7);
	EXPECT(strcmp(m.hostname, "host") == 0);
	dhcp_owner(&m, owner, sizeof(owner));
	EXPECT(strcmp(owner, "id:01020000000007") == 0);
	m.client_id_len = 0;
	dhcp_owner(&m, owner, sizeof(owner));
	EXPECT(strcmp(owner, "mac:02:00:00:00:00:07") == 0);
	b[0] = 2; /* a BOOTREPLY is not a request */
	EXPECT(dhcp_parse(b, n, &m) < 0);
}

/* Every prefix of a valid message: the parse never reads past the end, and
 * accepts only prefixes that still hold a complete option list up to the
 * message type. */
static void truncations(void)
{
	uint8_t b[600];
	size_t n = make_discover(b);
	struct dhcp_msg m;

	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overruns */
		memcpy(copy, b, len);
		int r = dhcp_parse(copy, len, &m);
		EXPECT(len >= 243 || r < 0);
		free(copy);
	}
}

static void corruptions(void)
{
	const char *env = getenv("IPAM_TEST_SEED");
	uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	uint8_t b[600], reply[DHCP_REPLY_MAX];
	size_t n = make_discover(b);
	struct dhcp_msg m;
	struct dhcp_reply rep = { .type = DHCP_OFFER, .yiaddr = 1, .server_id = 2, .lease_time = 60 };

	printf("packet corruption: seed=%" PRIu64 " (replay with IPAM_TEST_SEED=%" PRIu64 ")\n", seed,
	       seed);
	srand((unsigned)seed);
	for (int i = 0; i < 200000; i++) {
		uint8_t *copy = malloc(n);
		memcpy(copy, b, n);
		for (int k = rand() % 4; k >= 0; k--)
			copy[240 + (size_t)rand() % (n - 240)] = (uint8_t)rand();
		if (dhcp_parse(copy, n, &m) == 0) {
			char owner[300];
			dhcp_owner(&m, owner, sizeof(owner));
			EXPECT(m.client_id_len <= DHCP_CLIENT_ID_MAX);
			EXPECT(strlen(m.hostname) < sizeof(m.hostname));
			EXPECT(dhcp_build(reply, sizeof(reply), &m, &rep) >= 300);
		}
		free(copy);
	}
}

static void build_reply(void)
{
	uint8_t b[600], out[DHCP_REPLY_MAX];
	struct dhcp_msg m;
	struct dhcp_reply rep = { .type = DHCP_ACK, .yiaddr = 0x0a63000a, .server_id = 0x0a630001,
				  .lease_time = 600, .mask = 0xffffff00, .router = 0x0a630001,
				  .dns = { 0x0a630035 }, .ndns = 1 };
	size_t len;

	EXPECT(dhcp_parse(b, make_discover(b), &m) == 0);
	len = dhcp_build(out, sizeof(out), &m, &rep);
	EXPECT(len == 300);
	EXPECT(out[0] == 2 && out[4] == 0xde && out[10] == 0x80);
	EXPECT(out[16] == 10 && out[17] == 99 && out[18] == 0 && out[19] == 10);
	EXPECT(out[33] == 7);
	/* Options: type ACK first, then the server id. */
	EXPECT(out[240] == 53 && out[241] == 1 && out[242] == DHCP_ACK);
	EXPECT(out[243] == 54 && out[245] == 10 && out[248] == 1);
	EXPECT(dhcp_build(out, 100, &m, &rep) == 0); /* too small: refused */
	EXPECT(strcmp(dhcp_type_name(DHCP_NAK), "NAK") == 0 && strcmp(dhcp_type_name(99), "?") == 0);
}

int main(void)
{
	parse_fields();
	truncations();
	corruptions();
	build_reply();
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
