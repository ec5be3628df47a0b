#!/usr/bin/env bash
# iperf3 through rvnic (`rvnic tap`: two network namespaces whose TAP devices are bridged to a pair
# of rvnic adapters running on ndis-host) and, in the same run, over a veth pair between two
# namespaces as the anchor, and through the same bridge without the driver (`rvnic tap --direct`:
# the TAP plumbing's own ceiling, which shows what the driver and ndis-host cost on top of it).
# Three tests each: TCP one stream, TCP four streams, UDP 1472-byte datagrams.
#
# Each path runs with offloads off and on. Off: the veth has TSO/GSO/GRO and checksum offloads
# turned off and rvnic runs `--offload off`, so both move MTU-sized frames with checksums the
# stacks compute. On: the veth keeps its defaults, and rvnic's TAP devices carry virtio-net headers
# (checksum offload, TSO), which the bridge turns into LSOv2 and checksum-offload sends, and RSC
# and checksum results back (`rvnic tap --offload on`). Prints a table, then as its last two lines
# exactly (single-stream TCP, same run):
#   tcp_ratio_vs_veth_offload=<rvnic with offloads / veth with offloads on>
#   tcp_ratio_vs_veth=<rvnic with offloads / veth with offloads off>
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

echo "anchor: veth pair between two namespaces (MTU 1500), offloads off, then on"
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
for side in a b; do
    ip netns exec "rvperf-v$side" ethtool -K "rvperf-v${side}0" tso on gso on gro on tx on rx on >/dev/null 2>&1 || true
done
run_tests "$veth_b" "$veth_a" 198.19.0.2 >"$results"
read -r vo_tcp1 vo_tcp4 vo_udp vo_loss <"$results"

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

for mode in off on; do
    echo "bridge alone, offloads $mode: the two TAP devices forwarded to each other without the driver"
    start_tap rvperfd --direct --offload "$mode"
    run_tests rvperfd-1 rvperfd-0 198.18.0.2 >"$results"
    read -r "d_${mode}_tcp1" "d_${mode}_tcp4" "d_${mode}_udp" "d_${mode}_loss" <"$results"
    stop_tap
    echo "rvnic, offloads $mode: a pair of adapters on ndis-host, bridged to TAP devices (MTU 1500)"
    start_tap rvperf --offload "$mode"
    run_tests rvperf-1 rvperf-0 198.18.0.2 >"$results"
    read -r "r_${mode}_tcp1" "r_${mode}_tcp4" "r_${mode}_udp" "r_${mode}_loss" <"$results"
    stop_tap
done
rm -f "$results"

python3 - "$v_tcp1" "$v_tcp4" "$v_udp" "$v_loss" "$vo_tcp1" "$vo_tcp4" "$vo_udp" "$vo_loss" \
    "$d_off_tcp1" "$d_off_tcp4" "$d_off_udp" "$d_off_loss" "$d_on_tcp1" "$d_on_tcp4" "$d_on_udp" "$d_on_loss" \
    "$r_off_tcp1" "$r_off_tcp4" "$r_off_udp" "$r_off_loss" "$r_on_tcp1" "$r_on_tcp4" "$r_on_udp" "$r_on_loss" <<'EOF'
import sys
x = [float(a) for a in sys.argv[1:]]
veth, veth_on, bridge, bridge_on, rvnic, rvnic_on = (x[i:i + 4] for i in range(0, 24, 4))
ratio = lambda a, b: a / b if b else 0.0
print()
print(f"{'Mbit/s':<16}{'veth':>8}{'bridge':>8}{'rvnic':>8}{'x veth':>8}{'veth+o':>9}{'bridge+o':>9}{'rvnic+o':>9}{'x veth+o':>9}{'x veth':>8}")
for name, i in [("TCP, 1 stream", 0), ("TCP, 4 streams", 1), ("UDP 1472 B", 2)]:
    print(
        f"{name:<16}{veth[i] / 1e6:>8.0f}{bridge[i] / 1e6:>8.0f}{rvnic[i] / 1e6:>8.0f}{ratio(rvnic[i], veth[i]):>7.3f}x"
        f"{veth_on[i] / 1e6:>9.0f}{bridge_on[i] / 1e6:>9.0f}{rvnic_on[i] / 1e6:>9.0f}"
        f"{ratio(rvnic_on[i], veth_on[i]):>8.3f}x{ratio(rvnic_on[i], veth[i]):>7.3f}x"
    )
print("(+o: offloads on; the last column is rvnic with offloads against veth without)")
print(f"UDP loss: veth {veth[3]}%/{veth_on[3]}%, bridge {bridge[3]}%/{bridge_on[3]}%, rvnic {rvnic[3]}%/{rvnic_on[3]}% (off/on)")
print(f"tcp_ratio_vs_veth_offload={ratio(rvnic_on[0], veth_on[0]):.3f}")
print(f"tcp_ratio_vs_veth={ratio(rvnic_on[0], veth[0]):.3f}")
EOF
