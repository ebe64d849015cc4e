#!/bin/sh
# setup-debian.sh: install what Relais needs on Debian 12 (bookworm), as
# root, from a minimal system (no compiler, no curl, no git).
#
#   support/setup-debian.sh          build dependencies
#   support/setup-debian.sh --test   build and test dependencies (unit,
#                                    integration, fuzzing, lint, benches)
#
# Safe to run again: apt-get skips what is installed.  Exits non-zero when
# apt fails.
set -eu

BUILD_PKGS="build-essential autoconf pkg-config
    libapr1-dev libaprutil1-dev libpcre2-dev libssl-dev libc-ares-dev
    libnghttp2-dev"

# prometheus gives promtool, which checks mod_status's metrics (its daemon
# is not started: see policy-rc.d below).  redis-server, postgresql and
# dnsmasq are the real TCP/UDP services the stream proxy tests start on
# loopback ports (dnsutils gives dig); python3-h2 and nghttp2-client (nghttp,
# h2load) are the HTTP/2 clients; libnginx-mod-stream is nginx's TCP proxy
# for bench/'s TCP cases.
# libclang-rt-14-dev holds libFuzzer and the sanitizer runtimes for clang 14
# (only recommended by clang, so it must be named with
# --no-install-recommends).
TEST_PKGS="libcmocka-dev python3 python3-pytest curl chromium chromium-driver python3-selenium
    clang libclang-rt-14-dev clang-format cppcheck
    apache2 apache2-utils dnsmasq haproxy nginx wrk
    openssl ca-certificates procps iproute2 valgrind keepalived logrotate
    prometheus redis-server redis-tools postgresql dnsutils python3-h2
    nghttp2-client libnginx-mod-stream"

with_test=no
for arg in "$@"; do
    case $arg in
    --test) with_test=yes ;;
    -h | --help)
        sed -n '2,11s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        echo "usage: $0 [--test]" >&2
        exit 2
        ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "$0: run as root (apt-get needs it)" >&2
    exit 1
fi

pkgs=$BUILD_PKGS
[ $with_test = no ] || pkgs="$pkgs $TEST_PKGS"

export DEBIAN_FRONTEND=noninteractive

# The test suites start their own apache2, nginx, haproxy and dnsmasq on
# loopback ports: keep the packages' services from starting (and fighting
# over ports 53 and 80) while they are installed.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# setup-debian.sh: no service starts during install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
    trap 'exit 130' INT TERM
fi

echo "setup-debian: apt-get update"
apt-get update -qq
echo "setup-debian: installing" $pkgs
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    $pkgs >/dev/null
echo "setup-debian: done"
