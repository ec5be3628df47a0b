#!/usr/bin/env bash
# iperf3 through rvnic (`rvnic tap`: two network namespaces whose TAP devices are bridged to a pair
# of rvnic adapters running on ndis-host) and, in the same run, over a veth pair between two
# namespaces as the anchor, and through the same bridge without the driver (`rvnic tap --direct`:
# the TAP plumbing's own ceiling, which shows what the driver and ndis-host cost on top of it).
# Three tests each: TCP one stream, TCP four streams, UDP 1472-byte datagrams. The anchor's veth has
# TSO/GSO/GRO and checksum offloads turned off, so both paths move MTU-sized frames one by one, as
# the TAP path must (it has no offloads). Prints a table, then as its last line exactly:
# tcp_ratio_vs_veth=<single-stream TCP, rvnic / veth>.
#
# It touches only what it creates: the namespaces rvperf-va and rvperf-vb (refused if either
# exists), the veth pair created inside them, the iperf3 servers it starts (stopped by their PIDs),
# and the `rvnic tap` runs (which make and remove their own namespaces rvperf-* and rvperfd-*).
# Everything is removed on exit, error, SIGINT, SIGTERM or SIGHUP.
#
# Needs root, iproute2 and python3; installs iperf3 and ethtool with apt-get when they are missing.
#
#   sudo tools/iperf.sh [seconds-per-test]   (1 to 600, default 5)
#   RVNIC=path/to/rvnic sudo -E tools/iperf.sh 1    (use a built rvnic instead of building one)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "iperf.sh: $*" >&2; exit 2; }

(( $# <= 1 )) || die "one argument at most (seconds per test), not $#: $*"
seconds=${1:-5}
# Digits only, no leading zero (bash reads 010 as octal 8), at most three (no wrap-around).
[[ "$seconds" =~ ^[1-9][0-9]{0,2}$ ]] && (( seconds <= 600 )) \
    || die "seconds per test must be a whole number from 1 to 600, not '$seconds'"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TAP devices)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing"
for tool in ip python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
missing=()
for pair in iperf3:iperf3 ethtool:ethtool; do
    command -v "${pair#*:}" >/dev/null || missing+=("${pair%%:*}")
done
if ((${#missing[@]})); then
    echo "iperf.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null \
        || die "apt-get install ${missing[*]} failed"
fi

veth_a=rvperf-va veth_b=rvperf-vb
for ns in "$veth_a" "$veth_b"; do
    [ ! -e "/run/netns/$ns" ] || die "network namespace $ns already exists (this script creates its own and removes only those)"
done

if [ -n "${RVNIC:-}" ]; then
    rvnic=$RVNIC
    [ -x "$rvnic" ] || die "RVNIC=$rvnic is not an executable"
else
    cargo build --release --quiet -p rvnic-cli
    rvnic=target/release/rvnic
fi

created_ns=()
pids=()
tap_pid=
tap_log=$(mktemp)

cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$tap_pid" ] && kill -0 "$tap_pid" 2>/dev/null; then
        kill -INT "$tap_pid" 2>/dev/null || true
        wait "$tap_pid" 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${created_ns[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -f "$tap_log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Bits per second a JSON report of iperf3 gives (receiver side), and UDP loss when asked.
bps() { python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["end"]; s=e.get("sum_received") or e["sum"]; print(int(s["bits_per_second"]))'; }
loss() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum"].get("lost_percent", 0.0), 2))'; }

# run_tests SERVER_NS CLIENT_NS SERVER_ADDRESS: prints "tcp1 tcp4 udp udp_loss". The server is this
# run's own process, stopped by its PID.
run_tests() {
    local server=$1 client=$2 address=$3 server_pid
    ip netns exec "$server" iperf3 -s -p 5201 --logfile /dev/null &
    server_pid=$!
    pids+=("$server_pid")
    sleep 0.3
    local tcp1 tcp4 udp udp_json
    tcp1=$(ip netns exec "$client" iperf3 -c "$address" -p 5201 -t "$seconds" -J | bps)
    tcp4=$(ip netns exec "$client" iperf3 -c "$address" -p 5201 -t "$seconds" -P 4 -J | bps)
    udp_json=$(ip netns exec "$client" iperf3 -c "$address" -p 5201 -t "$seconds" -u -l 1472 -b 0 -J)
    udp=$(bps <<<"$udp_json")
    echo "$tcp1 $tcp4 $udp $(loss <<<"$udp_json")"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}

echo "anchor: veth pair between two namespaces (MTU 1500, offloads off)"
for ns in "$veth_a" "$veth_b"; do
    ip netns add "$ns" || die "cannot create namespace $ns"
    created_ns+=("$ns")
done
# Created inside the new namespaces, so no device of the same name elsewhere is touched.
ip -n "$veth_a" link add rvperf-va0 type veth peer name rvperf-vb0 netns "$veth_b"
for side in a b; do
    ns=rvperf-v$side dev=rvperf-v${side}0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" mtu 1500 up
    ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done
ip -n "$veth_a" addr add 198.19.0.1/24 dev rvperf-va0
ip -n "$veth_b" addr add 198.19.0.2/24 dev rvperf-vb0
# The test's output is read from a file: a process substitution would hide its PIDs from cleanup.
results=$(mktemp)
run_tests "$veth_b" "$veth_a" 198.19.0.2 >"$results"
read -r v_tcp1 v_tcp4 v_udp v_loss <"$results"

# start_tap PREFIX [ARGS...]: starts `rvnic tap` and waits until it is ready.
start_tap() {
    local prefix=$1
    shift
    "$rvnic" tap --prefix "$prefix" --duration 3600 "$@" >"$tap_log" 2>&1 &
    tap_pid=$!
    for _ in $(seq 1 200); do
        grep -q '^ready:' "$tap_log" && return 0
        kill -0 "$tap_pid" 2>/dev/null || { cat "$tap_log" >&2; exit 1; }
        sleep 0.1
    done
    echo "iperf.sh: rvnic tap did not become ready" >&2
    cat "$tap_log" >&2
    exit 1
}

# stop_tap: stops it (SIGINT) and prints its summary.
stop_tap() {
    kill -INT "$tap_pid"
    wait "$tap_pid" || { cat "$tap_log" >&2; echo "iperf.sh: rvnic tap reported a failure" >&2; exit 1; }
    tap_pid=
    grep -E '^(adapter|device|verifier)' "$tap_log"
}

echo "bridge alone: the two TAP devices forwarded to each other without the driver (MTU 1500)"
start_tap rvperfd --direct
run_tests rvperfd-1 rvperfd-0 198.18.0.2 >"$results"
read -r d_tcp1 d_tcp4 d_udp d_loss <"$results"
stop_tap

echo "rvnic: a pair of adapters on ndis-host, bridged to TAP devices (MTU 1500)"
start_tap rvperf
run_tests rvperf-1 rvperf-0 198.18.0.2 >"$results"
read -r r_tcp1 r_tcp4 r_udp r_loss <"$results"
stop_tap
rm -f "$results"

python3 - "$v_tcp1" "$v_tcp4" "$v_udp" "$v_loss" "$r_tcp1" "$r_tcp4" "$r_udp" "$r_loss" \
    "$d_tcp1" "$d_tcp4" "$d_udp" "$d_loss" <<'EOF'
import sys
v = [float(x) for x in sys.argv[1:5]]
r = [float(x) for x in sys.argv[5:9]]
d = [float(x) for x in sys.argv[9:13]]
print()
print(f"{'test':<16}{'veth Mbit/s':>13}{'bridge alone':>14}{'rvnic Mbit/s':>14}{'x veth':>9}{'x bridge':>10}")
for name, i in [("TCP, 1 stream", 0), ("TCP, 4 streams", 1), ("UDP 1472 B", 2)]:
    vs_veth = r[i] / v[i] if v[i] else 0.0
    vs_bridge = r[i] / d[i] if d[i] else 0.0
    print(f"{name:<16}{v[i] / 1e6:>13.0f}{d[i] / 1e6:>14.0f}{r[i] / 1e6:>14.0f}{vs_veth:>8.3f}x{vs_bridge:>9.3f}x")
print(f"UDP loss: veth {v[3]}%, bridge alone {d[3]}%, rvnic {r[3]}%")
print(f"tcp_ratio_vs_veth={r[0] / v[0] if v[0] else 0.0:.3f}")
EOF
