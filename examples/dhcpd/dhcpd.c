/* SPDX-License-Identifier: MIT */
/*
 * ipam-dhcpd: a small DHCPv4 server for one interface, on libipam.
 *
 * usage: ipam-dhcpd -i IFACE -d STATE_DIR [-r FIRST-LAST] [-g ROUTER] [-D DNS]...
 *                   [-t LEASE_SECONDS] [-o OFFER_SECONDS] [-q QUARANTINE_SECONDS]
 *                   [-G GC_SECONDS] [-s STATUS_FILE]
 *
 * The server's address and subnet are the interface's. Leases live in a
 * libipam file store in STATE_DIR, so a restart keeps every lease. The
 * status file (rewritten after every change) lists one lease per line:
 *   ADDRESS STATE OWNER EXPIRES
 *
 * Sockets: one UDP socket on port 67, bound to the interface with
 * SO_BINDTODEVICE. A client without an address cannot be reached by
 * unicast before it has one (that needs an ARP entry or a raw socket), so
 * replies go to 255.255.255.255 on the interface (IP_PKTINFO picks it)
 * unless the client already has an address (ciaddr: renewing, INFORM).
 * Relayed messages (giaddr) are not served: one interface, no relays.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dhcpd.h"

#define CLIENT_PORT 68
#define SERVER_PORT 67

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

void dhcpd_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld.%03ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

const char *dhcpd_ip(uint32_t a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static unsigned next;
	char *b = buf[next++ % 4];
	snprintf(b, INET_ADDRSTRLEN, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
	return b;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "ipam-dhcpd: %s: %s%s%s\n", what, r < 0 ? ipam_strerror(r) : strerror(errno),
		r < 0 ? ": " : "", r < 0 ? ipam_last_error_message() : "");
	exit(EXIT_FAILURE);
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "ipam-dhcpd: not an IPv4 address: %s\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

static uint32_t parse_secs(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v == 0 || v > 86400 * 365) {
		fprintf(stderr, "ipam-dhcpd: not a number of seconds: %s\n", s);
		exit(2);
	}
	return (uint32_t)v;
}

/* The interface's IPv4 address and netmask. */
static void interface_address(const char *ifname, uint32_t *ip, uint32_t *mask)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFADDR, &ifr) < 0)
		die(ifname, 0);
	*ip = ntohl(((struct sockaddr_in *)(void *)&ifr.ifr_addr)->sin_addr.s_addr);
	if (ioctl(s, SIOCGIFNETMASK, &ifr) < 0)
		die(ifname, 0);
	*mask = ntohl(((struct sockaddr_in *)(void *)&ifr.ifr_netmask)->sin_addr.s_addr);
	close(s);
}

static int open_socket(const char *ifname)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(SERVER_PORT) };
	int one = 1, s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("socket on port 67", 0);
	return s;
}

/* The scope: the interface's subnet, optionally narrowed to a range, minus
 * the server's own address; router and DNS servers come with the pool. */
static void define_pool(struct dhcpd *d, const char *range, const char *const *dns, unsigned ndns)
{
	ipam_poolset *set;
	ipam_pool *pool;
	ipam_prefix subnet;
	ipam_range r;
	ipam_addr a;
	unsigned len = 0;
	int e;

	for (uint32_t m = d->mask; m & 0x80000000u; m <<= 1)
		len++;
	a = ipam_addr_v4(d->server_ip & d->mask);
	if ((e = ipam_prefix_make(&a, len, &subnet)) < 0 || (e = ipam_pool_new(&pool, DHCPD_POOL, &subnet)) < 0)
		die("subnet", e);
	if (range && ((e = ipam_range_parse(range, &r)) < 0 || (e = ipam_pool_add_range(pool, &r)) < 0))
		die("range", e);
	a = ipam_addr_v4(d->server_ip);
	if (ipam_pool_is_allocatable(pool, &a)) {
		ipam_range_make(&a, &a, &r);
		if ((e = ipam_pool_add_exclude(pool, &r)) < 0)
			die("server address", e);
	}
	if (d->router) {
		a = ipam_addr_v4(d->router);
		if ((e = ipam_pool_set_gateway(pool, &a)) < 0)
			die("router", e);
	}
	for (unsigned i = 0; i < ndns; i++) {
		if ((e = ipam_addr_parse(dns[i], &a)) < 0 || (e = ipam_pool_add_dns_server(pool, &a)) < 0)
			die("dns", e);
		d->dns[d->ndns++] = (uint32_t)a.lo;
	}
	if ((e = ipam_pool_set_quarantine(pool, d->quarantine, 0, 0)) < 0)
		die("quarantine", e);
	if ((e = ipam_poolset_new(&set, DHCPD_SET)) < 0 || (e = ipam_poolset_add(set, pool)) < 0 ||
	    (e = ipam_ctx_add_poolset(d->ctx, set)) < 0)
		die("pool set", e);
	d->pool = ipam_poolset_find(ipam_ctx_poolset(d->ctx, DHCPD_SET), DHCPD_POOL);
}

static int status_line(void *ud, const ipam_lease *l)
{
	fprintf(ud, "%s %s %s %" PRId64 "\n", dhcpd_ip((uint32_t)l->addr.lo),
		ipam_lease_state_name(l->state), l->owner, l->expires);
	return 0;
}

/* Rewrite the status file whole (a reader never sees half of it). */
static void write_status(struct dhcpd *d)
{
	const char *path = d->status;
	char tmp[4096];
	FILE *f;

	d->changed = 0;
	if (!path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w"))) {
		dhcpd_log("status %s: %s", tmp, strerror(errno));
		return;
	}
	ipam_foreach_lease(d->ctx, DHCPD_SET, NULL, status_line, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		dhcpd_log("status %s: %s", path, strerror(errno));
}

static void send_reply(int sock, int ifindex, const struct dhcpd *d, const struct dhcp_msg *m,
		       const struct dhcp_reply *rep)
{
	uint8_t buf[DHCP_REPLY_MAX];
	size_t len = dhcp_build(buf, sizeof(buf), m, rep);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(CLIENT_PORT) };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
			     .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct in_pktinfo pi = { .ipi_ifindex = ifindex };

	if (len == 0)
		return;
	/* RFC 2131 4.1: a client with an address gets unicast, a NAK and a
	 * client without one get the broadcast. */
	if (m->ciaddr && rep->type != DHCP_NAK && !(m->flags & DHCP_FLAG_BROADCAST))
		to.sin_addr.s_addr = htonl(m->ciaddr);
	else
		to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
	pi.ipi_spec_dst.s_addr = htonl(d->server_ip);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	if (sendmsg(sock, &mh, 0) < 0)
		dhcpd_log("send to %s: %s", inet_ntoa(to.sin_addr), strerror(errno));
}

static void receive_one(int sock, int ifindex, struct dhcpd *d)
{
	uint8_t buf[1500];
	struct dhcp_msg m;
	struct dhcp_reply rep;
	char mac[24];
	ssize_t n = recv(sock, buf, sizeof(buf), 0);

	if (n < 0 || dhcp_parse(buf, (size_t)n, &m) < 0)
		return; /* not a DHCP request: ignored */
	if (m.giaddr) {
		dhcpd_log("relayed message via %s ignored", dhcpd_ip(m.giaddr));
		return;
	}
	dhcp_mac(&m, mac, sizeof(mac));
	dhcpd_log("%s from %s%s%s", dhcp_type_name(m.type), mac, m.ciaddr ? " ciaddr " : "",
		  m.ciaddr ? dhcpd_ip(m.ciaddr) : "");
	if (dhcpd_serve(d, &m, &rep)) {
		/* The status shows a lease before its client hears of it. */
		if (d->changed)
			write_status(d);
		send_reply(sock, ifindex, d, &m, &rep);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: ipam-dhcpd -i IFACE -d STATE_DIR [-r FIRST-LAST] [-g ROUTER] "
			"[-D DNS]... [-t LEASE] [-o OFFER] [-q QUARANTINE] [-G GC] [-s STATUS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct dhcpd d = { .lease_time = 3600, .offer_time = 30, .quarantine = 600 };
	const char *dir = NULL, *range = NULL, *dns[DHCP_MAX_DNS];
	unsigned ndns = 0, gc_every = 10;
	struct sigaction sa;
	ipam_pool_stats ps;
	ipam_gc_oracle *expiry;
	int c, e, sock, ifindex;
	int64_t next_gc;

	while ((c = getopt(argc, argv, "i:d:r:g:D:t:o:q:G:s:")) != -1) {
		switch (c) {
		case 'i': d.ifname = optarg; break;
		case 'd': dir = optarg; break;
		case 'r': range = optarg; break;
		case 'g': d.router = parse_ip(optarg); break;
		case 'D':
			if (ndns == DHCP_MAX_DNS)
				usage();
			dns[ndns++] = optarg;
			break;
		case 't': d.lease_time = parse_secs(optarg); break;
		case 'o': d.offer_time = parse_secs(optarg); break;
		case 'q': d.quarantine = parse_secs(optarg); break;
		case 'G': gc_every = parse_secs(optarg); break;
		case 's': d.status = optarg; break;
		default: usage();
		}
	}
	if (!d.ifname || !dir || optind != argc || strlen(d.ifname) > IPAM_IFNAME_MAX)
		usage();
	if (!(ifindex = (int)if_nametoindex(d.ifname)))
		die(d.ifname, 0);
	interface_address(d.ifname, &d.server_ip, &d.mask);

	if ((e = ipam_store_file_new(&d.store, dir, NULL)) < 0 || (e = ipam_ctx_new(&d.ctx, d.store, NULL)) < 0)
		die(dir, e);
	define_pool(&d, range, dns, ndns); /* loads the leases committed before */
	if ((e = ipam_gc_expiry_new(&expiry, 0)) < 0)
		die("expiry oracle", e);
	sock = open_socket(d.ifname);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	write_status(&d);
	ipam_pool_stats_get(d.ctx, DHCPD_SET, DHCPD_POOL, &ps);
	dhcpd_log("serving %s on %s, lease %" PRIu32 " s, %" PRIu64 " addresses, %" PRIu64
		  " in use, %" PRIu64 " quarantined", dhcpd_ip(d.server_ip), d.ifname, d.lease_time,
		  ps.total.lo, ps.used.lo, ps.quarantined.lo);
	next_gc = now_ms() + gc_every * 1000;
	while (!stop) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		int64_t wait = next_gc - now_ms();
		if (poll(&pfd, 1, wait > 0 ? (int)wait : 0) > 0 && (pfd.revents & POLLIN))
			receive_one(sock, ifindex, &d);
		if (now_ms() >= next_gc) {
			dhcpd_gc(&d, expiry);
			next_gc = now_ms() + gc_every * 1000;
		}
		if (d.changed)
			write_status(&d);
	}
	dhcpd_log("stopping");
	close(sock);
	ipam_gc_oracle_free(expiry);
	ipam_ctx_free(d.ctx);
	ipam_store_free(d.store);
	return 0;
}
