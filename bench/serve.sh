#!/usr/bin/env bash
# Requests per second of `synack serve` beside nginx on the same machine, in the same run: wrk
# against one 11 KiB file, keep-alive and `Connection: close`, at 1 and 64 connections. Prints
# each server's requests per second, the ratio synack ÷ nginx, and each server's CPU time per
# request (from /proc). Nothing is asserted.
#
# Traffic stays on 127.0.0.1. Installs wrk and nginx with apt-get when missing (needs root then).
# Every load is bounded by DURATION and a timeout. Knobs (environment):
#   DURATION=5 REPEATS=5 SYNACK_PORT=18081 NGINX_PORT=18082 KEEP=0
set -euo pipefail

DURATION=${DURATION:-5}
REPEATS=${REPEATS:-5}
SYNACK_PORT=${SYNACK_PORT:-18081}
NGINX_PORT=${NGINX_PORT:-18082}
KEEP=${KEEP:-0}

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

# One worker per core, as nginx is usually run; the file from the page cache with sendfile.
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
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
"$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" >"$work/nginx/start.log" 2>&1 &
nginx_pid=$!
"$BIN" serve --root "$work/site" --bind "127.0.0.1:$SYNACK_PORT" >"$work/synack.log" 2>&1 &
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
    out=$(timeout $((DURATION + 30)) wrk -t "$threads" -c "$connections" -d "${DURATION}s" \
        "${args[@]}" "http://127.0.0.1:$port/page.bin")
    after=$(cpu_ticks "${pids[@]}")
    awk -v used=$((after - before)) -v tick="$TICK" '
        / requests in / { requests = $1 }
        /^Requests\/sec:/ { rate = $2 }
        END { print rate + 0, (requests > 0 ? used / tick * 1e6 / requests : 0) }' <<<"$out"
}

# The medians of REPEATS runs for each server, the two taking turns run by run so that drift in
# the machine's load hits both alike (the median, not the best, so one lucky run does not decide):
# pair CONNECTIONS [HEADER...] prints "SYNACK_RPS NGINX_RPS SYNACK_CPU NGINX_CPU".
pair() {
    local connections=$1
    shift
    local s_rate=() n_rate=() s_cpu=() n_cpu=() rate cpu
    for _ in $(seq "$REPEATS"); do
        read -r rate cpu < <(run "$SYNACK_PORT" "$connections" "$@")
        s_rate+=("$rate") s_cpu+=("$cpu")
        read -r rate cpu < <(run "$NGINX_PORT" "$connections" "$@")
        n_rate+=("$rate") n_cpu+=("$cpu")
    done
    echo "$(median "${s_rate[@]}") $(median "${n_rate[@]}") $(median "${s_cpu[@]}")" \
        "$(median "${n_cpu[@]}")"
}

# The median of its arguments (a missing figure counts as 0).
median() {
    printf '%s\n' "$@" | awk '{ print ($0 == "" ? 0 : $0) }' | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# Requests per second, and the servers' CPU time per request (less noisy than the rate on a shared
# machine, where the rate at one connection moves with the scheduling of both ends).
printf '%-17s %12s %12s %8s %14s %14s\n' "case (11 KiB)" "synack req/s" "nginx req/s" \
    "ratio" "synack CPU/req" "nginx CPU/req"
for mode in keep-alive close; do
    for connections in 1 64; do
        headers=()
        [[ $mode == close ]] && headers=("Connection: close")
        read -r s n sc nc < <(pair "$connections" "${headers[@]}")
        printf '%-17s %12.0f %12.0f %7.2f× %11.1f µs %11.1f µs\n' "$mode c=$connections" "$s" "$n" \
            "$(awk -v s="$s" -v n="$n" 'BEGIN { print (n > 0 ? s / n : 0) }')" "$sc" "$nc"
    done
done
echo "wrk ${DURATION}s per run, median of $REPEATS; $(nproc) cores; nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //')"
