#!/bin/sh
# run-tests.sh: install what is missing, build Relais and run every test.
#
# For a fresh Debian 12 (bookworm) machine, as root, from the top of the
# source tree (it cd's there itself):
#
#     sh support/run-tests.sh
#
# Steps, each announced by a banner; the first that fails stops the script
# with a message naming it:
#
#   setup            sh support/setup-debian.sh --test (apt packages)
#   configure        ./configure
#   build            make -j$JOBS
#   check            make check (cmocka unit tests, then pytest integration)
#   cppcheck         make cppcheck
#   format-check     make format-check (clang-format --dry-run --Werror)
#   fuzz-build       make fuzz (clang + libFuzzer)
#   fuzz-run         make fuzz-run FUZZ_SECONDS=$FUZZ_SECONDS
#   valgrind         sh test/valgrind/cycle.sh (relaisd under memcheck:
#                    start, proxied requests, graceful restart, stop)
#   asan-configure   make distclean; ./configure --enable-sanitizers
#   asan-build       make -j$JOBS (ASan + UBSan)
#   asan-check       make check with LeakSanitizer on, halting on the first
#                    ASan/UBSan report
#   restore          make distclean; ./configure; make -j$JOBS (leaves a
#                    normal build behind)
#
# Environment (all optional):
#   FUZZ_SECONDS     seconds per fuzz target (default: FUZZ_TOTAL_SECONDS
#                    shared among the targets in test/fuzz)
#   FUZZ_TOTAL_SECONDS  the fuzz-run step's budget when FUZZ_SECONDS is not
#                    set (default 180: 30 s each for six targets)
#   JOBS             parallel make jobs (default 2)
#   CHECK_TIMEOUT    seconds allowed for each `make check` (default 1800):
#                    a hung test fails its step instead of stalling CI
#   SKIP_SETUP=1     do not run setup-debian.sh (packages already there)
#
# .ci/run runs this script.  It is safe to run again: every step starts
# from what the previous run left.

set -eu

FUZZ_TOTAL_SECONDS=${FUZZ_TOTAL_SECONDS:-180}
JOBS=${JOBS:-2}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-1800}
SKIP_SETUP=${SKIP_SETUP:-0}

cd "$(dirname "$0")/.."
TOP=$(pwd)

# Every fuzzer gets an equal share of the step's budget (at least 10 s),
# so adding a target does not lengthen CI.
if [ -z "${FUZZ_SECONDS:-}" ]; then
    nfuzz=$(find test/fuzz -maxdepth 1 -name 'fuzz_*.c' | wc -l)
    [ "$nfuzz" -gt 0 ] || nfuzz=1
    FUZZ_SECONDS=$((FUZZ_TOTAL_SECONDS / nfuzz))
    [ "$FUZZ_SECONDS" -ge 10 ] || FUZZ_SECONDS=10
fi

started=$(date +%s)
step_started=$started
current=""
passed=""
sanitizer_tree=no

# elapsed SECONDS -> "1h02m03s" / "2m03s" / "3s"
elapsed() {
    e_s=$1
    if [ "$e_s" -ge 3600 ]; then
        printf '%dh%02dm%02ds' $((e_s / 3600)) $((e_s % 3600 / 60)) $((e_s % 60))
    elif [ "$e_s" -ge 60 ]; then
        printf '%dm%02ds' $((e_s / 60)) $((e_s % 60))
    else
        printf '%ds' "$e_s"
    fi
}

summary() {
    now=$(date +%s)
    echo
    echo "=== run-tests.sh summary"
    if [ -n "$passed" ]; then
        printf '%s\n' "$passed" | sed -e '/^$/d' -e 's/^/  passed  /'
    else
        echo "  (no step passed)"
    fi
    echo "  total time: $(elapsed $((now - started)))"
}

on_exit() {
    rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        summary
        echo
        if [ -n "$current" ]; then
            echo "run-tests.sh: FAILED at step '$current' (exit status $rc)." >&2
        else
            echo "run-tests.sh: FAILED (exit status $rc)." >&2
        fi
        if [ "$sanitizer_tree" = yes ]; then
            echo "run-tests.sh: the tree now holds a sanitizer build; for a" \
                "normal one: make distclean && ./configure && make" >&2
        fi
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME DESCRIPTION: announce the next step.
step() {
    current=$1
    step_started=$(date +%s)
    echo
    echo "======================================================================"
    echo "=== [$1] $2"
    echo "=== $(date '+%Y-%m-%d %H:%M:%S'), $(elapsed $((step_started - started))) since start"
    echo "======================================================================"
}

# bounded SECONDS COMMAND...: run COMMAND; past SECONDS it is stopped
# (TERM, then KILL 30 s later) and the step fails saying so.
bounded() {
    b_limit=$1
    shift
    b_rc=0
    timeout -k 30 "$b_limit" "$@" || b_rc=$?
    if [ "$b_rc" -eq 124 ] || [ "$b_rc" -eq 137 ]; then
        echo "run-tests.sh: '$*' did not finish within $b_limit s:" \
            "stopped (a test hangs?)" >&2
    fi
    return "$b_rc"
}

# done_step: record the current step as passed.
done_step() {
    now=$(date +%s)
    passed="$passed
$(printf '%-15s %s' "$current" "$(elapsed $((now - step_started)))")"
    echo "=== [$current] passed in $(elapsed $((now - step_started)))"
    current=""
}

if [ "$(id -u)" -ne 0 ] && [ "$SKIP_SETUP" != 1 ]; then
    echo "run-tests.sh: run as root (setup-debian.sh installs packages)," \
        "or set SKIP_SETUP=1 when every package is already there" >&2
    exit 1
fi

echo "run-tests.sh: testing Relais in $TOP"

if [ "$SKIP_SETUP" != 1 ]; then
    step setup "install build and test packages (support/setup-debian.sh --test)"
    sh support/setup-debian.sh --test
    done_step
fi

step configure "./configure"
./configure
done_step

step build "make -j$JOBS"
make -j"$JOBS"
done_step

step check "make check (unit tests, then integration tests)"
bounded "$CHECK_TIMEOUT" make check
done_step

step cppcheck "make cppcheck"
make cppcheck
done_step

step format-check "make format-check"
make format-check
done_step

step fuzz-build "make fuzz"
make fuzz
done_step

step fuzz-run "make fuzz-run FUZZ_SECONDS=$FUZZ_SECONDS"
make fuzz-run FUZZ_SECONDS="$FUZZ_SECONDS"
done_step

step valgrind "sh test/valgrind/cycle.sh (memcheck through a server's life)"
bounded 900 sh test/valgrind/cycle.sh build
done_step

# The sanitizer pass: everything (relaisd, the MPMs, the modules, the unit
# tests) rebuilt with -fsanitize=address,undefined, then the whole suite.
# abort_on_error/halt_on_error turn any report into a failed test; leaks
# are checked when a process exits normally (relaisd's parent, the unit
# test programs).  test/lsan.supp lists known leaks inside libraries we
# do not own, if any (one comment per entry).
step asan-configure "make distclean; ./configure --enable-sanitizers"
sanitizer_tree=yes
if [ -f Makefile ]; then
    make distclean
fi
./configure --enable-sanitizers
done_step

step asan-build "make -j$JOBS (ASan + UBSan)"
make -j"$JOBS"
done_step

step asan-check "make check under ASan + UBSan, LeakSanitizer on"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
if [ -f test/lsan.supp ]; then
    LSAN_OPTIONS="suppressions=$TOP/test/lsan.supp:print_suppressions=0"
    export LSAN_OPTIONS
fi
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
bounded "$CHECK_TIMEOUT" make check
unset ASAN_OPTIONS UBSAN_OPTIONS
unset LSAN_OPTIONS 2>/dev/null || true
done_step

step restore "make distclean; ./configure; make -j$JOBS (a normal build again)"
make distclean
./configure
make -j"$JOBS"
sanitizer_tree=no
done_step

current=""
summary
echo
echo "run-tests.sh: all steps passed."
