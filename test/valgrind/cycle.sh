#!/bin/sh
# cycle.sh: relaisd under valgrind's memcheck through a whole life: start,
# proxied requests, graceful restart, more requests, stop.  Fails on any
# memory error or definite leak in any of its processes (the parent, the
# children of both generations).
#
#     sh test/valgrind/cycle.sh [BUILD]       (BUILD defaults to ./build)
#
# relaisd has no single-process mode: the children are forks of the
# parent, which valgrind follows (--trace-children=yes for completeness;
# nothing here execs).  Each process writes its own report,
# $WORK/vg.<pid>.log; every report must end with "ERROR SUMMARY: 0
# errors" (--errors-for-leak-kinds=definite makes a definite leak an
# error).  Memory still reachable at exit (the configuration pool of a
# child that _exit()s) is not a leak and is not counted.
#
# Known findings are suppressed in test/valgrind/relais.supp, each with
# its reason; the summary line counts what was suppressed.
#
# One relaisd serves both sides: the main server proxies (ProxyPass, and a
# balancer over two members) to a mod_echo virtual host on a second port,
# with mod_log writing an access log.  mod_ssl serves a TLS front on a
# third port (proxied like the main one) and a TLS echo backend that the
# main server reaches with https:// (SSLProxyEngine), on a certificate
# made here with the openssl CLI.  HTTP/2 reaches both fronts (mod_http2),
# and mod_proxy_stream relays a TCP listener to the echo backend and a UDP
# one to a Python echo.  The cycle runs under each MPM
# (MPMS="event worker prefork" by default).
#
# Needs valgrind and curl (support/setup-debian.sh --test installs both).
# Exit status: 0 clean (the work directory is removed), 1 errors or leaks
# found (the reports are printed and kept in $WORK), 2 could not run.  Takes about half a minute.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
# absolute: the work directory links to $BUILD/modules, and a relative
# link would point nowhere
BUILD=$(cd "${1:-$TOP/build}" && pwd) || exit 2
RELAISD=$BUILD/bin/relaisd
MPMS=${MPMS:-"event worker prefork"}
SUPP=$TOP/test/valgrind/relais.supp

for tool in valgrind curl openssl; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "cycle.sh: $tool is missing (apt-get install $tool)" >&2
        exit 2
    fi
done
if [ ! -x "$RELAISD" ]; then
    echo "cycle.sh: $RELAISD not built (make)" >&2
    exit 2
fi

WORK=$(mktemp -d /tmp/relais-valgrind.XXXXXX)
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1; then
    echo "cycle.sh: openssl could not make the test certificate" >&2
    exit 2
fi
chmod 600 "$WORK/tls.key"
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null
        sleep 5
        kill -KILL "$PID" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.5 s while relaisd
# runs
wait_for() {
    w_end=$(($(date +%s) + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$w_end" ] || ! kill -0 "$PID" 2>/dev/null; then
            return 1
        fi
        sleep 0.5
    done
}

fail() {
    echo "cycle.sh: $*" >&2
    failed=1
}

# request URL [curl options]: one request; fails on a non-2xx answer
request() {
    r_url=$1
    shift
    curl -sS -f -o /dev/null --max-time 30 "$@" "$r_url"
}

requests() {
    for i in 1 2 3 4 5; do
        request "http://127.0.0.1:$FRONT/proxied/$i?x=$i" || return 1
        request "http://127.0.0.1:$FRONT/lb/$i" || return 1
    done
    # a body up and a big one down, and a chunked upload
    head -c 300000 /dev/zero >"$WORK/body"
    request "http://127.0.0.1:$FRONT/proxied/up" --data-binary "@$WORK/body" ||
        return 1
    request "http://127.0.0.1:$FRONT/proxied/big?size=2M" || return 1
    request "http://127.0.0.1:$FRONT/proxied/chunked" \
        -H "Transfer-Encoding: chunked" --data-binary "@$WORK/body" || return 1
    # TLS: the front over TLS (a body up, a big one down) and
    # TLS to a backend; a plain request on the TLS port gets its 400
    request "https://127.0.0.1:$TLSFRONT/a" --cacert "$WORK/tls.crt" ||
        return 1
    request "https://127.0.0.1:$TLSFRONT/up" --cacert "$WORK/tls.crt" \
        --data-binary "@$WORK/body" || return 1
    request "https://127.0.0.1:$TLSFRONT/big?size=2M" \
        --cacert "$WORK/tls.crt" || return 1
    request "http://127.0.0.1:$FRONT/tlsback/c" || return 1
    # HTTP/2: over TLS (ALPN h2) and in clear text, a stream proxied each
    request "https://127.0.0.1:$TLSFRONT/h2" --http2 \
        --cacert "$WORK/tls.crt" || return 1
    request "http://127.0.0.1:$FRONT/proxied/h2c" \
        --http2-prior-knowledge || return 1
    request "https://127.0.0.1:$TLSFRONT/h2up" --http2 \
        --cacert "$WORK/tls.crt" --data-binary "@$WORK/body" || return 1
    # TCP: an HTTP request relayed as bytes by mod_proxy_stream to the
    # echo backend; UDP: a datagram relayed to a Python echo and back
    request "http://127.0.0.1:$TCPFRONT/stream" || return 1
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(20)
s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if s.recvfrom(100)[0] == b"ping" else 1)' "$UDPFRONT" || return 1
    curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$TLSFRONT/plain" || true
    # an answer the core makes itself, and one it refuses
    curl -s -o /dev/null --max-time 30 "http://127.0.0.1:$FRONT/nothing-here"
    printf 'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n' |
        curl -s -o /dev/null --max-time 5 "telnet://127.0.0.1:$FRONT" || true
}

generations_up() {
    [ "$(grep -c 'resuming normal operations' "$ROOT/logs/error_log")" -ge "$1" ]
}

one_cycle() {
    mpm=$1
    ROOT=$WORK/$mpm
    mkdir -p "$ROOT/logs"
    ln -s "$BUILD/modules" "$ROOT/modules"
    FRONT=$(free_port)
    BACK=$(free_port)
    BACK2=$(free_port)
    TLSFRONT=$(free_port)
    TLSBACK=$(free_port)
    TCPFRONT=$(free_port)
    UDPFRONT=$(free_port)
    UDPBACK=$(free_port)
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)' "$UDPBACK" &
    UDPPID=$!
    user=""
    if [ "$(id -u)" -eq 0 ]; then
        # relaisd as root serves as User: the privilege drop is on the path
        user="User nobody
Group nogroup"
    fi
    cat >"$ROOT/relais.conf" <<EOF
LoadModule mpm_${mpm}_module modules/mod_mpm_${mpm}.so
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule echo_module modules/mod_echo.so
LoadModule log_module modules/mod_log.so
LoadModule ssl_module modules/mod_ssl.so
LoadModule http2_module modules/mod_http2.so
LoadModule proxy_stream_module modules/mod_proxy_stream.so
Protocols h2 h2c http/1.1
Listen 127.0.0.1:$FRONT
Listen 127.0.0.1:$TCPFRONT tcp
Listen 127.0.0.1:$UDPFRONT udp
Listen 127.0.0.1:$TLSFRONT https
Listen 127.0.0.1:$TLSBACK https
Listen 127.0.0.1:$BACK
Listen 127.0.0.1:$BACK2
ServerName front.test
ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
StartServers 2
$user
CustomLog logs/access_log combined
<Proxy "balancer://app">
    BalancerMember http://127.0.0.1:$BACK
    BalancerMember http://127.0.0.1:$BACK2
</Proxy>
ProxyPass /proxied/ http://127.0.0.1:$BACK/
ProxyPass /lb/ balancer://app/
SSLProxyEngine on
SSLProxyCACertificateFile $WORK/tls.crt
ProxyPass /tlsback/ https://127.0.0.1:$TLSBACK/
<VirtualHost 127.0.0.1:$TLSFRONT>
    ServerName 127.0.0.1
    SSLEngine on
    SSLCertificateFile $WORK/tls.crt
    SSLCertificateKeyFile $WORK/tls.key
    ProxyPass / http://127.0.0.1:$BACK/
</VirtualHost>
<VirtualHost 127.0.0.1:$TLSBACK>
    ServerName 127.0.0.1
    SSLEngine on
    SSLCertificateFile $WORK/tls.crt
    SSLCertificateKeyFile $WORK/tls.key
    SetHandler echo
</VirtualHost>
<Proxy "balancer://tcpapp">
    BalancerMember tcp://127.0.0.1:$BACK
</Proxy>
<VirtualHost 127.0.0.1:$TCPFRONT>
    ProxyStream balancer://tcpapp
</VirtualHost>
<VirtualHost 127.0.0.1:$UDPFRONT>
    ProxyStream udp://127.0.0.1:$UDPBACK
</VirtualHost>
<VirtualHost 127.0.0.1:$BACK>
    ServerName back.test
    SetHandler echo
</VirtualHost>
<VirtualHost 127.0.0.1:$BACK2>
    ServerName back2.test
    SetHandler echo
</VirtualHost>
EOF
    echo "== $mpm MPM: relaisd under valgrind ($ROOT)"
    valgrind --tool=memcheck --leak-check=full \
        --errors-for-leak-kinds=definite --error-exitcode=99 \
        --trace-children=yes --num-callers=30 --vgdb=no \
        --suppressions="$SUPP" \
        --log-file="$ROOT/vg.%p.log" \
        "$RELAISD" -d "$ROOT" -f relais.conf -D FOREGROUND \
        >"$ROOT/stderr.txt" 2>&1 &
    PID=$!
    if ! wait_for 120 request "http://127.0.0.1:$FRONT/proxied/first"; then
        fail "$mpm: relaisd under valgrind did not answer within 120 s"
        cat "$ROOT/stderr.txt" "$ROOT/logs/error_log" >&2
        cleanup
        PID=""
        return
    fi
    requests || fail "$mpm: a request failed before the restart"

    echo "== $mpm MPM: graceful restart"
    kill -USR1 "$PID"
    if ! wait_for 120 generations_up 2; then
        fail "$mpm: the graceful restart did not complete within 120 s"
    fi
    wait_for 60 request "http://127.0.0.1:$FRONT/proxied/again" ||
        fail "$mpm: no answer after the graceful restart"
    requests || fail "$mpm: a request failed after the restart"

    echo "== $mpm MPM: stop"
    kill -TERM "$PID"
    i=0
    while kill -0 "$PID" 2>/dev/null && [ $i -lt 240 ]; do
        sleep 0.5
        i=$((i + 1))
    done
    if kill -0 "$PID" 2>/dev/null; then
        fail "$mpm: relaisd did not stop within 120 s"
        kill -KILL "$PID"
    fi
    wait "$PID"
    rc=$?
    PID=""
    kill "$UDPPID" 2>/dev/null
    wait "$UDPPID" 2>/dev/null
    [ $rc -eq 0 ] || fail "$mpm: the parent exited with status $rc (99: valgrind found errors)"
    grep -q "exited on signal" "$ROOT/logs/error_log" &&
        fail "$mpm: a child died on a signal: $(grep 'exited on signal' "$ROOT/logs/error_log")"

    # every process's report
    n=0
    for log in "$ROOT"/vg.*.log; do
        n=$((n + 1))
        if ! grep -q "ERROR SUMMARY: 0 errors" "$log"; then
            if grep -q "ERROR SUMMARY:" "$log"; then
                fail "$mpm: $log: $(grep 'ERROR SUMMARY:' "$log" | sed 's/^==[0-9]*== //')"
            else
                fail "$mpm: $log: no summary (the process was killed?)"
            fi
            cat "$log" >&2
        fi
    done
    echo "   $n processes checked: $(grep -h 'ERROR SUMMARY:' "$ROOT"/vg.*.log |
        sed -e 's/^==[0-9]*== *//' -e 's/ from [0-9]* contexts//' |
        sort | uniq -c | tr -s ' ' | tr '\n' ';')"
    [ $n -ge 3 ] || fail "$mpm: only $n valgrind reports (parent and children expected)"
}

failed=0
for mpm in $MPMS; do
    one_cycle "$mpm"
done
if [ $failed -ne 0 ]; then
    echo "cycle.sh: FAILED (reports kept in $WORK)" >&2
    exit 1
fi
echo "cycle.sh: no memory error and no definite leak"
rm -rf "$WORK"
exit 0
