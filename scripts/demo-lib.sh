# shellcheck shell=bash
# Shared by scripts/demo.sh and scripts/demo-ha.sh (sourced, after `cd` to the repository and
# setting PY, STARTUP_SECONDS and STOP_SECONDS): `start NAME COMMAND...` runs a process in its own
# session, and the one cleanup trap stops them all (and then runs `after_cleanup` if the script
# defines one); readiness and port checks.

names=()
pids=()
stopped=0

say() { printf 'demo: %s\n' "$*" >&2; }

start() { # start NAME COMMAND...: run in the background, in its own session, until cleanup
    local name=$1
    shift
    setsid "$@" &
    pids+=("$!")
    names+=("$name")
    say "started $name (pid $!)"
}

# shellcheck disable=SC2329  # invoked by the traps below
cleanup() { # stop_all, then the script's after_cleanup (if it defines one); once
    ((stopped)) && return 0
    stopped=1
    stop_all
    if declare -F after_cleanup >/dev/null; then after_cleanup; fi
}

# shellcheck disable=SC2329  # invoked by cleanup
stop_all() { # TERM every process group started, KILL what is left after STOP_SECONDS, reap all
    ((${#pids[@]})) || return 0
    say "stopping ${names[*]}"
    local pid
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    local deadline=$((SECONDS + STOP_SECONDS))
    while ((SECONDS < deadline)) && any_alive; do sleep 0.1; done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

stop_last() { # stop the process started last (TERM, then KILL after STOP_SECONDS) and forget it
    local pid=${pids[-1]} deadline=$((SECONDS + STOP_SECONDS))
    say "stopping ${names[-1]}"
    kill -TERM -- "-$pid" 2>/dev/null || true
    while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'pids[-1]' 'names[-1]'
}

# shellcheck disable=SC2329  # invoked by cleanup
any_alive() {
    local pid
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

trap cleanup EXIT
trap 'cleanup; trap - INT; kill -INT $$' INT
trap 'cleanup; trap - TERM; kill -TERM $$' TERM

http_ok() { # http_ok URL: true when the URL answers 2xx
    if command -v curl >/dev/null 2>&1; then
        curl -fs -o /dev/null --max-time 2 "$1"
    else
        "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "$1" 2>/dev/null
    fi
}

wait_until_up() { # wait_until_up NAME PID URL: poll URL until it answers, the process dies or time runs out
    local name=$1 pid=$2 url=$3 deadline=$((SECONDS + STARTUP_SECONDS))
    until http_ok "$url"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "$name exited before $url answered"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            say "$name did not answer at $url within $STARTUP_SECONDS s"
            return 1
        fi
        sleep 0.2
    done
}

# shellcheck disable=SC2016  # $1 and $2 belong to the inner bash
port_busy() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' port_busy "$1" "$2" 2>/dev/null; }

