#!/bin/sh
# demo.sh: install what is missing, build and install Relais, start the
# demo and show its first answer.
#
# For a fresh Debian 12 (bookworm) machine, as root, from the top of the
# source tree (it cd's there itself):
#
#     sh support/demo.sh
#
# What it does:
#   1. sh support/setup-debian.sh     build dependencies (apt), and curl
#   2. ./configure && make && make install    into /usr/local/relais
#   3. /usr/local/relais/bin/relaisctl start
#      The installed configuration enables conf/sites-available/demo.conf:
#        127.0.0.1:8080   the front (today it answers itself with mod_echo;
#                         it balances over the backends once mod_proxy and
#                         mod_balancer land)
#        127.0.0.1:8081   backend1, a mod_echo virtual host
#        127.0.0.1:8082   backend2, a mod_echo virtual host
#   4. waits (at most 30 s) until 127.0.0.1:8080 answers, then prints
#      curl -s http://127.0.0.1:8080/
#
# Running it again rebuilds, reinstalls (an existing configuration under
# /usr/local/relais/conf is kept, see `make install`) and restarts the demo.
# Stop it with:  /usr/local/relais/bin/relaisctl stop

set -eu

PREFIX=/usr/local/relais
RELAISCTL=$PREFIX/bin/relaisctl
URL=http://127.0.0.1:8080/
WAIT_SECONDS=30

cd "$(dirname "$0")/.."

current=""
on_exit() {
    rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        echo >&2
        echo "demo.sh: FAILED at step '$current' (exit status $rc)." >&2
        if [ -r "$PREFIX/logs/error_log" ]; then
            echo "demo.sh: last lines of $PREFIX/logs/error_log:" >&2
            tail -n 20 "$PREFIX/logs/error_log" >&2 || true
        fi
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
    current=$1
    echo
    echo "=== [demo] $1"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "demo.sh: run as root: it installs packages with apt-get and" \
        "Relais into $PREFIX" >&2
    exit 1
fi

step "install build dependencies (support/setup-debian.sh)"
sh support/setup-debian.sh
# curl is only in setup-debian.sh's --test set; the demo needs it to show
# the answer (setup-debian.sh has just run apt-get update).
if ! command -v curl >/dev/null 2>&1; then
    echo "demo.sh: installing curl"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends curl ca-certificates >/dev/null
fi

step "./configure"
# A tree last configured with other options (run-tests.sh's sanitizer pass,
# --enable-debug...) holds objects built with other flags: start clean.
if [ -f config.status ] && [ -f Makefile ]; then
    prev=$(./config.status --config 2>/dev/null || true)
    if [ -n "$prev" ]; then
        echo "demo.sh: this tree was configured with $prev: cleaning it first"
        make distclean
    fi
fi
./configure

step "make"
make -j"$(nproc 2>/dev/null || echo 2)"

# A demo started by an earlier run keeps running on the installed files:
# stop it before they are replaced.
step "stop a demo already running"
if [ -x "$RELAISCTL" ] && "$RELAISCTL" status >/dev/null 2>&1; then
    "$RELAISCTL" stop
    echo "stopped the running relaisd"
else
    echo "none running"
fi

step "make install (into $PREFIX)"
make install

step "start the demo ($RELAISCTL start)"
# Started as root, relaisd refuses to run its workers as root without a
# User line (docs/operators.md, "Privileges").  The shipped relais.conf has
# "User www-data"; one kept from an older install may have none.
conf=$PREFIX/conf/relais.conf
if ! grep -Eq '^[[:space:]]*User[[:space:]]' "$conf"; then
    echo "demo.sh: $conf (kept from an older install) has no User line:" \
        "adding User www-data and Group www-data"
    printf '\n# added by demo.sh: the workers serve as www-data, not root\n' >>"$conf"
    echo "User www-data" >>"$conf"
    if ! grep -Eq '^[[:space:]]*Group[[:space:]]' "$conf"; then
        echo "Group www-data" >>"$conf"
    fi
fi
"$RELAISCTL" configtest
# The daemon must not inherit this script's stdout/stderr: when they are a
# pipe (sh support/demo.sh | tee log), the reader would wait for it.
start_log=$(mktemp)
if ! "$RELAISCTL" start </dev/null >"$start_log" 2>&1; then
    cat "$start_log" >&2
    rm -f "$start_log"
    exit 1
fi
cat "$start_log"
rm -f "$start_log"

step "wait for $URL (at most $WAIT_SECONDS s)"
i=0
until curl -s -o /dev/null --max-time 2 "$URL"; do
    i=$((i + 1))
    if [ "$i" -ge "$WAIT_SECONDS" ]; then
        echo "demo.sh: nothing answers on $URL after $WAIT_SECONDS s" >&2
        exit 1
    fi
    sleep 1
done
echo "up"

step "curl -s $URL"
curl -s "$URL"
current=""

cat <<EOF

Relais is running (installed in $PREFIX, demo site
$PREFIX/conf/sites-available/demo.conf):

  front     $URL
  backend1  http://127.0.0.1:8081/
  backend2  http://127.0.0.1:8082/

  Try:      curl -s 'http://127.0.0.1:8081/hello?x=1'
            curl -s -d 'some body' http://127.0.0.1:8082/upload
  Log:      $PREFIX/logs/error_log
  Status:   $RELAISCTL status
  Stop it:  $RELAISCTL stop
EOF
