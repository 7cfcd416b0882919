#!/bin/bash
# ipam-cni as a runtime drives it, many processes at once:
# 1. 8 processes x 125 ADDs on a 1000-address pool: 1000 distinct addresses;
#    the 1001st ADD fails with a clean CNI error; all DELs empty the pool
#    (1000 new ADDs then succeed).
# 2. Kill storm: concurrent ADD/DEL loops while plugin processes are
#    SIGKILLed at random (>= 200 kills). Afterwards the store opens, no
#    address is held twice, and every container whose ADD reported success
#    (and was not deleted) still holds that address (a repeated ADD, which
#    is idempotent, returns it).
# usage: cni-concurrency.sh IPAM_CNI_BINARY
set -u
bin=$(realpath "$1")
tmp=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
# 1000 addresses: .0.2-.3.233; the default gateway .0.1 stays outside the range.
conf='{"cniVersion":"1.0.0","name":"conc","type":"bridge","ipam":{"type":"ipam-cni","ranges":[[{"subnet":"10.88.0.0/22","rangeStart":"10.88.0.2","rangeEnd":"10.88.3.233"}]],"dataDir":"'$tmp'/store"}}'

cni() { # VERB CONTAINERID
	printf '%s' "$conf" | env CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS=/var/run/netns/none \
		CNI_IFNAME=eth0 CNI_PATH=/nonexistent "$bin"
}
addr_of() { tr -d ' \n' | grep -o '"address":"[^"]*' | cut -d'"' -f4 | cut -d/ -f1; }

# ---- 1. 8 x 125 ADDs ---------------------------------------------------------
for p in $(seq 0 7); do
	(
		for i in $(seq 0 124); do
			out=$(cni ADD "c-$p-$i") || { echo "ADD c-$p-$i failed: $out" >&2; exit 1; }
			printf '%s c-%s-%s\n' "$(printf '%s' "$out" | addr_of)" "$p" "$i"
		done
	) > "$tmp/adds.$p" &
done
wait
cat "$tmp"/adds.* > "$tmp/all"
total=$(wc -l < "$tmp/all")
distinct=$(cut -d' ' -f1 "$tmp/all" | sort -u | grep -c .)
echo "8 processes x 125 ADDs: $total answered, $distinct distinct addresses"
[ "$total" -eq 1000 ] && [ "$distinct" -eq 1000 ] || { echo "FAIL: want 1000 distinct"; fail=1; }
out=$(cni ADD c-extra); rc=$?
if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q '"code"' && printf '%s' "$out" | grep -q '"msg"'; then
	echo "ok: the 1001st ADD fails cleanly: $(printf '%s' "$out" | tr -d '\n' | cut -c1-160)"
else
	echo "FAIL: the 1001st ADD: rc=$rc out=$out"; fail=1
fi
for p in $(seq 0 7); do
	( for i in $(seq 0 124); do cni DEL "c-$p-$i" >/dev/null || echo "DEL c-$p-$i failed" >&2; done ) &
done
wait
ok=0
for p in $(seq 0 3); do
	( for i in $(seq 0 249); do cni ADD "d-$p-$i" >/dev/null && echo ok; done ) > "$tmp/readd.$p" &
done
wait
ok=$(cat "$tmp"/readd.* | grep -c ok)
echo "after all DELs: $ok of 1000 new ADDs succeeded"
[ "$ok" -eq 1000 ] || { echo "FAIL: the pool was not empty after the DELs"; fail=1; }
for p in $(seq 0 3); do
	( for i in $(seq 0 249); do cni DEL "d-$p-$i" >/dev/null; done ) &
done
wait

# ---- 2. kill storm ------------------------------------------------------------------
# Workers log "? cid" before each call, "A cid addr" after a successful ADD
# and "D cid" after a successful DEL; a killed call leaves its "?" last, and
# such a container's state is unknown, so it is not checked.
for p in $(seq 0 3); do
	(
		n=0
		while [ ! -e "$tmp/stop" ]; do
			cid="k-$p-$((n % 60))"
			echo "? $cid" # an operation begins: its outcome is unknown until logged
			if [ $((RANDOM % 3)) -ne 0 ]; then
				out=$(cni ADD "$cid" 2>/dev/null) && echo "A $cid $(printf '%s' "$out" | addr_of)"
			else
				cni DEL "$cid" >/dev/null 2>&1 && echo "D $cid"
			fi
			n=$((n + 1))
		done
	) > "$tmp/storm.$p" &
done
kills=0
while [ $kills -lt 220 ]; do
	sleep 0.00$((RANDOM % 9 + 1))
	# Only this test's plugin processes: the exact path it runs (other
	# ipam-cni processes on the machine are not this test's to kill).
	if pkill -9 -f "^$bin\$" 2>/dev/null; then
		kills=$((kills + 1))
	fi
done
touch "$tmp/stop"
wait
echo "kill storm: $kills SIGKILLs delivered to plugin processes"
# Replay each worker's acknowledged history: what it last ADDed and did not DEL.
declare -A held
for p in $(seq 0 3); do
	while read -r kind cid addr; do
		if [ "$kind" = A ]; then held[$cid]=$addr; else unset "held[$cid]"; fi # "?" and D: not held
	done < "$tmp/storm.$p"
done
bad=0
for cid in "${!held[@]}"; do
	now=$(cni ADD "$cid" | addr_of)
	if [ "$now" != "${held[$cid]}" ]; then
		echo "FAIL: $cid was acknowledged ${held[$cid]} but now gets '$now'"; bad=1
	fi
done
dups=$(printf '%s\n' "${held[@]}" | sort | uniq -d | grep -c .)
echo "after the storm: ${#held[@]} acknowledged containers all kept their address: $([ $bad -eq 0 ] && echo yes || echo no); duplicates: $dups"
[ $bad -eq 0 ] && [ "$dups" -eq 0 ] || fail=1
out=$(cni ADD fresh-after-storm) || { echo "FAIL: the store does not serve after the storm: $out"; fail=1; }

[ $fail -eq 0 ] && echo "cni-concurrency: all checks passed" || echo "cni-concurrency: FAILED"
exit $fail
