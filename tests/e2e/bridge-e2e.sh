#!/bin/bash
# End to end under Debian's real CNI plugins: bridge (and macvlan on a
# dummy parent link,
# or a veth end where the kernel has no dummy driver) with ipam-cni as their IPAM, in network namespaces
# this script creates and always removes. For IPv4, IPv6 and dual-stack:
# after ADD the address is on eth0 inside the namespace and the gateway
# (the bridge, on the host side of our own namespace pair) answers ping;
# after DEL it is gone and free again.
# usage: bridge-e2e.sh IPAM_CNI_BINARY
# Exit 77 (skipped) only where namespaces cannot be created.
set -u
ipam_cni=$1
plugins=/usr/lib/cni
id=$$
host=ipamh$id          # plays the node: the bridge lives here
pods=()
tmp=$(mktemp -d)
fail=0

cleanup() {
	for p in "${pods[@]}"; do ip netns del "$p" 2>/dev/null; done
	ip netns del "$host" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! ip netns add "$host" 2>/dev/null; then
	echo "SKIP: cannot create network namespaces here (need root and netns support)"
	exit 77
fi
for p in bridge macvlan; do
	[ -x "$plugins/$p" ] || { echo "FAIL: $plugins/$p missing (containernetworking-plugins)"; exit 1; }
done
mkdir -p "$tmp/bin"
cp "$ipam_cni" "$tmp/bin/ipam-cni"
ln -s "$plugins/bridge" "$tmp/bin/bridge"
ln -s "$plugins/macvlan" "$tmp/bin/macvlan"
ip netns exec "$host" ip link set lo up
ip netns exec "$host" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 2>/dev/null

# cni VERB NETNS IFNAME CONTAINERID CONFIG: run the main plugin inside the
# host namespace, as a runtime on that node would.
cni() {
	local verb=$1 netns=$2 ifname=$3 cid=$4 conf=$5
	printf '%s' "$conf" | ip netns exec "$host" env CNI_COMMAND="$verb" CNI_CONTAINERID="$cid" \
		CNI_NETNS="/var/run/netns/$netns" CNI_IFNAME="$ifname" CNI_PATH="$tmp/bin" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=$netns;K8S_POD_UID=uid-$netns" \
		"$tmp/bin/$(printf '%s' "$conf" | sed -n 's/.*"type" *: *"\(bridge\|macvlan\)".*/\1/p')"
}

check() { # DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@" >/dev/null 2>&1; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

run_case() { # NAME MAIN-PLUGIN FAMILY RANGES GATEWAYS...
	local name=$1 plugin=$2 ranges=$3; shift 3
	local pod=ipamp${id}$name store="$tmp/store-$name" conf
	pods+=("$pod")
	ip netns add "$pod"
	if [ "$plugin" = bridge ]; then
		conf='{"cniVersion":"1.0.0","name":"e2e-'$name'","type":"bridge","bridge":"br'$name$id'","isGateway":true,"ipMasq":false,"ipam":{"type":"ipam-cni","ranges":'$ranges',"dataDir":"'$store'"}}'
	else
		# The parent link: a dummy where the kernel has the driver, else
		# one end of a veth pair (this kernel may lack "dummy").
		ip netns exec "$host" ip link add "dm$name" type dummy 2>/dev/null ||
			ip netns exec "$host" ip link add "dm$name" type veth peer name "dp$name"
		ip netns exec "$host" ip link set "dm$name" up
		ip netns exec "$host" ip link set "dp$name" up 2>/dev/null
		conf='{"cniVersion":"1.0.0","name":"e2e-'$name'","type":"macvlan","master":"dm'$name'","mode":"bridge","ipam":{"type":"ipam-cni","ranges":'$ranges',"dataDir":"'$store'"}}'
	fi
	local out
	out=$(cni ADD "$pod" eth0 "cid-$name-1" "$conf")
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: $name ADD exited $rc: $out"; fail=1; return
	fi
	echo "$name ADD: $(printf '%s' "$out" | tr -d '\n' | cut -c1-300)"
	for gw in "$@"; do
		local addr
		addr=$(printf '%s' "$out" | tr -d ' \n' | grep -o '"address":"[^"]*' | cut -d'"' -f4 | grep -F "$( [ "${gw#*:}" != "$gw" ] && echo : || echo . )" | head -n1)
		addr=${addr%/*}
		check "$name: $addr is on eth0 in the pod namespace" \
			sh -c "ip netns exec $pod ip -o addr show dev eth0 | grep -qF ' $addr/'"
		if [ "$plugin" = bridge ]; then
			if [ "${gw#*:}" != "$gw" ]; then
				sleep 2 # IPv6 duplicate address detection
				check "$name: gateway $gw answers ping6" ip netns exec "$pod" ping -6 -c 1 -W 3 "$gw"
			else
				check "$name: gateway $gw answers ping" ip netns exec "$pod" ping -c 1 -W 3 "$gw"
			fi
		fi
	done
	# The same ADD again returns the same result (idempotent).
	local again
	again=$(cni ADD "$pod" eth0 "cid-$name-1" "$conf" 2>/dev/null)
	check "$name: a repeated ADD is answered (idempotent)" test -n "$again"
	out=$(cni DEL "$pod" eth0 "cid-$name-1" "$conf")
	check "$name: DEL succeeds" test $? -eq 0
	check "$name: the address is gone from eth0" \
		sh -c "! ip netns exec $pod ip -o addr show dev eth0 2>/dev/null | grep -q 'inet'"
	check "$name: DEL twice succeeds" cni DEL "$pod" eth0 "cid-$name-1" "$conf"
	# Free again: a new pod gets the first address back.
	local pod2=ipamq${id}$name
	pods+=("$pod2")
	ip netns add "$pod2"
	out=$(cni ADD "$pod2" eth0 "cid-$name-2" "$conf")
	check "$name: ADD of another pod after DEL works" test $? -eq 0
	cni DEL "$pod2" eth0 "cid-$name-2" "$conf" >/dev/null 2>&1
}

run_case v4 bridge '[[{"subnet":"10.77.1.0/24"}]]' 10.77.1.1
run_case v6 bridge '[[{"subnet":"fd77:2::/64"}]]' fd77:2::1
run_case ds bridge '[[{"subnet":"10.77.3.0/24"}],[{"subnet":"fd77:3::/64"}]]' 10.77.3.1 fd77:3::1
run_case mv macvlan '[[{"subnet":"10.77.4.0/24"}]]' 10.77.4.1

if [ $fail -ne 0 ]; then
	echo "bridge-e2e: FAILED"
	exit 1
fi
echo "bridge-e2e: all checks passed"
