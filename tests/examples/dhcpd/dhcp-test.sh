#!/bin/sh
# ipam-dhcpd against real DHCP clients (busybox udhcpc, ISC dhclient) in
# network namespaces. The server's namespace holds a bridge br0 with
# 10.99.0.1/24; every client namespace is joined to it by a veth pair
# (eth0 inside). Nothing is created in the caller's namespace, and a trap
# removes every namespace and process on exit.
#
# usage: dhcp-test.sh IPAM_DHCPD
# Exit 77 (skipped) if network namespaces cannot be made or a client is
# missing.
set -eu
dhcpd=$1
tag=ipd$$
srv=$tag-s
tmp=$(mktemp -d)
namespaces=""
server_pid=""
t0=$(date +%s)

skip() { echo "SKIP: $*"; exit 77; }
ok() { echo "ok - $* ($(($(date +%s) - t0)) s)"; }
fail() {
	echo "FAIL: $*"
	echo "--- server log (tail):"; tail -n 40 "$tmp/server.log" 2>/dev/null || true
	echo "--- status:"; cat "$tmp/status" 2>/dev/null || true
	exit 1
}

cleanup() {
	set +e
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	for ns in $namespaces; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	done
	for ns in $namespaces; do ip netns delete "$ns" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "no ip(8)"
command -v busybox >/dev/null && busybox udhcpc --help >/dev/null 2>&1 || skip "no busybox udhcpc"
command -v dhclient >/dev/null || skip "no dhclient (isc-dhcp-client)"
ip netns add "$srv" 2>/dev/null || skip "cannot create network namespaces"
namespaces=$srv
ip -n "$srv" link set lo up
ip -n "$srv" link add br0 type bridge 2>/dev/null || skip "cannot create a bridge in a namespace"
ip -n "$srv" link set br0 up
ip -n "$srv" addr add 10.99.0.1/24 dev br0

# client N: a namespace $tag-cN joined to the bridge, eth0 inside.
client() {
	ns=$tag-c$1
	ip netns add "$ns"
	namespaces="$namespaces $ns"
	ip link add "c$1" netns "$srv" type veth peer name eth0 netns "$ns"
	ip -n "$srv" link set "c$1" master br0 up
	ip -n "$ns" link set eth0 up
}
# addr N: the IPv4 address configured on client N's eth0 ("" if none).
addr() { ip -n "$tag-c$1" -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4 }'; }
# wait_for SECONDS COMMAND...: poll every 0.1 s.
wait_for() {
	n=$(($1 * 10)); shift
	while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
has() { grep -q -- "$2" "$1" 2>/dev/null; }
status_of() { awk -v a="$1" '$1 == a' "$tmp/status"; }  # "ADDR STATE OWNER EXPIRES"
expires_of() { status_of "$1" | awk '{ print $4 }'; }

lease_time=6
start_server() {
	ip netns exec "$srv" "$dhcpd" -i br0 -d "$tmp/state" -r 10.99.0.10-10.99.0.200 \
		-g 10.99.0.1 -D 10.99.0.53 -t $lease_time -G 1 -q 60 -s "$tmp/status" \
		>>"$tmp/server.log" 2>&1 &
	server_pid=$!
	wait_for 5 has "$tmp/server.log" "serving" || fail "server did not start"
}

# udhcpc's event script: configure the address, log the event.
cat >"$tmp/udhcpc.sh" <<'EOF'
#!/bin/sh
case $1 in
deconfig) ip addr flush dev "$interface" ;;
bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;
esac
echo "$1 $ip $router $dns $lease" >>"$EVENTS"
EOF
# dhclient's: the same, from dhclient-script's variables (dhclient passes
# no environment through, so the event file is written in).
cat >"$tmp/dhclient.sh" <<EOF
#!/bin/sh
plen() { n=0; for o in \$(echo "\$1" | tr . ' '); do while [ "\$o" -gt 0 ]; do n=\$((n + (o & 1))); o=\$((o >> 1)); done; done; echo \$n; }
case \$reason in
BOUND|RENEW|REBIND|REBOOT)
	ip addr replace "\$new_ip_address/\$(plen "\$new_subnet_mask")" dev "\$interface" ;;
EXPIRE|FAIL|RELEASE|STOP)
	[ -n "\$old_ip_address" ] && ip addr del "\$old_ip_address/\$(plen "\$old_subnet_mask")" dev "\$interface" ;;
esac
echo "\$reason \$new_ip_address" >>"$tmp/dhclient.events"
exit 0
EOF
chmod +x "$tmp/udhcpc.sh" "$tmp/dhclient.sh"
printf 'timeout 10;\nretry 1;\ninitial-interval 1;\nbackoff-cutoff 1;\n' >"$tmp/dhclient.conf"

# udhcpc N ARGS...: run busybox udhcpc in client N's namespace.
udhcpc() {
	n=$1; shift
	EVENTS=$tmp/ev$n ip netns exec "$tag-c$n" busybox udhcpc -i eth0 -f -t 5 -T 1 -A 1 \
		-s "$tmp/udhcpc.sh" "$@"
}
dhclient_in() {
	n=$1; shift
	ip netns exec "$tag-c$n" dhclient -cf "$tmp/dhclient.conf" -sf "$tmp/dhclient.sh" \
		-pf "$tmp/dhclient$n.pid" -lf "$tmp/dhclient$n.leases" "$@" eth0
}

start_server
client 1
client 2

# ---- udhcpc: obtain, configure, renew, release, return -----------------------
udhcpc 1 -R -p "$tmp/u1.pid" >"$tmp/u1.log" 2>&1 &
wait_for 10 has "$tmp/ev1" "^bound " || fail "udhcpc got no lease"
ip1=$(awk '/^bound/ { print $2 }' "$tmp/ev1")
[ "$(addr 1)" = "$ip1" ] || fail "udhcpc's address $ip1 is not on its eth0 ($(addr 1))"
has "$tmp/ev1" "^bound $ip1 10.99.0.1 10.99.0.53 $lease_time\$" || fail "options: $(cat "$tmp/ev1")"
owner1=$(status_of "$ip1" | awk '{ print $3 }')
status_of "$ip1" | grep -q "^$ip1 bound id:01" || fail "no bound lease for $ip1 by client id"
ok "udhcpc obtained $ip1 (owner $owner1), configured on eth0, router and DNS options"

e1=$(expires_of "$ip1")
sleep 1.2
kill -USR1 "$(cat "$tmp/u1.pid")"
wait_for 5 has "$tmp/ev1" "^renew $ip1" || fail "udhcpc did not renew"
wait_for 2 test "$(expires_of "$ip1")" -gt "$e1" || fail "renewal did not extend $e1"
has "$tmp/server.log" "ACK $ip1 to $owner1 (renewed" || fail "no renewal ACK"
ok "udhcpc renewed: lease extended from $e1 to $(expires_of "$ip1")"

kill "$(cat "$tmp/u1.pid")"
wait_for 5 has "$tmp/server.log" "RELEASED $ip1 by $owner1" || fail "no release"
wait_for 2 test "$(status_of "$ip1" | awk '{ print $2 }')" = quarantined || fail "not released"
wait_for 2 test -z "$(addr 1)" || fail "address still on eth0 after release"
ok "udhcpc released $ip1: quarantined in the server, removed from eth0"

udhcpc 1 -n -q >"$tmp/u1b.log" 2>&1 || fail "udhcpc could not come back: $(cat "$tmp/u1b.log")"
[ "$(addr 1)" = "$ip1" ] || fail "returning client got $(addr 1), not $ip1"
ok "returning udhcpc client got $ip1 again"

# ---- dhclient: obtain, configure, renew by itself at T1 ----------------------------
dhclient_in 2 -1 >"$tmp/dh2.log" 2>&1 || fail "dhclient got no lease: $(cat "$tmp/dh2.log")"
ip2=$(awk '/^(BOUND|REBOOT)/ { a = $2 } END { print a }' "$tmp/dhclient.events")
[ -n "$ip2" ] && [ "$(addr 2)" = "$ip2" ] || fail "dhclient's address ${ip2:-none} is not on eth0"
[ "$ip2" != "$ip1" ] || fail "two clients got $ip1"
owner2=$(status_of "$ip2" | awk '{ print $3 }')
case $owner2 in mac:*) ;; *) fail "dhclient's lease owner is $owner2" ;; esac
ok "dhclient obtained $ip2 (owner $owner2), configured on eth0"
e2=$(expires_of "$ip2")
wait_for 8 has "$tmp/server.log" "ACK $ip2 to $owner2 (renewed" || fail "dhclient did not renew"
wait_for 2 test "$(expires_of "$ip2")" -gt "$e2" || fail "dhclient's renewal did not extend $e2"
ok "dhclient renewed at T1: lease extended from $e2 to $(expires_of "$ip2")"

# ---- restart: every lease survives; clients keep their addresses -------------------
sort "$tmp/status" >"$tmp/status.before" # leases are listed in no particular order
kill "$server_pid"
wait "$server_pid" || fail "server exited with an error"
server_pid=""
: >"$tmp/status"
start_server
wait_for 2 test -s "$tmp/status" || fail "no status after restart"
sort "$tmp/status" >"$tmp/status.after"
cmp -s "$tmp/status.before" "$tmp/status.after" ||
	fail "leases differ after restart: $(diff "$tmp/status.before" "$tmp/status.after")"
ok "server restarted with the same $(wc -l <"$tmp/status") leases"
mark=$(wc -l <"$tmp/server.log")
wait_for 8 sh -c "tail -n +$mark '$tmp/server.log' | grep -q 'ACK $ip2 to $owner2 (renewed'" ||
	fail "dhclient did not renew with the restarted server"
[ "$(addr 2)" = "$ip2" ] || fail "dhclient lost $ip2"
udhcpc 1 -n -q >"$tmp/u1c.log" 2>&1 || fail "udhcpc after restart: $(cat "$tmp/u1c.log")"
[ "$(addr 1)" = "$ip1" ] || fail "udhcpc got $(addr 1) after the restart, not $ip1"
ok "after the restart dhclient renewed $ip2 and udhcpc got $ip1 again"

# ---- release by dhclient -------------------------------------------------------------
dhclient_in 2 -r >>"$tmp/dh2.log" 2>&1 || fail "dhclient -r failed"
wait_for 5 has "$tmp/server.log" "RELEASED $ip2 by $owner2" || fail "dhclient's release not seen"
wait_for 2 test -z "$(addr 2)" || fail "dhclient left $ip2 on eth0"
ok "dhclient released $ip2"

# ---- DECLINE: an address already in use on the wire ------------------------------------
client 3
client 4
ip -n "$tag-c3" addr add 10.99.0.150/24 dev eth0 # a squatter the server does not know
udhcpc 4 -n -q -a500 -r 10.99.0.150 >"$tmp/u4.log" 2>&1 || fail "udhcpc -a: $(cat "$tmp/u4.log")"
has "$tmp/server.log" "DECLINED 10.99.0.150" || fail "no DECLINE of the squatted address"
ip4=$(addr 4)
[ -n "$ip4" ] && [ "$ip4" != 10.99.0.150 ] || fail "declining client got ${ip4:-nothing}"
status_of 10.99.0.150 | grep -q "^10.99.0.150 reserved declined by " || fail "declined address not pinned"
ok "a client declined 10.99.0.150 (in use), got $ip4; .150 is held back"

# ---- 50 clients at once ---------------------------------------------------------------------
i=10
while [ $i -lt 60 ]; do client $i; i=$((i + 1)); done
ok "50 more namespaces on the bridge"
i=10
while [ $i -lt 60 ]; do
	udhcpc $i -n -q -t 10 >"$tmp/u$i.log" 2>&1 &
	i=$((i + 1))
done
wait_for 30 sh -c "[ \$(cat $tmp/ev[1-5][0-9] 2>/dev/null | grep -c '^bound') -ge 50 ]" ||
	fail "only $(cat "$tmp"/ev[1-5][0-9] 2>/dev/null | grep -c '^bound') of 50 clients bound"
sleep 0.3
i=10
: >"$tmp/addrs"
while [ $i -lt 60 ]; do
	a=$(addr $i)
	[ -n "$a" ] || fail "client $i has no address: $(cat "$tmp/u$i.log")"
	status_of "$a" | grep -q " bound " || fail "client $i's $a is not bound in the server"
	echo "$a" >>"$tmp/addrs"
	i=$((i + 1))
done
echo "$ip1" >>"$tmp/addrs"
echo "$ip4" >>"$tmp/addrs"
[ "$(sort -u "$tmp/addrs" | wc -l)" -eq 52 ] || fail "addresses are not distinct: $(sort "$tmp/addrs" | uniq -d)"
ok "50 clients at once: 50 distinct addresses, each on its interface and bound in the server"

# ---- expiry: leases not renewed are reclaimed by the GC pass -----------------------------------
# udhcpc -q took $ip1 after the restart and never renews it.
wait_for 15 sh -c "tail -n +$mark '$tmp/server.log' | grep -q 'EXPIRED $ip1 of $owner1 reclaimed'" ||
	fail "$ip1 never expired"
wait_for 10 sh -c "grep -q '^$ip1 quarantined ' '$tmp/status'" || fail "expired $ip1 is not quarantined"
ok "$ip1 (not renewed) expired and was reclaimed by the GC pass"
kill "$server_pid"
wait "$server_pid" || fail "server exited with an error"
server_pid=""
echo "all DHCP checks passed in $(($(date +%s) - t0)) s"
