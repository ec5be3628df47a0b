//! `rvnic tap` (Linux, root): real TCP/IP stacks exchanging traffic through the driver.
//!
//! Each adapter gets a TAP device inside a network namespace this command creates, with an address
//! from 198.18.0.0/15 (the benchmarking range). What the namespace's stack transmits on the TAP
//! device is sent into the adapter (as a protocol's send), and what the adapter indicates is written
//! back to the TAP device (as a protocol's receive). So `ip netns exec rvnic-0 ping 198.18.0.2`
//! crosses the driver's send path, the wire, and the peer's receive path.
//!
//! Everything the command creates is removed when it ends: on `--duration`, on Ctrl-C, on error.

use std::io::Write as _;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use ndis::*;
use ndis_host::{Config, Host, Mode, SendOptions};
use tun_rs::{DeviceBuilder, InterruptEvent, Layer};

use crate::run::{Setting, Topology};

#[derive(Debug, Clone, Args)]
pub struct TapArgs {
    /// How the adapters are wired.
    #[arg(long, value_enum, default_value_t = Topology::Pair)]
    pub topology: Topology,
    /// Number of adapters, each with its TAP device and namespace.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub adapters: u8,
    /// Names: namespaces PREFIX-0, PREFIX-1, ...; TAP devices PREFIX0, PREFIX1, ...
    #[arg(long, default_value = "rvnic")]
    pub prefix: String,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    /// A registry keyword for every adapter, e.g. --set '*JumboPacket=9014'.
    #[arg(long = "set", value_name = "KEYWORD=VALUE")]
    pub settings: Vec<Setting>,
}

/// What the command created, removed when dropped (on every exit path).
struct Created {
    namespaces: Vec<String>,
}

impl Drop for Created {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            // Deleting the namespace deletes the TAP device that was moved into it.
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip ({e}): is iproute2 installed?"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Refuses to start without what the command needs, with one line saying what is missing.
fn preflight(args: &TapArgs) -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("rvnic tap needs Linux (TAP devices and network namespaces)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun does not exist: load the tun module or run where TAP devices work".into());
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_err()
    {
        return Err("cannot open /dev/net/tun: rvnic tap needs root (CAP_NET_ADMIN)".into());
    }
    let name_ok = !args.prefix.is_empty()
        && args.prefix.len() <= 12
        && args.prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok {
        return Err(format!(
            "prefix '{}' must be 1 to 12 letters, digits or '-' (interface names are at most 15 bytes)",
            args.prefix
        ));
    }
    if args.topology == Topology::Pair && !args.adapters.is_multiple_of(2) {
        return Err(format!(
            "a pair topology needs an even number of adapters, not {}",
            args.adapters
        ));
    }
    if args
        .duration
        .is_some_and(|d| !(d.is_finite() && d > 0.0 && d <= 86_400.0))
    {
        return Err("--duration must be in (0, 86400] seconds".into());
    }
    Ok(())
}

pub fn run(args: &TapArgs) -> ExitCode {
    if let Err(e) = preflight(args) {
        eprintln!("rvnic tap: {e}");
        return ExitCode::from(2);
    }
    match bridge(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rvnic tap: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Frames waiting for a TAP device's writer thread; beyond this they are dropped (and counted), as
/// a full receive queue of a stack drops them.
const WRITE_QUEUE: usize = 4096;

/// Sends of a batch before its refused frames are given up.
const RETRIES: usize = 64;

/// Counters of one adapter's bridge.
#[derive(Debug, Default)]
struct Flow {
    /// Frames read from the TAP device and sent into the adapter.
    to_driver: AtomicU64,
    /// Frames the adapter indicated and that were written to the TAP device.
    to_stack: AtomicU64,
    /// Frames the TAP device would not take (its queue was full), or that found the writer's
    /// queue full.
    stack_full: AtomicU64,
    /// Frames the adapter still refused after [`RETRIES`] sends (lost).
    given_up: AtomicU64,
}

fn bridge(args: &TapArgs) -> Result<bool, String> {
    let n = usize::from(args.adapters);
    let stop = Arc::new(InterruptEvent::new().map_err(|e| format!("interrupt event: {e}"))?);
    let stopping = Arc::new(AtomicBool::new(false));
    {
        let (stop, stopping) = (Arc::clone(&stop), Arc::clone(&stopping));
        ctrlc::set_handler(move || {
            stopping.store(true, Ordering::Release);
            let _ = stop.trigger();
        })
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    }
    let mut created = Created {
        namespaces: Vec::new(),
    };
    let host = Host::builder()
        .mode(Mode::Concurrent)
        .cpus(n)
        .capture_frames(false)
        .build();
    host.load(rvnic::driver::driver_entry)
        .map_err(|e| format!("DriverEntry failed: {e}"))?;
    let mut config = Config::new().with("Topology", args.topology.keyword());
    for s in &args.settings {
        config.set(s.keyword, s.value.as_str());
    }
    let mut adapters = Vec::new();
    let mut devices = Vec::new();
    let mut writers = Vec::new();
    let flows: Vec<Flow> = (0..n).map(|_| Flow::default()).collect();
    let flows = Arc::new(flows);
    for i in 0..n {
        let a = host
            .start_adapter(config.clone())
            .map_err(|s| format!("adapter {i} failed to start: NDIS status {s:#010x}"))?;
        let filter = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST;
        host.oid_set(a, OID_GEN_CURRENT_PACKET_FILTER, &filter.to_le_bytes());
        let mac = crate::run::address(&host, a);
        let mtu = host.oid_query(a, OID_GEN_MAXIMUM_FRAME_SIZE, 4).data;
        let mtu = mtu
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(1500, u32::from_le_bytes);
        let ns = format!("{}-{i}", args.prefix);
        let name = format!("{}{i}", args.prefix);
        ip(&["netns", "add", &ns])?;
        created.namespaces.push(ns.clone());
        let device = DeviceBuilder::new()
            .name(&name)
            .layer(Layer::L2)
            .mtu(u16::try_from(mtu).unwrap_or(1500))
            .build_sync()
            .map_err(|e| format!("cannot create TAP device {name}: {e}"))?;
        device.set_nonblocking(true).map_err(|e| format!("{name}: {e}"))?;
        ip(&["link", "set", &name, "netns", &ns])?;
        let address = format!("198.18.0.{}/24", i + 1);
        let mac_text = mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "link", "set", &name, "address", &mac_text])?;
        ip(&["-n", &ns, "addr", "add", &address, "dev", &name])?;
        ip(&["-n", &ns, "link", "set", &name, "up"])?;
        let device = Arc::new(device);
        // Indicated frames go to this adapter's writer thread, not straight into the TAP device: a
        // write runs the receiving stack's TCP/IP in the writer's context, and doing that inside the
        // indication would make whichever CPU drains the wire do every stack's receive work.
        let (to_writer, from_drain) = crossbeam_channel::bounded::<Vec<u8>>(WRITE_QUEUE);
        let sink_flows = Arc::clone(&flows);
        host.set_receive_sink(
            a,
            Arc::new(move |frame: &[u8]| {
                if to_writer.try_send(frame.to_vec()).is_err() {
                    sink_flows[i].stack_full.fetch_add(1, Ordering::Relaxed);
                }
            }),
        );
        writers.push(from_drain);
        println!("{ns}: {name} {address} mac {mac_text} <-> rvnic adapter {i}");
        adapters.push(a);
        devices.push(device);
    }
    println!(
        "ready: try `ip netns exec {}-0 ping 198.18.0.2`; Ctrl-C stops",
        args.prefix
    );
    let _ = std::io::stdout().flush();
    let deadline = args.duration.map(|d| Instant::now() + Duration::from_secs_f64(d));
    std::thread::scope(|s| {
        if let Some(deadline) = deadline {
            let (stop, stopping) = (&stop, &stopping);
            s.spawn(move || {
                while Instant::now() < deadline && !stopping.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                stopping.store(true, Ordering::Release);
                let _ = stop.trigger();
            });
        }
        for (i, from_drain) in writers.iter().enumerate() {
            let (device, flow, stopping) = (&devices[i], &flows[i], &stopping);
            s.spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    match from_drain.recv_timeout(Duration::from_millis(20)) {
                        Ok(frame) => {
                            let counter = match device.send(&frame) {
                                Ok(_) => &flow.to_stack,
                                Err(_) => &flow.stack_full,
                            };
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                    }
                }
            });
        }
        host.parallel(n, |i| {
            // Up to BATCH frames per send: wait for one, then take what else is already queued.
            const BATCH: usize = 32;
            let mut buffers = vec![vec![0u8; 65536]; BATCH];
            let mut lengths = [0usize; BATCH];
            while !stopping.load(Ordering::Acquire) {
                let mut count = 0;
                // A read that would block waits in poll() (with the stop event); under load the
                // next frame is usually queued already, and a plain read saves that system call.
                let first = match devices[i].recv(&mut buffers[0]) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        devices[i].recv_intr(&mut buffers[0], &stop)
                    }
                    other => other,
                };
                match first {
                    Ok(len) if len > 0 => {
                        lengths[0] = len;
                        count = 1;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
                while count > 0 && count < BATCH {
                    match devices[i].recv(&mut buffers[count]) {
                        Ok(len) if len > 0 => {
                            lengths[count] = len;
                            count += 1;
                        }
                        _ => break,
                    }
                }
                if count == 0 {
                    continue;
                }
                let mut frames: Vec<&[u8]> = (0..count).map(|k| &buffers[k][..lengths[k]]).collect();
                // A transmit lane that is full refuses with NDIS_STATUS_RESOURCES. Like a NIC
                // driver that stops its queue rather than drop, send the refused frames again
                // once the wire moved on (a few tries; then they are lost, and counted).
                for _ in 0..RETRIES {
                    let Some(ids) = host.send(adapters[i], &frames, SendOptions::default()) else {
                        break; // Not running (stopping): the frames are lost, and counted.
                    };
                    let refused: Vec<u64> = host
                        .take_completions(adapters[i])
                        .into_iter()
                        .filter(|c| c.status == NDIS_STATUS_RESOURCES)
                        .flat_map(|c| c.frames)
                        .collect();
                    let before = frames.len();
                    let mut k = 0;
                    frames.retain(|_| {
                        k += 1;
                        refused.contains(&ids[k - 1])
                    });
                    flows[i]
                        .to_driver
                        .fetch_add((before - frames.len()) as u64, Ordering::Relaxed);
                    if frames.is_empty() {
                        break;
                    }
                    std::thread::yield_now();
                }
                flows[i]
                    .given_up
                    .fetch_add(frames.len() as u64, Ordering::Relaxed);
            }
        });
    });
    for &a in &adapters {
        let _ = host.pause(a);
    }
    let mut summary = Vec::new();
    for (i, &a) in adapters.iter().enumerate() {
        let counter = |oid| {
            let data = host.oid_query(a, oid, 8).data;
            data.get(..8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        summary.push(format!(
            "adapter {i}: {} frames from the stack into the driver ({} sends refused for a full transmit \
             lane or no link, {} frames lost after {RETRIES} tries, {} malformed), {} from the driver to the \
             stack ({} it would not take, {} discarded for want of receive buffers)",
            flows[i].to_driver.load(Ordering::Relaxed),
            counter(OID_GEN_XMIT_DISCARDS),
            flows[i].given_up.load(Ordering::Relaxed),
            counter(OID_GEN_XMIT_ERROR),
            flows[i].to_stack.load(Ordering::Relaxed),
            flows[i].stack_full.load(Ordering::Relaxed),
            counter(OID_GEN_RCV_DISCARDS),
        ));
    }
    for &a in &adapters {
        host.halt(a, NdisHaltDeviceDisabled);
    }
    host.unload();
    drop(devices);
    drop(created);
    let verdict = host.finish();
    for line in summary {
        println!("{line}");
    }
    if verdict.is_clean() {
        println!("verifier: no violations, no leaks");
    } else {
        println!("verifier:\n{}", verdict.report());
    }
    Ok(verdict.is_clean())
}
