#!/bin/sh
# SPDX-License-Identifier: MIT
# ipamctl end to end: every command against file stores prepared through the
# library (ctl-fixture), import-host-local against a dataDir written by the
# real host-local plugin (skipped without it), corruption planted in the
# files, bad input. Usage: test_ipamctl.sh IPAMCTL CTL_FIXTURE
# Environment: HOST_LOCAL (the real plugin), IPAM_CNI (optional: DEL through it).
set -u
CTL=$1
FIX=$2
HOST_LOCAL=${HOST_LOCAL:-/usr/lib/cni/host-local}
IPAM_CNI=${IPAM_CNI:-}
T=$(mktemp -d /tmp/ipamctl-test.XXXXXX)
chmod 700 "$T"
trap 'rm -rf "$T"' EXIT
unset NO_COLOR
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
# expect CODE DESCRIPTION -- command...: run, compare the exit code.
expect() {
	want=$1; what=$2; shift 3
	"$@" >"$T/out" 2>"$T/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then ok "$what"; else
		bad "$what (exit $got, want $want)"; sed 's/^/# /' "$T/out" "$T/err" | head -20; fi
}
# contains PATTERN FILE DESCRIPTION
contains() {
	if grep -q -- "$1" "$2"; then ok "$3"; else bad "$3 (no '$1')"; sed 's/^/# /' "$2" | head -20; fi
}
lines() { wc -l <"$1" | tr -d ' '; }

mkconf() { # name subnet4 subnet6 dir [extra ipam keys]
	cat >"$T/$1.conf" <<JSON
{"cniVersion":"1.0.0","name":"$1","type":"macvlan","ipam":{"type":"ipam-cni",
 "ranges":[[{"subnet":"$2"}],[{"subnet":"$3"}]],"dataDir":"$4"${5:-}}}
JSON
}

S=$T/store
mkconf net1 10.50.0.0/24 fd50::/120 "$S" ',"reuseDelay":600'
"$FIX" populate "$T/net1.conf" 40 >/dev/null || { echo "Bail out! fixture failed"; exit 1; }
C="$CTL --store file:$S"

# ---- pools / leases / show ------------------------------------------------------
expect 0 "pools" -- $C pools
contains "rs0 .*10.50.0.0/24 .*253 .*32 .*8 " "$T/out" "pools: v4 total 253, used 32, quarantined 8"
contains "rs1 .*fd50::/120" "$T/out" "pools: v6 pool listed"
if grep -q "$(printf '\033')" "$T/out"; then bad "no colour off a terminal"; else ok "no colour off a terminal"; fi
expect 0 "pools --json" -- $C pools --json
contains '"quarantined": 8' "$T/out" "pools --json counts"
expect 0 "leases" -- $C leases
[ "$(lines "$T/out")" = 81 ] && ok "leases: 80 records + header" || bad "leases: $(lines "$T/out") lines"
expect 0 "leases --state quarantined --pool rs0" -- $C leases --state quarantined --pool rs0 --json
[ "$(grep -c '"address"' "$T/out")" = 8 ] && ok "8 quarantined in rs0" || bad "quarantined filter"
expect 0 "leases --node node-1" -- $C leases --node node-1 --state bound
grep -v '^SET' "$T/out" | grep -vq node-1 && bad "node filter leaks" || ok "node filter"
expect 0 "leases --older-than 1h (none)" -- $C leases --older-than 1h --json
contains '^\[\]' "$T/out" "nothing older than 1h"
expect 0 "show owner" -- $C show ns/pod-0
contains "generation:" "$T/out" "show: generation"
contains "k8s.pod.uid=uid-0" "$T/out" "show: attributes"
contains "expires: *20" "$T/out" "show: expiry time"
expect 0 "show address --json" -- $C show 10.50.0.3 --json
contains '"owner": "ns/pod-1"' "$T/out" "show address owner"
expect 4 "show unknown owner: not found" -- $C show nobody
expect 4 "show free address: not found" -- $C show 10.50.0.250
expect 2 "show address outside every pool" -- $C show 192.0.2.1

# ---- reserve / unreserve / release --------------------------------------------------
expect 0 "reserve" -- $C reserve 10.50.0.200 --note maintenance
expect 0 "show reserved" -- $C show 10.50.0.200
contains "state: *reserved" "$T/out" "reserved state"
expect 1 "reserve a leased address" -- $C reserve 10.50.0.3
expect 0 "unreserve" -- $C unreserve 10.50.0.200
expect 4 "unreserve again: not reserved" -- $C unreserve 10.50.0.200
expect 3 "release without --yes off a terminal: refused" -- $C release 10.50.0.3
expect 0 "still leased after refusal" -- $C show 10.50.0.3
expect 0 "release by address --yes" -- $C release 10.50.0.3 --yes
expect 0 "released address is quarantined" -- $C show 10.50.0.3 --json
contains '"state": "quarantined"' "$T/out" "quarantined after release"
expect 0 "release by attachment" -- $C release --attachment cid-2 --yes
contains "released 2 leases" "$T/out" "attachment release frees both families"
expect 0 "release by owner" -- $C release --owner ns/pod-3 --ifname eth0 --yes
expect 4 "release of nothing: not found" -- $C release --owner ns/nobody --yes
expect 0 "look up a lease's generation" -- $C show ns/pod-6 --json
gen=$(sed -n 's/.*"generation": \([0-9]*\).*/\1/p' "$T/out" | head -n1)
addr=$(sed -n 's/.*"address": "\(.*\)".*/\1/p' "$T/out" | head -n1)
expect 4 "release pinned to a wrong generation releases nothing" -- $C release "$addr" --generation $((gen + 1000)) --yes
expect 0 "release pinned to the right generation" -- $C release "$addr" --generation "$gen" --yes

# ---- gc -----------------------------------------------------------------------------
for i in $(seq 0 39); do [ $((i % 2)) = 0 ] && echo "cid-$i"; done >"$T/valid.txt"
echo "# comment" >>"$T/valid.txt"
$C export -o "$T/before-gc.json" >/dev/null
expect 0 "gc dry run" -- $C gc --valid-attachments "$T/valid.txt"
contains "would be reclaimed" "$T/out" "dry run lists would-be reclaims"
contains "dry run" "$T/out" "dry run summary"
$C export -o "$T/after-dry.json" >/dev/null
sed '/exported_at/d' "$T/before-gc.json" >"$T/a"; sed '/exported_at/d' "$T/after-dry.json" >"$T/b"
cmp -s "$T/a" "$T/b" && ok "gc dry run changed nothing" || bad "gc dry run changed the store"
expect 0 "gc --apply --json" -- $C gc --valid-attachments "$T/valid.txt" --apply --json
contains '"reclaimed": 2[0-9]' "$T/out" "gc reclaimed the odd attachments"
expect 0 "gc again: nothing left" -- $C gc --valid-attachments "$T/valid.txt" --apply --format prometheus
contains 'ipam_gc_leases_total{set="net1",outcome="reclaimed",dry_run="0"} 0' "$T/out" "second pass reclaims nothing"
printf '{"cniVersion":"1.1.0","name":"net1","cni.dev/valid-attachments":[{"containerID":"cid-0","ifname":"eth0"}]}' >"$T/gc.json"
expect 0 "gc with CNI GC JSON (dry run)" -- $C gc --valid-attachments "$T/gc.json" --json
contains '"dry_run": true' "$T/out" "CNI GC JSON accepted"
cat >"$T/pods.json" <<'JSON'
{"apiVersion":"v1","kind":"List","items":[
 {"metadata":{"namespace":"ns","name":"pod-0","uid":"uid-0"},"spec":{"nodeName":"node-0"},"status":{"phase":"Running"}}]}
JSON
expect 0 "gc with a pod list (dry run, min-age 0)" -- $C gc --pods-json "$T/pods.json" --min-age 0
contains "marked_suspect\|marked suspect" "$T/out" "pod oracle marks suspects first"
expect 0 "gc --expired --hold 30s" -- $C gc --expired --hold 30s --json
expect 2 "gc without an oracle" -- $C gc
expect 2 "gc with malformed JSON" -- sh -c "printf '{bad' >$T/bad.json; $C gc --valid-attachments $T/bad.json"
expect 2 "gc with a missing file" -- $C gc --valid-attachments "$T/nonexistent"

# ---- stats ----------------------------------------------------------------------------
expect 0 "stats" -- $C stats
expect 0 "stats --format prometheus" -- $C stats --format prometheus
contains '^ipam_pool_size_addresses{set="net1",pool="rs0"} 253' "$T/out" "prometheus pool size"
contains '^# TYPE ipam_leases gauge' "$T/out" "prometheus types"
contains 'ipam_leases{set="net1",pool="rs0",state="quarantined"}' "$T/out" "prometheus leases by state"
expect 0 "stats --format json" -- $C stats --format json
contains '"pools"' "$T/out" "stats json"

# ---- export / import round trip --------------------------------------------------------
expect 0 "export" -- $C export -o "$T/export.json"
S2=$T/store2
mkconf net1 10.50.0.0/24 fd50::/120 "$S2" ',"reuseDelay":600'
sed -i "s#\"$S\"#\"$S2\"#" "$T/net1.conf" 2>/dev/null
expect 0 "import into an empty store" -- $CTL --config "$T/net1.conf" import "$T/export.json"
$CTL --config "$T/net1.conf" export -o "$T/export2.json" >/dev/null
leases_of() { python3 -c 'import json,sys; print(json.dumps([s["leases"] for s in json.load(open(sys.argv[1]))["sets"]], indent=0, sort_keys=True))' "$1"; }
leases_of "$T/export.json" >"$T/a"; leases_of "$T/export2.json" >"$T/b"
[ "$(grep -c '"generation"' "$T/a")" -gt 70 ] && cmp -s "$T/a" "$T/b" && ok "export/import round trip is exact" || { bad "round trip differs"; diff "$T/a" "$T/b" | head -20 | sed 's/^/# /'; }
expect 1 "import into a non-empty store is refused" -- $CTL --config "$T/net1.conf" import "$T/export.json"
expect 0 "check after import" -- $CTL --config "$T/net1.conf" check
expect 2 "import of malformed JSON" -- $CTL --config "$T/net1.conf" import "$T/bad.json"
printf '{"format":"ipamctl-export","version":1,"sets":[{"name":"net1","leases":[{"pool":"rs0","address":"192.0.2.9","owner":"x","state":"bound","generation":3}]}]}' >"$T/outside.json"
S3=$T/store3; mkconf net1 10.50.0.0/24 fd50::/120 "$S3"
expect 2 "import of an address outside the pool" -- $CTL --config "$T/net1.conf" import "$T/outside.json"
expect 0 "nothing imported" -- $CTL --config "$T/net1.conf" leases --json
contains '^\[\]' "$T/out" "store3 still empty"

# ---- compact, check, corruption --------------------------------------------------------
expect 0 "check a healthy store" -- $C check
contains "^ok:" "$T/out" "check ok line"
expect 0 "compact" -- $C compact
[ -s "$S/net1.snap" ] && ok "compact wrote a snapshot" || bad "no snapshot after compact"
expect 0 "check after compact" -- $C check
expect 0 "leases after compact" -- $C leases --json
# Two pool sets with overlapping subnets, the same address leased in both:
# valid one by one, a duplicate across the store.
mkconf net2 10.50.0.0/24 fd51::/120 "$S"
printf '{"format":"ipamctl-export","version":1,"sets":[{"name":"net2","leases":[{"pool":"rs0","address":"10.50.0.2","owner":"forged","ifname":"eth0","attachment":"f","state":"bound","generation":7}]}]}' >"$T/forged.json"
expect 0 "forged import into a second set" -- $CTL --config "$T/net2.conf" import "$T/forged.json"
cp "$T/net2.conf" "$S/net2.conf.json"
expect 1 "check finds the duplicate across sets" -- $C check
contains "duplicate: 10.50.0.2 is leased" "$T/out" "duplicate reported"
rm -f "$S/net2.conf.json" "$S"/net2.*
# A byte flipped in the middle of the log.
S4=$T/store4; mkconf net4 10.60.0.0/24 fd60::/120 "$S4"
"$FIX" populate "$T/net4.conf" 30 >/dev/null
size=$(stat -c %s "$S4/net4.log")
printf '\377' | dd of="$S4/net4.log" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect 1 "check finds a flipped byte in the log" -- $CTL --store "file:$S4" check
contains "damaged.*net4.log.*corrupt" "$T/out" "log damage named with file and offset"
expect 5 "other commands refuse a damaged store" -- $CTL --store "file:$S4" pools
# A truncated snapshot.
S5=$T/store5; mkconf net5 10.70.0.0/24 fd70::/120 "$S5"
"$FIX" populate "$T/net5.conf" 30 >/dev/null
$CTL --store "file:$S5" compact >/dev/null
size=$(stat -c %s "$S5/net5.snap")
truncate -s $((size - 20)) "$S5/net5.snap"
expect 1 "check finds a truncated snapshot" -- $CTL --store "file:$S5" check --json
contains '"kind": "damaged"' "$T/out" "snapshot damage reported"

# ---- bad input ------------------------------------------------------------------------------
expect 2 "unknown store scheme" -- $CTL --store bogus:/x pools
# Built with etcd: nothing listens on port 1 (exit 5); without: "not built" (exit 2).
"$CTL" --store "etcd:http://127.0.0.1:1?timeout-ms=300" pools >"$T/out" 2>"$T/err" </dev/null
got=$?
if { [ $got = 5 ] && grep -q "unreachable" "$T/err"; } || { [ $got = 2 ] && grep -q "not built" "$T/err"; }; then
	ok "etcd store unreachable or not built"
else
	bad "etcd store unreachable or not built (exit $got)"; sed 's/^/# /' "$T/err" | head -5
fi
expect 2 "bad etcd store setting" -- $CTL --store "etcd:http://127.0.0.1:1?colour=blue" pools
expect 5 "missing store directory" -- $CTL --store "file:$T/nonexistent" pools
expect 2 "unreadable config" -- $CTL --config "$T/nonexistent.conf" pools
expect 2 "malformed config" -- $CTL --config "$T/bad.json" pools
expect 2 "no store at all" -- $CTL pools
expect 2 "unknown command" -- $C frobnicate
expect 2 "option of another command" -- $C pools --apply
expect 2 "bad duration" -- $C leases --older-than 10x
expect 2 "bad address" -- $C show-nothing 2>/dev/null
expect 2 "reserve a non-address" -- $C reserve 10.50.0
expect 0 "help" -- $CTL help
expect 0 "help gc" -- $CTL help gc
contains "DRY RUN" "$T/out" "help gc explains the dry run"

# ---- import-host-local with the real plugin ---------------------------------------------------
if [ -x "$HOST_LOCAL" ]; then
	HL=$T/hl
	mkdir -p "$HL"
	NC=300
	i=0
	while [ $i -lt $NC ]; do
		printf '{"cniVersion":"1.0.0","name":"hlnet","type":"macvlan","ipam":{"type":"host-local","ranges":[[{"subnet":"10.50.0.0/16"}],[{"subnet":"fd50::/64"}]],"dataDir":"%s"}}' "$HL" |
			CNI_COMMAND=ADD CNI_CONTAINERID=ctr-$i CNI_NETNS=/dev/null CNI_IFNAME=eth0 \
			CNI_PATH=$(dirname "$HOST_LOCAL") "$HOST_LOCAL" >/dev/null || { bad "host-local ADD $i"; break; }
		i=$((i + 1))
	done
	[ "$(ls "$HL/hlnet" | grep -vc 'lock\|last_reserved')" = $((2 * NC)) ] && ok "host-local wrote $((2 * NC)) lease files" || bad "host-local files"
	S6=$T/store6
	cat >"$T/hlnet.conf" <<JSON
{"cniVersion":"1.0.0","name":"hlnet","type":"macvlan","ipam":{"type":"ipam-cni","ranges":[[{"subnet":"10.50.0.0/16"}],[{"subnet":"fd50::/64"}]],"store":{"type":"file","dir":"$S6"}}}
JSON
	expect 0 "import-host-local" -- $CTL --config "$T/hlnet.conf" import-host-local "$HL"
	contains "imported $((2 * NC)) addresses of $NC container interfaces" "$T/out" "every host-local lease imported"
	expect 0 "re-run is harmless" -- $CTL --config "$T/hlnet.conf" import-host-local "$HL"
	contains "($((2 * NC)) already present, 0 failed)" "$T/out" "re-run finds them all present"
	expect 0 "imported leases match host-local's files" -- $CTL --config "$T/hlnet.conf" leases --json
	okf=1
	for f in "$HL"/hlnet/10.* "$HL"/hlnet/fd50*; do
		ip=$(basename "$f"); cid=$(head -n1 "$f" | tr -d '\r')
		grep -A3 "\"address\": \"$ip\"" "$T/out" | grep -q "\"owner\": \"$cid\"" || { okf=0; echo "# $ip $cid"; break; }
	done
	[ $okf = 1 ] && ok "each address owned by its container" || bad "ownership differs"
	expect 0 "check after import-host-local" -- $CTL --config "$T/hlnet.conf" check
	# The switched node: DEL of each imported container frees its addresses,
	# new ADDs never collide with what is still held.
	seq 0 2 $((NC - 1)) | sed 's/^/ctr-/' >"$T/del.txt"
	if [ -n "$IPAM_CNI" ] && [ -x "$IPAM_CNI" ]; then
		freed=0
		for c in $(cat "$T/del.txt"); do
			sed 's/"type":"ipam-cni"/"type":"ipam-cni"/' "$T/hlnet.conf" | CNI_COMMAND=DEL CNI_CONTAINERID=$c \
				CNI_NETNS=/dev/null CNI_IFNAME=eth0 CNI_PATH=/nonexistent "$IPAM_CNI" >/dev/null && freed=$((freed + 2))
		done
	else
		freed=$("$FIX" release-att "$T/hlnet.conf" "$T/del.txt")
	fi
	[ "$freed" = "$NC" ] && ok "DEL of $((NC / 2)) imported containers freed $NC addresses" || bad "freed $freed"
	expect 0 "new allocations never collide" -- "$FIX" fill "$T/hlnet.conf" 400
	expect 0 "check after churn" -- $CTL --config "$T/hlnet.conf" check
	# Bad host-local data: an address outside every pool changes nothing.
	mkdir -p "$T/hlbad"; printf 'ctr-x\r\neth0' >"$T/hlbad/192.0.2.1"
	before=$($CTL --config "$T/hlnet.conf" leases --json | grep -c address)
	expect 2 "host-local file outside every pool" -- $CTL --config "$T/hlnet.conf" import-host-local "$T/hlbad"
	after=$($CTL --config "$T/hlnet.conf" leases --json | grep -c address)
	[ "$before" = "$after" ] && ok "nothing changed" || bad "leases changed $before -> $after"
else
	echo "ok $((n + 1)) # SKIP $HOST_LOCAL not installed"; n=$((n + 1))
fi

echo "1..$n"
[ $fails = 0 ] || { echo "# $fails of $n failed"; exit 1; }
