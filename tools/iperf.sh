#!/usr/bin/env bash
# iperf3 through rvnic (`rvnic tap`: two network namespaces whose TAP devices are bridged to a pair
# of rvnic adapters running on ndis-host) and, in the same run, over a veth pair between two
# namespaces as the anchor, and through the same bridge without the driver (`rvnic tap --direct`:
# the TAP plumbing's own ceiling, which shows what the driver and ndis-host cost on top of it).
# Three tests each: TCP one stream, TCP four streams, UDP 1472-byte datagrams. The anchor's veth has TSO/GSO/GRO and checksum offloads turned off, so both paths move
# MTU-sized frames one by one, as the TAP path must (it has no offloads). Prints a table, then as
# its last line exactly: tcp_ratio_vs_veth=<single-stream TCP, rvnic / veth>.
#
# Needs root, iproute2, iperf3, ethtool and python3; creates only namespaces named rvperf-* and
# addresses in 198.18.0.0/15, and removes them on exit, error or Ctrl-C.
#
#   sudo tools/iperf.sh [seconds-per-test]   (default 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-5}
[[ "$seconds" =~ ^[0-9]+$ ]] && (( seconds >= 1 && seconds <= 600 )) \
    || { echo "iperf.sh: seconds per test must be 1..600, not '$seconds'" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "iperf.sh: needs root (network namespaces, TAP devices)" >&2; exit 2; }
[ -c /dev/net/tun ] || { echo "iperf.sh: /dev/net/tun is missing" >&2; exit 2; }
for tool in ip iperf3 ethtool python3; do
    command -v "$tool" >/dev/null || { echo "iperf.sh: $tool is not installed" >&2; exit 2; }
done

cargo build --release --quiet -p rvnic-cli
rvnic=target/release/rvnic
tap_pid=
tap_log=$(mktemp)

cleanup() {
    if [ -n "$tap_pid" ] && kill -0 "$tap_pid" 2>/dev/null; then
        kill -INT "$tap_pid" 2>/dev/null || true
        wait "$tap_pid" 2>/dev/null || true
    fi
    for ns in rvperf-va rvperf-vb rvperf-0 rvperf-1 rvperfd-0 rvperfd-1; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -f "$tap_log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bits per second a JSON report of iperf3 gives (receiver side), and UDP loss when asked.
bps() { python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["end"]; s=e.get("sum_received") or e["sum"]; print(int(s["bits_per_second"]))'; }
loss() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["end"]["sum"].get("lost_percent", 0.0), 2))'; }

# run_tests SERVER_NS CLIENT_NS SERVER_ADDRESS: prints "tcp1 tcp4 udp udp_loss".
run_tests() {
    local server=$1 client=$2 address=$3
    ip netns exec "$server" iperf3 -s -D -p 5201 --logfile /dev/null
    sleep 0.3
    local tcp1 tcp4 udp udp_json
    tcp1=$(ip netns exec "$client" iperf3 -c "$address" -p 5201 -t "$seconds" -J | bps)
    tcp4=$(ip netns exec "$client" iperf3 -c "$address" -p 5201 -t "$seconds" -P 4 -J | bps)
    udp_json=$(ip netns exec "$client" iperf3 -c "$address" -p 5201 -t "$seconds" -u -l 1472 -b 0 -J)
    udp=$(bps <<<"$udp_json")
    echo "$tcp1 $tcp4 $udp $(loss <<<"$udp_json")"
    ip netns exec "$server" pkill -f 'iperf3 -s' 2>/dev/null || true
}

echo "anchor: veth pair between two namespaces (MTU 1500, offloads off)"
ip netns add rvperf-va
ip netns add rvperf-vb
ip link add rvperf-va0 type veth peer name rvperf-vb0
ip link set rvperf-va0 netns rvperf-va
ip link set rvperf-vb0 netns rvperf-vb
for side in a b; do
    ns=rvperf-v$side dev=rvperf-v${side}0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" mtu 1500 up
    ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done
ip -n rvperf-va addr add 198.19.0.1/24 dev rvperf-va0
ip -n rvperf-vb addr add 198.19.0.2/24 dev rvperf-vb0
read -r v_tcp1 v_tcp4 v_udp v_loss < <(run_tests rvperf-vb rvperf-va 198.19.0.2)

# start_tap PREFIX [ARGS...]: starts `rvnic tap` and waits until it is ready.
start_tap() {
    local prefix=$1
    shift
    "$rvnic" tap --prefix "$prefix" --duration 3600 "$@" >"$tap_log" 2>&1 &
    tap_pid=$!
    for _ in $(seq 1 100); do
        grep -q '^ready:' "$tap_log" && return 0
        kill -0 "$tap_pid" 2>/dev/null || { cat "$tap_log" >&2; exit 1; }
        sleep 0.1
    done
    echo "iperf.sh: rvnic tap did not become ready" >&2
    cat "$tap_log" >&2
    exit 1
}

# stop_tap: stops it (Ctrl-C) and prints its summary.
stop_tap() {
    kill -INT "$tap_pid"
    wait "$tap_pid" || { cat "$tap_log" >&2; echo "iperf.sh: rvnic tap reported a failure" >&2; exit 1; }
    tap_pid=
    grep -E '^(adapter|device|verifier)' "$tap_log"
}

echo "bridge alone: the two TAP devices forwarded to each other without the driver (MTU 1500)"
start_tap rvperfd --direct
read -r d_tcp1 d_tcp4 d_udp d_loss < <(run_tests rvperfd-1 rvperfd-0 198.18.0.2)
stop_tap

echo "rvnic: a pair of adapters on ndis-host, bridged to TAP devices (MTU 1500)"
start_tap rvperf
read -r r_tcp1 r_tcp4 r_udp r_loss < <(run_tests rvperf-1 rvperf-0 198.18.0.2)
stop_tap

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
print(f"target: TCP >= 0.3x veth at MTU 1500: {'met' if v[0] and r[0] / v[0] >= 0.3 else 'not met'}")
print(f"tcp_ratio_vs_veth={r[0] / v[0] if v[0] else 0.0:.3f}")
EOF
