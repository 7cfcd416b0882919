#!/bin/sh
# libipam: set up a fresh Debian 12 machine, build, and run.
#
#   ./setup.sh run    install what is missing, build, run the main job: the
#                     1000-pod churn benchmark on the memory store (extra
#                     arguments go to ipam-churn; --help lists them)
#   ./setup.sh test   install what is missing, build twice (plain and
#                     AddressSanitizer+UndefinedBehaviorSanitizer), run every
#                     test in both, end with "N passed, M failed, K skipped"
#
# Installing needs root (apt-get); everything else runs as the caller.
set -eu
cd "$(dirname "$0")"
here=$(pwd)

PACKAGES="gcc clang libclang-rt-14-dev meson ninja-build pkg-config python3
check libjemalloc-dev libxxhash-dev libjansson-dev libcurl4-openssl-dev
binutils iproute2 iputils-ping etcd-server containernetworking-plugins busybox isc-dhcp-client
openssl gnuplot-nox musl-tools"

log() { printf '==> %s\n' "$*" >&2; }

install_packages() {
	missing=""
	for p in $PACKAGES; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
	done
	[ -z "$missing" ] && return 0
	log "installing Debian packages:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "run as root to install:$missing" >&2; exit 1; }
		SUDO=sudo
	else
		SUDO=
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# quiet LOG CMD...: run CMD with its output in LOG; show the end of it and
# fail if CMD fails.
quiet() {
	out=$1; shift
	mkdir -p "$(dirname "$out")"
	if ! "$@" >"$out" 2>&1; then
		tail -n 60 "$out" >&2
		log "failed: $*"
		exit 1
	fi
}

# configure DIR [meson options...]: set up once, reconfigure when asked again.
configure() {
	dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		quiet "$dir.setup.log" meson setup --reconfigure "$dir" "$@"
	else
		quiet "$dir.setup.log" meson setup "$dir" "$@"
	fi
}

build_plain() {
	log "building (gcc, debugoptimized) in build/"
	configure build -Dbuildtype=debugoptimized
	quiet build/ninja.log ninja -C build
}

build_release() {
	log "building (gcc, release) in build-release/"
	configure build-release -Dbuildtype=release -Dtests=disabled
	quiet build-release/ninja.log ninja -C build-release
}

build_asan() {
	log "building (clang, ASan+UBSan) in build-asan/"
	CC=clang configure build-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args="-fno-sanitize-recover=all -fno-omit-frame-pointer"
	quiet build-asan/ninja.log ninja -C build-asan
}

build_tsan() {
	log "building (clang, ThreadSanitizer) in build-tsan/"
	CC=clang configure build-tsan -Dbuildtype=debugoptimized -Db_sanitize=thread \
		-Db_lundef=false -Djemalloc=disabled -Dfuzzing=disabled
	quiet build-tsan/ninja.log ninja -C build-tsan
}

# run_suite DIR LABEL [env...]: run meson test in DIR, print Check's summary
# lines, and add the counts to the totals kept in $here/.test-totals.
run_suite() {
	dir=$1 label=$2; shift 2
	log "testing $label"
	rc=0
	env "$@" meson test -C "$dir" --num-processes 2 --print-errorlogs $MESON_TEST_ARGS \
		>"$dir/meson-test.out" 2>&1 || rc=$?
	python3 - "$dir/meson-logs/testlog.json" "$label" "$here/.test-totals" <<'PY'
import json, sys
path, label, totals = sys.argv[1:4]
passed = failed = skipped = 0
for line in open(path):
    t = json.loads(line)
    r = t["result"]
    for out in (t.get("stdout") or "").splitlines():
        if "Checks:" in out:
            print("  %-28s %s" % (t["name"].split(" / ")[-1], out.strip()))
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
        print("  FAILED: %s (%s)" % (t["name"], r))
print("%s: %d passed, %d failed, %d skipped" % (label, passed, failed, skipped))
p = f = s = 0
try:
    p, f, s = map(int, open(totals).read().split())
except FileNotFoundError:
    pass
open(totals, "w").write("%d %d %d\n" % (p + passed, f + failed, s + skipped))
PY
	if [ $rc -ne 0 ]; then
		tail -n 40 "$dir/meson-test.out" >&2
	fi
}

MESON_TEST_ARGS=
cmd=${1:-}
case "$cmd" in
run)
	install_packages
	build_release
	log "running the 1000-pod churn benchmark on the embedded memory store"
	shift
	./build-release/bench/ipam-churn --backend memory "$@"
	;;
test)
	install_packages
	rm -f "$here/.test-totals"
	build_plain
	run_suite build "plain build"
	# The main job's build (gcc -O3) must compile cleanly too: -O3 sees
	# warnings -O2 does not.
	build_release
	build_asan
	run_suite build-asan "ASan+UBSan build" IPAM_TEST_QUICK=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	build_tsan
	MESON_TEST_ARGS="--suite threads" run_suite build-tsan "ThreadSanitizer build" \
		IPAM_TEST_QUICK=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
	set -- $(cat "$here/.test-totals")
	rm -f "$here/.test-totals"
	echo "$1 passed, $2 failed, $3 skipped"
	[ "$2" -eq 0 ] && [ "$1" -gt 0 ]
	;;
*)
	echo "usage: $0 run|test" >&2
	exit 2
	;;
esac
