//! `rvnic bench`: throughput of the driver on ndis-host across frame sizes and topologies, against
//! two anchors measured in the same run on the same machine:
//!
//! - **memcpy**: one core copying the same frames from a source buffer into a ring of receive
//!   buffers, cache-hot: what a copy costs at best;
//! - **memcpy in flight**: one core copying from as many sender buffers as the datapath keeps in
//!   flight (the send window, each in its own allocation as the host's NBLs are) into as many
//!   receive buffers of the driver's size and alignment: the physical limit of a copying
//!   loopback;
//! - **channel**: a plain crossbeam-channel pipeline (one sending thread, one receiving thread)
//!   moving the same frames through pre-allocated buffers, what a naive user-space hand-off gets.
//!
//! Every driver configuration runs twice, with ndis-host's verifier on and off (as Windows runs
//! without Driver Verifier). Ratios, not absolute figures, are what compare across these shared and
//! noisy machines; `--instructions` counts instructions per frame instead ([`crate::instructions`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use rvnic_cli::outln;
use rvnic_cli::values::{Setting, Sizes, Switch, Topology};

use crate::cli::run::{RunArgs, session};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Frames per measurement (the driver); the anchors move the same number.
    #[arg(long, default_value_t = 400_000, value_parser = clap::value_parser!(u64).range(1000..=100_000_000))]
    pub frames: u64,
    /// Sending CPUs for the driver runs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub cpus: u16,
    /// Print the rows as a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of throughput against frame size here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// A quick sweep (pair topology only, fewer frames), for CI smoke runs.
    #[arg(long)]
    pub quick: bool,
    /// Run the kernel image at PATH (`rvnic.sys`, loaded natively) instead of the built-in driver.
    #[arg(long, value_name = "PATH")]
    pub image: Option<PathBuf>,
    /// Count instructions per frame under valgrind instead of timing (driver, copy and host, at
    /// 64 and 1514 bytes, pair, one sending CPU, verifier on and off).
    #[arg(long)]
    pub instructions: bool,
    /// With `--instructions`: fail when a driver or host figure is more than 10% above this baseline
    /// (a JSON array as `--instructions --json` prints).
    #[arg(long, value_name = "FILE", requires = "instructions")]
    pub baseline: Option<PathBuf>,
}

/// One measured configuration.
#[derive(Debug, Clone)]
struct Row {
    frame_size: String,
    /// Mean bytes per frame of the size (for Gbit/s of the anchors).
    bytes: f64,
    topology: &'static str,
    verifier: Switch,
    frames_per_sec: f64,
    gbps: f64,
    cpu_ns_per_frame: Option<f64>,
    memcpy_frames_per_sec: f64,
    inflight_frames_per_sec: f64,
    channel_frames_per_sec: f64,
    allocations_per_frame: f64,
    pool_bytes_per_adapter: usize,
    /// The adapter's configured receive and transmit buffers, in bytes.
    buffer_bytes: usize,
    lost: u64,
    clean: bool,
}

const SIZES: [&str; 6] = ["64", "512", "1514", "4088", "9014", "imix"];

#[allow(
    clippy::too_many_lines,
    reason = "the sweep and its table, in the order the report prints them"
)]
pub fn run(args: &BenchArgs) -> ExitCode {
    if args.instructions {
        return crate::cli::instructions::run(args.json, args.baseline.as_deref(), args.image.as_deref());
    }
    let frames = if args.quick {
        args.frames.min(60_000)
    } else {
        args.frames
    };
    let topologies: &[(Topology, u16)] = if args.quick {
        &[(Topology::Pair, 2)]
    } else {
        &[(Topology::Loopback, 1), (Topology::Pair, 2), (Topology::Hub, 4)]
    };
    let mut rows = Vec::new();
    for size in SIZES {
        let sizes: Sizes = match size.parse() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("rvnic bench: {e}");
                return ExitCode::from(2);
            }
        };
        let list = sizes.list();
        let mean = list.iter().sum::<usize>() as f64 / list.len() as f64;
        let jumbo = if list.iter().any(|n| *n > 1514) {
            9014
        } else {
            1514
        };
        // The anchors are cheap: the median of three of each steadies them on a shared machine.
        let memcpy = median3(|| memcpy_rate(&list, frames));
        let inflight = median3(|| inflight_rate(&list, frames, jumbo));
        let channel = median3(|| channel_rate(&list, frames));
        for (&(topology, adapters), verifier) in topologies
            .iter()
            .flat_map(|t| [(t, Switch::On), (t, Switch::Off)])
        {
            let run = RunArgs {
                topology: Some(topology),
                adapters,
                frame_size: sizes.clone(),
                duration: 1.0,
                frames: Some(frames),
                cpus: args.cpus,
                settings: vec![Setting {
                    keyword: "*JumboPacket",
                    value: jumbo.to_string(),
                }],
                json: true,
                image: args.image.clone(),
                verifier,
            };
            let o = match session(&run, false) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("rvnic bench: {size} B {topology:?}, verifier {verifier:?}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let fps = o.received as f64 / o.seconds;
            // *ReceiveBuffers and *TransmitBuffers default to 256 frames of the maximum size.
            let buffer_bytes = 2 * 256 * jumbo;
            rows.push(Row {
                frame_size: size.to_string(),
                bytes: mean,
                topology: match topology {
                    Topology::Loopback => "loopback",
                    Topology::Pair => "pair",
                    Topology::Hub => "hub4",
                },
                verifier,
                frames_per_sec: fps,
                gbps: o.bytes_received as f64 * 8.0 / o.seconds / 1e9,
                cpu_ns_per_frame: o.cpu_seconds.map(|c| c * 1e9 / o.received.max(1) as f64),
                memcpy_frames_per_sec: memcpy,
                inflight_frames_per_sec: inflight,
                channel_frames_per_sec: channel,
                allocations_per_frame: o.pool_allocations as f64 / o.received.max(1) as f64,
                pool_bytes_per_adapter: o.pool_bytes_per_adapter,
                buffer_bytes,
                lost: o.lost,
                clean: o.clean(),
            });
            if !args.json {
                eprint!(".");
            }
        }
    }
    let sends = if args.quick { 2_000 } else { 20_000 };
    let mut large = Vec::new();
    for (rsc, verifier) in [true, false]
        .into_iter()
        .flat_map(|r| [(r, Switch::On), (r, Switch::Off)])
    {
        match large_send_rate(rsc, sends, args.image.as_deref(), verifier) {
            Ok(row) => large.push(row),
            Err(e) => {
                eprintln!(
                    "rvnic bench: large sends, RSC {}, verifier {verifier:?}: {e}",
                    if rsc { "on" } else { "off" }
                );
                return ExitCode::FAILURE;
            }
        }
        if !args.json {
            eprint!(".");
        }
    }
    if !args.json {
        eprintln!();
    }
    if args.json {
        let mut json: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        json.extend(large.iter().map(large_json));
        outln!("{:#}", serde_json::Value::Array(json));
    } else {
        print_table(&rows);
        print_large(&large);
    }
    if let Some(path) = &args.svg
        && let Err(e) = plot(path, &rows)
    {
        eprintln!("rvnic bench: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    let status = if rows.iter().all(|r| r.clean) && large.iter().all(|r| r.clean) {
        ExitCode::SUCCESS
    } else {
        eprintln!("rvnic bench: a run lost frames or the verifier found a violation");
        ExitCode::FAILURE
    };
    rvnic_cli::out::finish("bench", status)
}

/// TCP payload of each large send: 44 segments of 1,460 bytes.
const LARGE_PAYLOAD: usize = 44 * 1460;

/// One large-send measurement: 64 KiB TCP sends (`LSOv2`) through a pair whose receiver has RSC on
/// or off, against one core copying the same frames.
#[derive(Debug, Clone)]
struct LargeRow {
    rsc: bool,
    verifier: Switch,
    sends_per_sec: f64,
    gbps: f64,
    memcpy_gbps: f64,
    /// Frames the receiver got per send (1 coalesced unit, or 44 segments).
    indicated_per_send: f64,
    clean: bool,
}

/// An IPv4 TCP frame of [`LARGE_PAYLOAD`] bytes from `source` to `destination`, as TCP/IP hands
/// it to a miniport for `LSOv2` (the driver computes every length and checksum itself).
#[allow(clippy::cast_possible_truncation, reason = "i % 251 fits a byte")]
fn large_frame(destination: [u8; 6], source: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 54 + LARGE_PAYLOAD];
    f[..6].copy_from_slice(&destination);
    f[6..12].copy_from_slice(&source);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&[198, 18, 0, 1]);
    f[30..34].copy_from_slice(&[198, 18, 0, 2]);
    f[34..36].copy_from_slice(&40_000u16.to_be_bytes());
    f[36..38].copy_from_slice(&5201u16.to_be_bytes());
    f[46] = 0x50;
    f[47] = 0x18; // ACK, PSH
    for (i, b) in f[54..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    f
}

#[allow(
    clippy::items_after_statements,
    reason = "the batch size sits by the loop it sizes"
)]
fn large_send_rate(
    rsc: bool,
    sends: u64,
    image: Option<&std::path::Path>,
    verifier: Switch,
) -> Result<LargeRow, String> {
    let settings = [Setting {
        keyword: "*RscIPv4",
        value: if rsc { "1" } else { "0" }.to_string(),
    }];
    let (host, config) = crate::cli::run::driver_on_host(1, 0, Topology::Pair, &settings, image, verifier)?;
    let a = host
        .start_adapter(config.clone())
        .map_err(|s| format!("adapter 0: {s:#010x}"))?;
    let b = host
        .start_adapter(config)
        .map_err(|s| format!("adapter 1: {s:#010x}"))?;
    for x in [a, b] {
        let filter = ndis::NDIS_PACKET_TYPE_DIRECTED;
        host.oid_set(x, ndis::OID_GEN_CURRENT_PACKET_FILTER, &filter.to_le_bytes());
        let status = host.set_encapsulation(x, true, true).status;
        if status != ndis::NDIS_STATUS_SUCCESS {
            return Err(format!("OID_OFFLOAD_ENCAPSULATION: {status:#010x}"));
        }
    }
    let frame = large_frame(
        crate::cli::run::address(&host, b),
        crate::cli::run::address(&host, a),
    );
    let options = ndis_host::SendOptions {
        large_send: Some(ndis_host::LargeSend {
            mss: 1460,
            tcp_header_offset: 34,
            ipv6: false,
        }),
        ..ndis_host::SendOptions::default()
    };
    const BATCH: usize = 8;
    let batch: Vec<&[u8]> = vec![&frame; BATCH];
    // Warm-up: the host keeps 4,096 completed NBLs before it reuses their buffers (as a
    // protocol's NBL cache would already be warm), and the first touches of buffers fault pages.
    for _ in 0..5000 / BATCH {
        host.send(a, &batch, options).ok_or("the adapter stopped")?;
        host.take_completions(a);
    }
    let (indicated_before, _) = host.receive_counts(b);
    let mut sent = 0u64;
    let mut failed = 0u64;
    let started = Instant::now();
    while sent < sends {
        host.send(a, &batch, options).ok_or("the adapter stopped")?;
        for c in host.take_completions(a) {
            if c.status == ndis::NDIS_STATUS_SUCCESS {
                sent += 1;
            } else if c.status != ndis::NDIS_STATUS_RESOURCES {
                failed += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (indicated, _) = host.receive_counts(b);
    let indicated = indicated - indicated_before;
    for x in [a, b] {
        host.pause(x);
        host.halt(x, ndis::NdisHaltDeviceDisabled);
    }
    host.unload();
    let clean = host.finish().is_clean() && failed == 0;
    let copy_rate = median3(|| memcpy_rate(&[frame.len()], sends.max(1000)));
    Ok(LargeRow {
        rsc,
        verifier,
        sends_per_sec: sent as f64 / seconds,
        gbps: (sent as f64 * LARGE_PAYLOAD as f64 * 8.0) / seconds / 1e9,
        memcpy_gbps: copy_rate * LARGE_PAYLOAD as f64 * 8.0 / 1e9,
        indicated_per_send: indicated as f64 / sent.max(1) as f64,
        clean,
    })
}

fn large_json(r: &LargeRow) -> serde_json::Value {
    serde_json::json!({
        "large_send": "64 KiB TCP (LSOv2, MSS 1460)",
        "topology": "pair",
        "rsc": r.rsc,
        "verifier": r.verifier.on(),
        "sends_per_sec": r.sends_per_sec,
        "gbps": r.gbps,
        "memcpy_gbps": r.memcpy_gbps,
        "ratio_vs_memcpy": r.gbps / r.memcpy_gbps,
        "indicated_per_send": r.indicated_per_send,
        "clean": r.clean,
    })
}

fn print_large(rows: &[LargeRow]) {
    outln!();
    outln!(
        "{:<34} {:>8} {:>10} {:>8} {:>12} {:>9} {:>13}",
        "large sends (pair, 1 CPU)",
        "verifier",
        "sends/s",
        "Gbit/s",
        "memcpy Gb/s",
        "x memcpy",
        "frames/send"
    );
    for r in rows {
        outln!(
            "{:<34} {:>8} {:>10.0} {:>8.2} {:>12.2} {:>8.3}x {:>13.1}",
            format!("64 KiB TCP, receiver RSC {}", if r.rsc { "on" } else { "off" }),
            if r.verifier.on() { "on" } else { "off" },
            r.sends_per_sec,
            r.gbps,
            r.memcpy_gbps,
            r.gbps / r.memcpy_gbps,
            r.indicated_per_send
        );
    }
}

fn median3(mut measure: impl FnMut() -> f64) -> f64 {
    let mut runs = [measure(), measure(), measure()];
    runs.sort_by(f64::total_cmp);
    runs[1]
}

/// One core copying `frames` frames of the given sizes into a ring of 256 receive buffers.
fn memcpy_rate(sizes: &[usize], frames: u64) -> f64 {
    let largest = sizes.iter().copied().max().unwrap_or(64);
    let source: Vec<Vec<u8>> = sizes.iter().map(|n| vec![0xa5u8; *n]).collect();
    let mut ring = vec![vec![0u8; largest.next_multiple_of(64)]; 256];
    let started = Instant::now();
    for i in 0..usize::try_from(frames).unwrap_or(usize::MAX) {
        let frame = &source[i % source.len()];
        let slot = &mut ring[i % 256];
        slot[..frame.len()].copy_from_slice(frame);
        std::hint::black_box(&slot[0]);
    }
    frames as f64 / started.elapsed().as_secs_f64()
}

/// One core copying `frames` frames of the given sizes from as many sender buffers as a pair's
/// datapath keeps in flight into as many receive buffers, each frame from the next sender buffer
/// into the next receive buffer: the sender buffers are separate allocations of the host's
/// protocol NBL size class (2 KiB and up), the receive buffers one block of the driver's buffers
/// (`max_frame` rounded up to 64 bytes, 64-byte aligned), as `*TransmitBuffers` and
/// `*ReceiveBuffers` (256 each) have them.
fn inflight_rate(sizes: &[usize], frames: u64, max_frame: usize) -> f64 {
    const IN_FLIGHT: usize = 256;
    let largest = sizes.iter().copied().max().unwrap_or(64);
    let class = largest.max(2048).next_power_of_two();
    let senders: Vec<Vec<u8>> = (0..IN_FLIGHT)
        .map(|i| {
            let mut b = vec![0u8; class];
            let n = sizes[i % sizes.len()];
            b[..n].fill(0xa5);
            b
        })
        .collect();
    let stride = max_frame.next_multiple_of(64);
    // One 64-byte aligned block, as the driver's receive pool (a Vec of 64-byte chunks).
    let mut block = vec![[0u8; 64]; IN_FLIGHT * stride / 64];
    let receive = block.as_flattened_mut();
    let started = Instant::now();
    for i in 0..usize::try_from(frames).unwrap_or(usize::MAX) {
        let n = sizes[i % sizes.len()];
        let slot = i % IN_FLIGHT;
        let to = &mut receive[slot * stride..slot * stride + n];
        to.copy_from_slice(&senders[slot][..n]);
        std::hint::black_box(&to[0]);
    }
    frames as f64 / started.elapsed().as_secs_f64()
}

/// A sending thread copies each frame into a free buffer and sends it through a bounded
/// crossbeam channel; the receiving thread copies it out and sends the buffer back.
fn channel_rate(sizes: &[usize], frames: u64) -> f64 {
    let largest = sizes.iter().copied().max().unwrap_or(64);
    let source: Vec<Vec<u8>> = sizes.iter().map(|n| vec![0x5au8; *n]).collect();
    let (to_rx, rx) = crossbeam_channel::bounded::<(Box<[u8]>, usize)>(256);
    let (to_free, free) = crossbeam_channel::bounded::<Box<[u8]>>(256);
    for _ in 0..256 {
        let _ = to_free.send(vec![0u8; largest].into_boxed_slice());
    }
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut sink = vec![0u8; largest];
            while let Ok((buffer, len)) = rx.recv() {
                sink[..len].copy_from_slice(&buffer[..len]);
                std::hint::black_box(&sink[0]);
                if to_free.send(buffer).is_err() {
                    break;
                }
            }
        });
        for i in 0..usize::try_from(frames).unwrap_or(usize::MAX) {
            let frame = &source[i % source.len()];
            let Ok(mut buffer) = free.recv() else { break };
            buffer[..frame.len()].copy_from_slice(frame);
            if to_rx.send((buffer, frame.len())).is_err() {
                break;
            }
        }
        drop(to_rx);
    });
    frames as f64 / started.elapsed().as_secs_f64()
}

fn row_json(r: &Row) -> serde_json::Value {
    serde_json::json!({
        "frame_size": r.frame_size,
        "topology": r.topology,
        "verifier": r.verifier.on(),
        "frames_per_sec": r.frames_per_sec,
        "gbps": r.gbps,
        "cpu_ns_per_frame": r.cpu_ns_per_frame,
        "memcpy_frames_per_sec": r.memcpy_frames_per_sec,
        "ratio_vs_memcpy": r.frames_per_sec / r.memcpy_frames_per_sec,
        "memcpy_inflight_frames_per_sec": r.inflight_frames_per_sec,
        "ratio_vs_memcpy_inflight": r.frames_per_sec / r.inflight_frames_per_sec,
        "channel_frames_per_sec": r.channel_frames_per_sec,
        "ratio_vs_channel": r.frames_per_sec / r.channel_frames_per_sec,
        "allocations_per_frame": r.allocations_per_frame,
        "pool_bytes_per_adapter": r.pool_bytes_per_adapter,
        "pool_bytes_vs_buffers": r.pool_bytes_per_adapter as f64 / r.buffer_bytes as f64,
        "frames_lost": r.lost,
        "clean": r.clean,
    })
}

fn print_table(rows: &[Row]) {
    outln!(
        "{:>6} {:>9} {:>4} {:>12} {:>8} {:>10} {:>13} {:>8} {:>13} {:>8} {:>12} {:>8} {:>10} {:>12}",
        "size",
        "topology",
        "DV",
        "frames/s",
        "Gbit/s",
        "CPU ns/fr",
        "memcpy fr/s",
        "x memcpy",
        "in-flight f/s",
        "x in-fl",
        "channel fr/s",
        "x chan",
        "allocs/fr",
        "pool/buffers"
    );
    for r in rows {
        outln!(
            "{:>6} {:>9} {:>4} {:>12.0} {:>8.2} {:>10} {:>13.0} {:>7.3}x {:>13.0} {:>7.3}x {:>12.0} {:>7.2}x {:>10.4} {:>11.2}x",
            r.frame_size,
            r.topology,
            if r.verifier.on() { "on" } else { "off" },
            r.frames_per_sec,
            r.gbps,
            r.cpu_ns_per_frame
                .map_or_else(|| "-".into(), |c| format!("{c:.0}")),
            r.memcpy_frames_per_sec,
            r.frames_per_sec / r.memcpy_frames_per_sec,
            r.inflight_frames_per_sec,
            r.frames_per_sec / r.inflight_frames_per_sec,
            r.channel_frames_per_sec,
            r.frames_per_sec / r.channel_frames_per_sec,
            r.allocations_per_frame,
            r.pool_bytes_per_adapter as f64 / r.buffer_bytes as f64
        );
    }
    outln!(
        "DV: ndis-host's Driver Verifier. Targets (verifier off, pair): >= 0.5x the in-flight memcpy at 1514 B, \
         >= 2x the channel at 64 B; 0 allocations per frame; pool <= 1.25x buffers"
    );
}

/// Gbit/s against mean frame size: one line per topology and one per anchor.
fn plot(path: &std::path::Path, rows: &[Row]) -> Result<(), String> {
    use plotters::prelude::*;
    // The driver's own figures: the host as Windows runs without Driver Verifier.
    let fixed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.frame_size != "imix" && !r.verifier.on())
        .collect();
    let gbps = |fps: f64, bytes: f64| fps * bytes * 8.0 / 1e9;
    let top = fixed
        .iter()
        .flat_map(|r| {
            [
                r.gbps,
                gbps(r.memcpy_frames_per_sec, r.bytes),
                gbps(r.channel_frames_per_sec, r.bytes),
            ]
        })
        .fold(1.0f64, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "rvnic on ndis-host (verifier off): throughput vs frame size",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((32f64..12000f64).log_scale(), (0.05f64..top).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("frame size (bytes)")
        .y_desc("Gbit/s")
        .draw()
        .map_err(|e| e.to_string())?;
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for topology in ["loopback", "pair", "hub4"] {
        let points: Vec<(f64, f64)> = fixed
            .iter()
            .filter(|r| r.topology == topology)
            .map(|r| (r.bytes, r.gbps.max(0.05)))
            .collect();
        if !points.is_empty() {
            series.push((format!("rvnic {topology}"), points));
        }
    }
    let mut sizes: Vec<&Row> = fixed.clone();
    sizes.dedup_by(|a, b| a.frame_size == b.frame_size);
    series.push((
        "memcpy, hot cache (1 core)".into(),
        sizes
            .iter()
            .map(|r| (r.bytes, gbps(r.memcpy_frames_per_sec, r.bytes)))
            .collect(),
    ));
    series.push((
        "memcpy, buffers in flight (1 core)".into(),
        sizes
            .iter()
            .map(|r| (r.bytes, gbps(r.inflight_frames_per_sec, r.bytes)))
            .collect(),
    ));
    series.push((
        "crossbeam channel".into(),
        sizes
            .iter()
            .map(|r| (r.bytes, gbps(r.channel_frames_per_sec, r.bytes)))
            .collect(),
    ));
    for (i, (name, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
