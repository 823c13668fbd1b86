#!/usr/bin/env bash
# Requests per second of `synack serve` beside nginx on the same machine, in the same run: wrk
# against one 11 KiB file, keep-alive and `Connection: close`, at 1 and 64 connections. Prints
# each server's requests per second, the ratio synack ÷ nginx, and each server's CPU time per
# request (from /proc). Nothing is asserted.
#
# The servers run on the first half of the cores and wrk on the other half (PIN=0 leaves all
# three to the scheduler). At one connection a request's time is mostly the two ends waking each
# other, and where the scheduler puts them decides it: on this 2-core machine one server's rate at
# one connection was 5 000 requests/s with wrk on the other core and 18 000 on the same core, and
# unpinned runs landed anywhere between. Pinned, both servers meet the same placement, so the
# ratio compares the servers, not the scheduler's choices; and wrk never takes a server's CPU.
# At one connection the cases run in two placements: wrk on its own core, and "shared", wrk on
# the server's core. Across cores a request waits for two cross-core wake-ups, which on a virtual
# machine cost more CPU than the request itself (about 100 µs of the server core's time per
# request here, against 25 µs shared) and move from run to run; shared, the rate is what both
# ends' work and two context switches allow, so the servers' own work shows.
#
# Traffic stays on 127.0.0.1. Installs wrk and nginx with apt-get when missing (needs root then).
# Every load is bounded by DURATION and a timeout. Knobs (environment):
#   DURATION=3 REPEATS=9 SYNACK_PORT=18081 NGINX_PORT=18082 KEEP=0 PIN=1
set -euo pipefail

DURATION=${DURATION:-3}
REPEATS=${REPEATS:-9}
SYNACK_PORT=${SYNACK_PORT:-18081}
NGINX_PORT=${NGINX_PORT:-18082}
KEEP=${KEEP:-0}
PIN=${PIN:-1}

# The cores of the servers and of wrk: the first half and the rest (none pinned on one core).
cores=$(nproc)
if [[ $PIN == 1 && $cores -ge 2 ]]; then
    server_cpus="0-$((cores / 2 - 1))"
    client_cpus="$((cores / 2))-$((cores - 1))"
    on_servers=(taskset -c "$server_cpus")
    on_client=(taskset -c "$client_cpus")
    # At one connection also with wrk beside the server on its first core (see "shared" below).
    beside_server=(taskset -c 0)
    placement="servers on cores $server_cpus, wrk on cores $client_cpus (\"shared\": core 0)"
    workers=$((cores / 2))
else
    on_servers=() on_client=() beside_server=()
    placement="unpinned"
    workers=auto
fi

cd "$(dirname "$0")/.."
BIN=target/release/synack

# --- Tools ---------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "bench/serve.sh needs ${missing[*]}: install them, or run it as root to have it do so" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
echo "building synack (release)" >&2
timeout 600 cargo build --release -q

# --- Servers, and the clean-up of everything this script starts or writes -----------------------
work=$(mktemp -d /tmp/synack-serve-bench.XXXXXX)
synack_pid="" nginx_pid=""
cleanup() {
    local status=$?
    # A killed server's wait status is not a failure of the script.
    set +e
    [[ -n $synack_pid ]] && kill "$synack_pid" 2>/dev/null && wait "$synack_pid" 2>/dev/null
    [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    if [[ $KEEP == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$SYNACK_PORT" "$NGINX_PORT"; do
    if ss -Htln "sport = :$port" | grep -q .; then
        echo "port $port is in use; choose others with SYNACK_PORT=... NGINX_PORT=..." >&2
        exit 1
    fi
done

mkdir -p "$work/site" "$work/nginx"
head -c 11264 /dev/urandom >"$work/site/page.bin"

# One worker per core it may run on, as nginx is usually run; the file from the page cache with
# sendfile.
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        root $work/site;
    }
}
CONF
"${on_servers[@]}" "$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" >"$work/nginx/start.log" 2>&1 &
nginx_pid=$!
"${on_servers[@]}" "$BIN" serve --root "$work/site" --bind "127.0.0.1:$SYNACK_PORT" \
    >"$work/synack.log" 2>&1 &
synack_pid=$!
for port in "$SYNACK_PORT" "$NGINX_PORT"; do
    for _ in $(seq 100); do
        ss -Htln "sport = :$port" | grep -q . && break
        sleep 0.1
    done
    ss -Htln "sport = :$port" | grep -q . || {
        echo "no server on port $port:" >&2
        cat "$work/synack.log" "$work/nginx/start.log" >&2
        exit 1
    }
done

# --- Load ----------------------------------------------------------------------------------------
TICK=$(getconf CLK_TCK)

# The processes that serve: synack's one, nginx's workers.
server_pids() {
    if [[ $1 == "$SYNACK_PORT" ]]; then echo "$synack_pid"; else pgrep -P "$nginx_pid"; fi
}

# CPU time (user + system, in clock ticks) the given processes have used so far.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        # Fields 14 and 15 of /proc/PID/stat, counted after the command name's closing parenthesis.
        total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
    done
    echo "$total"
}

# One wrk run: run PORT CONNECTIONS [HEADER...] prints its requests per second and the server's
# CPU time per request in µs.
run() {
    local port=$1 connections=$2
    shift 2
    local threads=$((connections < 2 ? 1 : 2))
    local args=() pids before after out
    for header in "$@"; do args+=(-H "$header"); done
    mapfile -t pids < <(server_pids "$port")
    before=$(cpu_ticks "${pids[@]}")
    out=$(timeout $((DURATION + 30)) "${wrk_pin[@]}" wrk -t "$threads" -c "$connections" -d "${DURATION}s" \
        "${args[@]}" "http://127.0.0.1:$port/page.bin")
    after=$(cpu_ticks "${pids[@]}")
    awk -v used=$((after - before)) -v tick="$TICK" '
        / requests in / { requests = $1 }
        /^Requests\/sec:/ { rate = $2 }
        END { print rate + 0, (requests > 0 ? used / tick * 1e6 / requests : 0) }' <<<"$out"
}

# REPEATS pairs of runs, one of each server back to back, the first of a pair being synack and
# nginx by turns, so that drift in the machine's load hits both alike and neither always runs
# first. Each pair gives a ratio; the median ratio (not the ratio of the best runs, so one lucky
# run does not decide) and its quartiles say where synack stands and how far the machine let the
# figure move. pair CONNECTIONS [HEADER...] prints "SYNACK_RPS NGINX_RPS RATIO Q1 Q3 SYNACK_CPU
# NGINX_CPU" (rates and CPU times are medians).
pair() {
    local connections=$1
    shift
    local s_rate=() n_rate=() s_cpu=() n_cpu=() ratios=() rate cpu s n i
    for i in $(seq "$REPEATS"); do
        if ((i % 2)); then
            read -r s cpu < <(run "$SYNACK_PORT" "$connections" "$@")
            s_cpu+=("$cpu")
            read -r n cpu < <(run "$NGINX_PORT" "$connections" "$@")
            n_cpu+=("$cpu")
        else
            read -r n cpu < <(run "$NGINX_PORT" "$connections" "$@")
            n_cpu+=("$cpu")
            read -r s cpu < <(run "$SYNACK_PORT" "$connections" "$@")
            s_cpu+=("$cpu")
        fi
        s_rate+=("$s") n_rate+=("$n")
        ratios+=("$(awk -v s="$s" -v n="$n" 'BEGIN { print (n > 0 ? s / n : 0) }')")
    done
    echo "$(median "${s_rate[@]}") $(median "${n_rate[@]}") $(quantile 0.5 "${ratios[@]}")" \
        "$(quantile 0.25 "${ratios[@]}") $(quantile 0.75 "${ratios[@]}")" \
        "$(median "${s_cpu[@]}") $(median "${n_cpu[@]}")"
}

# The median of its arguments (a missing figure counts as 0).
median() {
    quantile 0.5 "$@"
}

# quantile Q VALUES...: the Q-quantile of the values, interpolated between the two nearest
# (a missing figure counts as 0).
quantile() {
    local q=$1
    shift
    printf '%s\n' "$@" | awk '{ print ($0 == "" ? 0 : $0) }' | sort -g |
        awk -v q="$q" '{ v[NR] = $1 }
            END { h = (NR - 1) * q + 1; lo = int(h); print v[lo] + (h - lo) * (v[lo + 1] - v[lo]) }'
}

# Requests per second, the ratio with its quartiles, and the servers' CPU time per request
# (steadier than the rate on a shared machine, where the rate at one connection moves with the
# scheduling of both ends).
printf '%-21s %12s %12s %8s %13s %14s %14s\n' "case (11 KiB)" "synack req/s" "nginx req/s" \
    "ratio" "quartiles" "synack CPU/req" "nginx CPU/req"
# At one connection, pinned, each case runs twice: wrk on its own core (a request then waits for
# each end to wake the other across cores, which on a virtual machine is most of its time), and
# "shared", wrk on the server's core (a request then costs both ends' CPU time and two context
# switches, so the servers' own work shows). At 64 connections wrk keeps its own core, so that it
# never takes the servers' CPU.
for mode in keep-alive close; do
    for connections in 1 64; do
        placements=(own)
        [[ $connections == 1 && ${#beside_server[@]} -gt 0 ]] && placements+=(shared)
        for where in "${placements[@]}"; do
            wrk_pin=("${on_client[@]}")
            label="$mode c=$connections"
            if [[ $where == shared ]]; then
                wrk_pin=("${beside_server[@]}")
                label+=" shared"
            fi
            headers=()
            [[ $mode == close ]] && headers=("Connection: close")
            read -r s n ratio q1 q3 sc nc < <(pair "$connections" "${headers[@]}")
            printf '%-21s %12.0f %12.0f %7.2f× %6.2f–%.2f× %11.1f µs %11.1f µs\n' "$label" \
                "$s" "$n" "$ratio" "$q1" "$q3" "$sc" "$nc"
        done
    done
done
nginx_workers=$(pgrep -c -P "$nginx_pid")
worker_word=workers
[[ $nginx_workers == 1 ]] && worker_word=worker
echo "wrk ${DURATION}s per run; ratio: the median of $REPEATS paired runs (quartiles beside it);" \
    "$cores cores, $placement; nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //')" \
    "with $nginx_workers $worker_word"
