/* SPDX-License-Identifier: MIT */
/*
 * The DHCP server's decisions, each one a libipam call.
 *
 * A client is a libipam owner ("id:<client-id>" or "mac:<chaddr>") with
 * one lease per server interface (the lease's ifname). The mapping:
 * - DISCOVER: the owner's bound lease, or ipam_allocate() with a short TTL
 *   (the offer hold) and the requested address as a hint. Allocation is
 *   idempotent and sticky, so a client that returns after a RELEASE or an
 *   expiry gets its old address back (the pool's quarantine keeps it for
 *   its previous owner).
 * - REQUEST: the owner's lease must be the address asked for (else NAK);
 *   ipam_renew() then extends it to the full lease time. A client the
 *   server has no record of (an INIT-REBOOT after the state was lost) gets
 *   the address it asks for if it is free: ipam_allocate() with `exact`.
 * - RELEASE: ipam_release_owner(): the address enters the quarantine.
 * - DECLINE (the client found the address in use on the wire): released,
 *   then pinned with ipam_reserve() under a "declined" note, because the
 *   quarantine alone would hand it straight back to the same client; the
 *   GC tick unpins it after the quarantine time.
 * - Expiry: the GC pass with the built-in expiry oracle (dhcpd_gc).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dhcpd.h"

#define DECLINED_PREFIX "declined by "

static uint32_t lease_ip(const ipam_lease *l)
{
	return (uint32_t)l->addr.lo;
}

static void reply(const struct dhcpd *d, struct dhcp_reply *rep, int type, uint32_t yiaddr,
		  uint32_t lease_time)
{
	memset(rep, 0, sizeof(*rep));
	rep->type = type;
	rep->yiaddr = yiaddr;
	rep->server_id = d->server_ip;
	rep->lease_time = lease_time;
	rep->mask = d->mask;
	rep->router = d->router;
	memcpy(rep->dns, d->dns, sizeof(rep->dns));
	rep->ndns = d->ndns;
}

static int nak(const struct dhcpd *d, struct dhcp_reply *rep, const char *owner, const char *why)
{
	reply(d, rep, DHCP_NAK, 0, 0);
	rep->message = why;
	dhcpd_log("NAK to %s: %s", owner, why);
	return 1;
}

/* The owner's bound lease on this interface: 1 (in *l), 0 if none, or a
 * negative code. */
static int owner_lease(struct dhcpd *d, const char *owner, ipam_lease *l)
{
	unsigned n = 1;
	int r = ipam_lookup_owner(d->ctx, DHCPD_SET, owner, d->ifname, l, &n);
	return r < 0 ? r : n > 0;
}

static int allocatable(const struct dhcpd *d, uint32_t ip)
{
	ipam_addr a = ipam_addr_v4(ip);
	return ip != 0 && ipam_pool_is_allocatable(d->pool, &a);
}

/* A new lease for owner: `want` as a hint, or exactly (exact != 0). */
static int take(struct dhcpd *d, const struct dhcp_msg *m, const char *owner, uint32_t want,
		int exact, uint32_t ttl, ipam_lease *out)
{
	char mac[24], attachment[32];
	ipam_addr a = ipam_addr_v4(want);
	ipam_attr attrs[2];
	ipam_request req = { .poolset = DHCPD_SET, .owner = owner, .ifname = d->ifname,
			     .attachment = attachment, .ttl = ttl, .attrs = attrs };
	unsigned n = 1;

	dhcp_mac(m, mac, sizeof(mac));
	snprintf(attachment, sizeof(attachment), "mac:%s", mac);
	memset(attrs, 0, sizeof(attrs));
	snprintf(attrs[0].key, sizeof(attrs[0].key), "mac");
	snprintf(attrs[0].value, sizeof(attrs[0].value), "%s", mac);
	req.nattrs = 1;
	if (m->hostname[0]) {
		snprintf(attrs[1].key, sizeof(attrs[1].key), "hostname");
		snprintf(attrs[1].value, sizeof(attrs[1].value), "%s", m->hostname);
		req.nattrs = 2;
	}
	if (allocatable(d, want)) {
		if (exact) {
			req.exact = &a;
			req.nexact = 1;
		} else {
			req.hints = &a;
			req.nhints = 1;
		}
	} else if (exact) {
		return -EACCES;
	}
	d->changed = 1;
	return ipam_allocate(d->ctx, &req, out, &n);
}

static int on_discover(struct dhcpd *d, const struct dhcp_msg *m, const char *owner,
		       struct dhcp_reply *rep)
{
	ipam_lease l;
	int r = owner_lease(d, owner, &l);

	if (r == 0)
		r = take(d, m, owner, m->requested, 0, d->offer_time, &l);
	if (r < 0) {
		/* No OFFER: the client retries, perhaps after a GC pass. */
		dhcpd_log("no address for %s: %s (%s)", owner, ipam_strerror(r),
			  ipam_last_error_message());
		return 0;
	}
	reply(d, rep, DHCP_OFFER, lease_ip(&l), d->lease_time);
	dhcpd_log("OFFER %s to %s", dhcpd_ip(lease_ip(&l)), owner);
	return 1;
}

static int on_request(struct dhcpd *d, const struct dhcp_msg *m, const char *owner,
		      struct dhcp_reply *rep)
{
	uint32_t want = m->requested ? m->requested : m->ciaddr;
	const char *how = m->ciaddr ? "renewed" : "bound";
	ipam_lease l;
	int r;

	if (m->server_id && m->server_id != d->server_ip) {
		/* The client took another server's offer; ours expires. */
		dhcpd_log("REQUEST from %s for server %s: not us", owner, dhcpd_ip(m->server_id));
		return 0;
	}
	if (!want)
		return nak(d, rep, owner, "no address requested");
	r = owner_lease(d, owner, &l);
	if (r > 0 && lease_ip(&l) != want)
		return nak(d, rep, owner, "that is not your address");
	if (r > 0) {
		d->changed = 1;
		r = ipam_renew(d->ctx, DHCPD_SET, owner, d->ifname, d->lease_time);
		if (r >= 0)
			r = owner_lease(d, owner, &l);
	} else if (r == 0) {
		if (!allocatable(d, want))
			return nak(d, rep, owner, "address not on this network");
		r = take(d, m, owner, want, 1, d->lease_time, &l);
		how = "re-bound";
	}
	if (r <= 0) {
		dhcpd_log("REQUEST from %s for %s failed: %s", owner, dhcpd_ip(want),
			  r ? ipam_strerror(r) : "lease vanished");
		return nak(d, rep, owner, "address not available");
	}
	reply(d, rep, DHCP_ACK, lease_ip(&l), d->lease_time);
	dhcpd_log("ACK %s to %s (%s, expires %" PRId64 ")", dhcpd_ip(lease_ip(&l)), owner, how,
		  l.expires);
	return 1;
}

/* RELEASE (ciaddr) and DECLINE (requested address): only the owner's own
 * lease is touched, so a forged message cannot free someone else's. */
static int on_release(struct dhcpd *d, const struct dhcp_msg *m, const char *owner, int decline)
{
	uint32_t ip = decline ? m->requested : m->ciaddr;
	char note[IPAM_OWNER_MAX + 1];
	ipam_addr a = ipam_addr_v4(ip);
	ipam_lease l;
	int r = owner_lease(d, owner, &l);

	if (r <= 0 || lease_ip(&l) != ip) {
		dhcpd_log("%s from %s for %s: no such lease", decline ? "DECLINE" : "RELEASE", owner,
			  dhcpd_ip(ip));
		return 0;
	}
	d->changed = 1;
	r = ipam_release_owner(d->ctx, DHCPD_SET, owner, d->ifname);
	if (r >= 0 && decline) {
		snprintf(note, sizeof(note), DECLINED_PREFIX "%s", owner);
		r = ipam_reserve(d->ctx, DHCPD_SET, &a, note);
	}
	if (r < 0)
		dhcpd_log("%s of %s failed: %s", decline ? "DECLINE" : "RELEASE", dhcpd_ip(ip),
			  ipam_strerror(r));
	else
		dhcpd_log("%s %s by %s", decline ? "DECLINED" : "RELEASED", dhcpd_ip(ip), owner);
	return 0;
}

int dhcpd_serve(struct dhcpd *d, const struct dhcp_msg *m, struct dhcp_reply *rep)
{
	char owner[IPAM_OWNER_MAX + 1];

	dhcp_owner(m, owner, sizeof(owner));
	switch ((enum dhcp_type)m->type) {
	case DHCP_DISCOVER:
		return on_discover(d, m, owner, rep);
	case DHCP_REQUEST:
		return on_request(d, m, owner, rep);
	case DHCP_RELEASE:
		return on_release(d, m, owner, 0);
	case DHCP_DECLINE:
		return on_release(d, m, owner, 1);
	case DHCP_INFORM:
		/* Configuration only: no lease, no address. */
		reply(d, rep, DHCP_ACK, 0, 0);
		dhcpd_log("ACK (inform) to %s at %s", owner, dhcpd_ip(m->ciaddr));
		return 1;
	case DHCP_OFFER:
	case DHCP_ACK:
	case DHCP_NAK:
		break;
	}
	return 0;
}

/* ---- the periodic pass ---------------------------------------------------- */

struct unpin {
	struct dhcpd *d;
	int64_t before; /* declined before this unix time */
};

static int unpin_declined(void *ud, const ipam_lease *l)
{
	struct unpin *u = ud;

	if (strncmp(l->owner, DECLINED_PREFIX, strlen(DECLINED_PREFIX)) == 0 &&
	    l->created <= u->before && ipam_unreserve(u->d->ctx, DHCPD_SET, &l->addr) == 0) {
		u->d->changed = 1;
		dhcpd_log("UNPINNED %s (declined at %" PRId64 ")", dhcpd_ip(lease_ip(l)), l->created);
	}
	return 0;
}

void dhcpd_gc(struct dhcpd *d, const ipam_gc_oracle *expiry)
{
	ipam_gc_policy p;
	ipam_gc_report *rep = NULL;
	ipam_lease_filter f = { .states = 1u << IPAM_LEASE_RESERVED };
	struct unpin u = { d, (int64_t)time(NULL) - d->quarantine };
	int r;

	/* Expiry is a fact, not a guess: reclaim at once, no second look. */
	ipam_gc_policy_init(&p);
	p.min_age = 0;
	p.two_observations = 0;
	r = ipam_gc(d->ctx, DHCPD_SET, expiry, &p, &rep);
	if (r < 0) {
		dhcpd_log("gc: %s", ipam_strerror(r));
	} else {
		for (unsigned i = 0; i < rep->nentries; i++) {
			const ipam_gc_entry *e = &rep->entries[i];
			if (e->outcome != IPAM_GC_RECLAIMED)
				continue;
			d->changed = 1;
			dhcpd_log("EXPIRED %s of %s reclaimed", dhcpd_ip((uint32_t)e->addr.lo), e->owner);
		}
	}
	ipam_gc_report_free(rep);
	ipam_foreach_lease(d->ctx, DHCPD_SET, &f, unpin_declined, &u);
}
