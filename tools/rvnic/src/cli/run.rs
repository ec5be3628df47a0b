//! `rvnic run`: the main job. Loads the driver into ndis-host (concurrent mode), brings up adapters
//! in a topology, pushes traffic through them from several CPUs with a live progress bar, then
//! prints each adapter's statistics (the `OID_GEN_STATISTICS` counters) and the verifier's verdict.
//!
//! Every frame is accounted for: it was refused at send (paused, queue full), dropped as malformed,
//! discarded by its receiver (no descriptor free), or received. Anything else is lost, and a lost
//! frame, a leak or a verifier violation makes the exit code non-zero.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use ndis::*;
use ndis_host::{Adapter, Config, Host, Kind, Mode, Rule, SendOptions};
use rvnic_cli::values::{self, Setting, Sizes, Switch, Topology};
use rvnic_cli::{out, outln};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// How the adapters are wired (default: pair, or what `--set Topology=N` says).
    #[arg(long, value_enum)]
    pub topology: Option<Topology>,
    /// Number of adapters (pairs need an even number).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub adapters: u16,
    /// Frame size in bytes (60..=9014), or `imix`.
    #[arg(long, default_value = "1514")]
    pub frame_size: Sizes,
    /// How long to send, in seconds, 0.1 to 3600 (ignored with --frames).
    #[arg(long, default_value_t = 3.0, value_parser = values::run_duration, allow_negative_numbers = true)]
    pub duration: f64,
    /// Send this many frames (1 to 10^12) instead of sending for a duration.
    #[arg(long, value_parser = values::frames)]
    pub frames: Option<u64>,
    /// Sending CPUs (threads, each bound to its own host CPU).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub cpus: u16,
    /// A registry keyword for every adapter, e.g. --set '*JumboPacket=9014'.
    #[arg(long = "set", value_name = "KEYWORD=VALUE")]
    pub settings: Vec<Setting>,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Run the kernel image at PATH (`rvnic.sys`, loaded natively; x86-64 only) instead of the
    /// driver built into this tool.
    #[arg(long, value_name = "PATH")]
    pub image: Option<std::path::PathBuf>,
    /// ndis-host's Driver Verifier checks per NBL and per allocation: `off` runs as Windows does
    /// without Driver Verifier (no ownership records, poisoning, backtraces or stack peaks; IRQL
    /// rules and the leak check at halt stay).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub verifier: Switch,
}

impl Default for RunArgs {
    fn default() -> Self {
        Self {
            topology: None,
            adapters: 2,
            frame_size: Sizes::Fixed(1514),
            duration: 3.0,
            frames: None,
            cpus: 2,
            settings: Vec::new(),
            json: false,
            image: None,
            verifier: Switch::On,
        }
    }
}

/// What a run will do, decided before anything loads.
#[derive(Debug)]
pub struct Plan {
    pub topology: Topology,
    /// The configuration the driver will run with (its own validation of the `--set` keywords).
    pub config: rvnic::config::Config,
    /// One line per keyword the driver refuses (it then uses its default).
    pub warnings: Vec<String>,
}

/// The keywords as the driver will take them, with a warning line for each it refuses, and the
/// topology from `--topology` and the `Topology` keyword (refused when they contradict).
pub fn plan(topology: Option<Topology>, settings: &[Setting], adapters: usize) -> Result<Plan, String> {
    let topology = values::topology(topology, settings, Topology::Pair)?;
    topology.check_adapters(adapters)?;
    let (config, refused) = values::resolve(settings);
    Ok(Plan {
        topology,
        config,
        warnings: refused.iter().map(values::describe).collect(),
    })
}

/// Checks that do not need the driver: a precise message for each impossible combination,
/// including a configuration that cannot carry the frames asked for.
fn validate(args: &RunArgs) -> Result<Plan, String> {
    let plan = plan(args.topology, &args.settings, usize::from(args.adapters))?;
    let largest = args.frame_size.largest();
    let max = plan.config.max_frame as usize;
    if largest > max {
        let jumbo = args.settings.iter().rev().find(|s| s.keyword == "*JumboPacket");
        let why = match jumbo {
            Some(s) if plan.warnings.iter().any(|w| w.contains("*JumboPacket")) => format!(
                "the driver refuses --set '*JumboPacket={}' and uses 1514",
                s.value
            ),
            _ => format!(
                "add --set '*JumboPacket={}'",
                if largest <= 4088 { 4088 } else { 9014 }
            ),
        };
        return Err(format!(
            "frames of {largest} bytes exceed the adapters' maximum of {max}: {why}"
        ));
    }
    Ok(plan)
}

/// What a run measured.
#[derive(Debug, Default)]
struct Tally {
    /// NBLs (one frame each) given to the driver.
    given: AtomicU64,
    /// Completed with a failure status (refused).
    refused: AtomicU64,
}

/// Set by SIGINT, SIGTERM or SIGHUP during `rvnic run`: the traffic stops, the books are still taken
/// and printed.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What one session measured.
#[derive(Debug)]
pub struct Outcome {
    pub topology: Topology,
    /// The traffic was stopped by a signal before its duration or frame count.
    pub interrupted: bool,
    pub adapters: usize,
    /// Frames given to the driver.
    pub given: u64,
    pub received: u64,
    /// Refused at send plus discarded by a receiver.
    pub dropped: u64,
    pub malformed: u64,
    pub lost: u64,
    pub bytes_received: u64,
    pub seconds: f64,
    /// Process CPU time (user + system) spent while traffic ran.
    pub cpu_seconds: Option<f64>,
    pub stats: Vec<NDIS_STATISTICS_INFO>,
    pub leaks: Vec<String>,
    pub violations: Vec<String>,
    /// Pool allocations (`ExAllocatePool2`, `NdisAllocateMemoryWithTagPriority`) the driver made while
    /// traffic ran.
    pub pool_allocations: u64,
    /// Pool bytes the driver held per adapter at steady state.
    pub pool_bytes_per_adapter: usize,
    /// The most kernel stack each driver entry point used, in bytes (largest first).
    pub stack_peaks: Vec<(&'static str, usize)>,
}

impl Outcome {
    #[must_use]
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.leaks.is_empty() && self.violations.is_empty()
    }
}

impl Tally {
    /// Counts a completed send: a failure status means the driver refused its frames.
    fn completed(&self, c: &ndis_host::Completion) {
        if c.status != NDIS_STATUS_SUCCESS {
            self.refused.fetch_add(c.frame_count(), Ordering::Relaxed);
        }
    }
}

/// Loads the driver, brings the adapters up, runs the traffic, takes the books, halts, unloads.
/// A concurrent host (`cpus` CPUs, frames not captured) with the driver loaded, and the adapters'
/// configuration: the topology plus the `--set` keywords. Where `run`, `bench` and `tap` start.
pub(crate) fn driver_on_host(
    cpus: usize,
    lock_spins: usize,
    topology: Topology,
    settings: &[Setting],
    image: Option<&std::path::Path>,
    verifier: Switch,
) -> Result<(Host, Config), String> {
    let host = Host::builder()
        .mode(Mode::Concurrent)
        .cpus(cpus)
        .capture_frames(false)
        .lock_spins(lock_spins)
        .verifier(verifier.on())
        .design_rule(ndis_host::Rule::GenericObjectOutlivesHalt)
        .build();
    host.load_driver(&driver(image))
        .map_err(|e| format!("the driver did not load: {e}"))?;
    let mut config = Config::new().with("Topology", topology.keyword());
    for s in settings {
        config.set(s.keyword, s.value.as_str());
    }
    Ok((host, config))
}

/// Host lock spins for a run with a thread per core (measured here: 1514 B pair, 2 CPUs on 2
/// cores, about twice the frame rate of parking at once).
const LOCK_SPINS: usize = 4000;

pub fn session(args: &RunArgs, show_progress: bool) -> Result<Outcome, String> {
    let plan = validate(args)?;
    for warning in &plan.warnings {
        eprintln!("rvnic: warning: {warning}");
    }
    let cpus = usize::from(args.cpus);
    // One sending thread per simulated CPU: when each has a real core, waiting for the host's lock
    // by spinning beats parking (HostBuilder::lock_spins); with more threads than cores it does not.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let spins = if cpus <= cores { LOCK_SPINS } else { 0 };
    let (host, config) = driver_on_host(
        cpus,
        spins,
        plan.topology,
        &args.settings,
        args.image.as_deref(),
        args.verifier,
    )?;
    let mut adapters = Vec::new();
    for i in 0..args.adapters {
        let a = host
            .start_adapter(config.clone())
            .map_err(|status| format!("adapter {i} failed to start: NDIS status {status:#010x}"))?;
        adapters.push(a);
    }
    let addresses: Vec<[u8; 6]> = adapters.iter().map(|&a| address(&host, a)).collect();
    for &a in &adapters {
        let filter = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_MULTICAST;
        host.oid_set(a, OID_GEN_CURRENT_PACKET_FILTER, &filter.to_le_bytes());
    }
    let targets: Vec<usize> = (0..adapters.len())
        .map(|i| match plan.topology {
            Topology::Loopback => i,
            Topology::Pair => i ^ 1,
            Topology::Hub => (i + 1) % adapters.len(),
        })
        .collect();
    let tally = Tally::default();
    let pool = |host: &Host| {
        let made = host.allocations_made();
        made.get(&Kind::Pool).copied().unwrap_or(0) + made.get(&Kind::Memory).copied().unwrap_or(0)
    };
    let pool_before = pool(&host);
    let cpu_before = process_cpu_seconds();
    let bar = progress(args, show_progress);
    let window = plan.config.transmit_buffers as usize;
    let seconds = traffic(&host, args, window, &adapters, &addresses, &targets, &tally, &bar).as_secs_f64();
    let cpu_seconds = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let pool_allocations = pool(&host) - pool_before;
    let pool_bytes_per_adapter = host.pool_bytes() / adapters.len();
    for &a in &adapters {
        let _ = host.pause(a);
    }
    let stats: Vec<NDIS_STATISTICS_INFO> = adapters.iter().map(|&a| statistics(&host, a)).collect();
    let received: u64 = adapters.iter().map(|&a| host.receive_counts(a).0).sum();
    let bytes_received: u64 = adapters.iter().map(|&a| host.receive_counts(a).1).sum();
    let given = tally.given.load(Ordering::Relaxed);
    let refused = tally.refused.load(Ordering::Relaxed);
    let discarded: u64 = stats.iter().map(|s| s.ifInDiscards).sum();
    let malformed: u64 = stats.iter().map(|s| s.ifOutErrors).sum();
    let dropped = refused + discarded;
    for &a in &adapters {
        host.halt(a, NdisHaltDeviceDisabled);
    }
    host.unload();
    let stack_peaks = host.stack_peaks();
    let verdict = host.finish();
    let (leaks, violations): (Vec<_>, Vec<_>) = verdict.violations.iter().partition(|v| v.rule == Rule::Leak);
    Ok(Outcome {
        topology: plan.topology,
        interrupted: INTERRUPTED.load(Ordering::Relaxed),
        adapters: adapters.len(),
        given,
        received,
        dropped,
        malformed,
        lost: given.saturating_sub(dropped + received),
        bytes_received,
        seconds,
        cpu_seconds,
        stats,
        leaks: leaks.iter().map(ToString::to_string).collect(),
        violations: violations.iter().map(ToString::to_string).collect(),
        pool_allocations,
        pool_bytes_per_adapter,
        stack_peaks,
    })
}

/// The driver a command runs: the kernel image at `image`, or the one built into the tool.
#[must_use]
pub fn driver(image: Option<&std::path::Path>) -> ndis_host::Driver {
    image.map_or(ndis_host::Driver::Linked(rvnic::driver::driver_entry), |path| {
        ndis_host::Driver::Image(path.to_path_buf())
    })
}

/// User plus system CPU time of this process so far (Linux `/proc/self/stat`), in seconds.
#[must_use]
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux architecture this runs on.
    Some(ticks as f64 / 100.0)
}

/// Exit status of a run stopped by a signal (128 + SIGINT, as shells report it).
const INTERRUPTED_STATUS: u8 = 130;

/// Runs the main job; the exit code says whether every frame was accounted for and the verifier
/// was silent. SIGINT, SIGTERM or SIGHUP stop the traffic early: the summary is printed all the
/// same, and the exit status is 130.
pub fn run(args: &RunArgs) -> ExitCode {
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed)) {
        eprintln!("rvnic run: cannot handle signals: {e}");
        return ExitCode::from(2);
    }
    let o = match session(args, !args.json) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rvnic run: {e}");
            return ExitCode::from(2);
        }
    };
    if o.given == 0 {
        eprintln!("rvnic run: nothing was sent (stopped after {:.3} s)", o.seconds);
        return rvnic_cli::out::finish("run", ExitCode::FAILURE);
    }
    let seconds = o.seconds.max(1e-9);
    let gbps = o.bytes_received as f64 * 8.0 / seconds / 1e9;
    let topology = format!("{:?}", o.topology).to_lowercase();
    if args.json {
        let adapters_json: Vec<serde_json::Value> = o.stats.iter().map(statistics_json).collect();
        let report = serde_json::json!({
            "topology": topology,
            "adapters": o.adapters,
            "cpus": args.cpus,
            "interrupted": o.interrupted,
            "frames_sent": o.given,
            "frames_received": o.received,
            "frames_dropped": o.dropped,
            "frames_malformed": o.malformed,
            "frames_lost": o.lost,
            "bytes_received": o.bytes_received,
            "seconds": o.seconds,
            "frames_per_sec": o.received as f64 / seconds,
            "gbps": gbps,
            "verifier_violations": o.violations,
            "leaks": o.leaks,
            "statistics": adapters_json,
            "driver": args.image.as_ref().map_or_else(|| "linked".to_string(), |p| p.display().to_string()),
            "stack_peaks": o.stack_peaks.iter().map(|(entry, bytes)| (entry.to_string(), serde_json::json!(bytes))).collect::<serde_json::Map<_, _>>(),
        });
        outln!("{report:#}");
    } else {
        if o.interrupted {
            outln!(
                "interrupted after {:.2} s: the books below cover what was sent until then",
                o.seconds
            );
        }
        outln!(
            "{} adapters ({topology}), {} CPUs, {:.2} s: {} frames sent, {} received, {} dropped, {} lost",
            o.adapters,
            args.cpus,
            o.seconds,
            o.given,
            o.received,
            o.dropped,
            o.lost
        );
        outln!(
            "{:.0} frames/s, {:.2} Gbit/s received\n",
            o.received as f64 / seconds,
            gbps
        );
        print_table(&o.stats);
        outln!();
        if o.leaks.is_empty() && o.violations.is_empty() {
            outln!("verifier: no violations, no leaks");
        } else {
            outln!("verifier:");
            for line in o.leaks.iter().chain(&o.violations) {
                outln!("  {line}");
            }
        }
    }
    let status = if !o.clean() {
        ExitCode::FAILURE
    } else if o.interrupted {
        ExitCode::from(INTERRUPTED_STATUS)
    } else {
        ExitCode::SUCCESS
    };
    rvnic_cli::out::finish("run", status)
}

/// Sends from every CPU until the duration or the frame count is reached, with a progress bar.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's parts, passed once from session"
)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "durations of a run in milliseconds: positive and far below 2^64"
)]
fn traffic(
    host: &Host,
    args: &RunArgs,
    transmit_buffers: usize,
    adapters: &[Adapter],
    addresses: &[[u8; 6]],
    targets: &[usize],
    tally: &Tally,
    bar: &indicatif::ProgressBar,
) -> Duration {
    const CHAIN: usize = 64;
    let cpus = usize::from(args.cpus);
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let limit = args.frames.unwrap_or(u64::MAX);
    let done = AtomicBool::new(false);
    let window = transmit_buffers.max(CHAIN);
    let in_flight: Vec<AtomicU64> = adapters.iter().map(|_| AtomicU64::new(0)).collect();
    let in_flight = &in_flight;
    let begun = Instant::now();
    let finished = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        s.spawn(|| {
            host.parallel(cpus, |cpu| {
                let from = cpu % adapters.len();
                let sizes = args.frame_size.list();
                let frames: Vec<Vec<u8>> = (0..CHAIN)
                    .map(|i| {
                        ndis_host::ethernet_frame(
                            addresses[targets[from]],
                            addresses[from],
                            sizes[i % sizes.len()],
                            u32::try_from(i).unwrap_or(u32::MAX),
                        )
                    })
                    .collect();
                // Completions are counted by whichever thread takes them; `in_flight` is what the
                // adapter holds of ours and has not completed.
                let collect = || {
                    for c in host.take_completions(adapters[from]) {
                        tally.completed(&c);
                        in_flight[from].fetch_sub(1, Ordering::Relaxed);
                    }
                };
                while !done.load(Ordering::Relaxed) {
                    // Like a protocol's send window: keep fewer NBLs in flight than one transmit
                    // lane holds, so the driver never has to refuse a send for want of room.
                    if in_flight[from].load(Ordering::Relaxed) + CHAIN as u64 > window as u64 {
                        collect();
                        std::thread::yield_now();
                        continue;
                    }
                    let claimed = tally.given.fetch_add(CHAIN as u64, Ordering::Relaxed);
                    if claimed >= limit {
                        tally.given.fetch_sub(CHAIN as u64, Ordering::Relaxed);
                        break;
                    }
                    let n = usize::try_from((limit - claimed).min(CHAIN as u64)).unwrap_or(CHAIN);
                    if n < CHAIN {
                        tally.given.fetch_sub((CHAIN - n) as u64, Ordering::Relaxed);
                    }
                    let refs: Vec<&[u8]> = frames[..n].iter().map(Vec::as_slice).collect();
                    in_flight[from].fetch_add(n as u64, Ordering::Relaxed);
                    if host.send(adapters[from], &refs, SendOptions::default()).is_none() {
                        in_flight[from].fetch_sub(n as u64, Ordering::Relaxed);
                        tally.given.fetch_sub(n as u64, Ordering::Relaxed);
                        break;
                    }
                    collect();
                }
            });
            *finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(begun.elapsed());
            done.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        while !done.load(Ordering::Relaxed) {
            if (args.frames.is_none() && Instant::now() >= deadline) || INTERRUPTED.load(Ordering::Relaxed) {
                done.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(20));
            let (frames, bytes) = adapters.iter().fold((0, 0), |(f, b), &a| {
                let (rf, rb) = host.receive_counts(a);
                (f + rf, b + rb)
            });
            let dropped = tally.refused.load(Ordering::Relaxed);
            let elapsed = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(match args.frames {
                Some(_) => frames,
                None => (elapsed * 1000.0) as u64,
            });
            bar.set_message(format!(
                "{frames} frames, {:.2} Gbit/s, {dropped} dropped",
                bytes as f64 * 8.0 / elapsed / 1e9
            ));
        }
    });
    // Completions that arrived after the last send of each thread.
    for &a in adapters {
        for c in host.take_completions(a) {
            tally.completed(&c);
        }
    }
    bar.finish_and_clear();
    finished
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .unwrap_or_else(|| begun.elapsed())
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the run's duration in milliseconds: positive (checked) and far below 2^64"
)]
fn progress(args: &RunArgs, show: bool) -> indicatif::ProgressBar {
    let (length, template) = match args.frames {
        Some(n) => (n, "{spinner} [{bar:30}] {pos}/{len} frames  {msg}"),
        None => (
            (args.duration * 1000.0) as u64,
            "{spinner} [{bar:30}] {elapsed}  {msg}",
        ),
    };
    let bar = if show {
        indicatif::ProgressBar::new(length)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The adapter's current address (all zero if the query fails, which the run then reports through
/// its counters).
pub(crate) fn address(host: &Host, a: Adapter) -> [u8; 6] {
    host.current_address(a).unwrap_or([0; 6])
}

fn statistics(host: &Host, a: Adapter) -> NDIS_STATISTICS_INFO {
    let r = host.oid_query(a, OID_GEN_STATISTICS, size_of::<NDIS_STATISTICS_INFO>());
    let mut s = NDIS_STATISTICS_INFO::default();
    if r.status == NDIS_STATUS_SUCCESS && r.data.len() == size_of::<NDIS_STATISTICS_INFO>() {
        // SAFETY: exactly an NDIS_STATISTICS_INFO's bytes (plain integers), read unaligned.
        s = unsafe { r.data.as_ptr().cast::<NDIS_STATISTICS_INFO>().read_unaligned() };
    }
    s
}

/// The counters as `Get-NetAdapterStatistics` names them.
fn rows(s: &NDIS_STATISTICS_INFO) -> [(&'static str, u64); 14] {
    [
        ("ReceivedBytes", s.ifHCInOctets),
        ("ReceivedUnicastPackets", s.ifHCInUcastPkts),
        ("ReceivedMulticastPackets", s.ifHCInMulticastPkts),
        ("ReceivedBroadcastPackets", s.ifHCInBroadcastPkts),
        ("ReceivedUnicastBytes", s.ifHCInUcastOctets),
        ("ReceivedDiscardedPackets", s.ifInDiscards),
        ("ReceivedPacketErrors", s.ifInErrors),
        ("SentBytes", s.ifHCOutOctets),
        ("SentUnicastPackets", s.ifHCOutUcastPkts),
        ("SentMulticastPackets", s.ifHCOutMulticastPkts),
        ("SentBroadcastPackets", s.ifHCOutBroadcastPkts),
        ("SentUnicastBytes", s.ifHCOutUcastOctets),
        ("OutboundDiscardedPackets", s.ifOutDiscards),
        ("OutboundPacketErrors", s.ifOutErrors),
    ]
}

fn print_table(stats: &[NDIS_STATISTICS_INFO]) {
    let header: Vec<String> = (0..stats.len()).map(|i| format!("rvnic{i}")).collect();
    out!("{:<26}", "");
    for h in &header {
        out!("{h:>16}");
    }
    outln!();
    let all: Vec<_> = stats.iter().map(rows).collect();
    for row in 0..all.first().map_or(0, |r| r.len()) {
        out!("{:<26}", all[0][row].0);
        for adapter in &all {
            out!("{:>16}", adapter[row].1);
        }
        outln!();
    }
}

fn statistics_json(s: &NDIS_STATISTICS_INFO) -> serde_json::Value {
    serde_json::Value::Object(
        rows(s)
            .iter()
            .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_combinations_are_refused_before_anything_loads() {
        let odd = RunArgs {
            adapters: 3,
            ..RunArgs::default()
        };
        assert!(validate(&odd).unwrap_err().contains("even number"));
        let jumbo = RunArgs {
            frame_size: Sizes::Fixed(9014),
            ..RunArgs::default()
        };
        assert!(validate(&jumbo).unwrap_err().contains("*JumboPacket=9014"));
        let allowed = RunArgs {
            frame_size: Sizes::Fixed(9014),
            settings: vec!["*JumboPacket=9014".parse().expect("setting")],
            ..RunArgs::default()
        };
        assert!(validate(&allowed).is_ok());
        // The driver refuses 99999 and runs with 1514: 9014-byte frames cannot cross.
        let refused = RunArgs {
            frame_size: Sizes::Fixed(9014),
            settings: vec!["*JumboPacket=99999".parse().expect("setting")],
            ..RunArgs::default()
        };
        assert!(
            validate(&refused)
                .unwrap_err()
                .contains("the driver refuses --set '*JumboPacket=99999'")
        );
        let contradiction = RunArgs {
            topology: Some(Topology::Pair),
            settings: vec!["Topology=0".parse().expect("setting")],
            ..RunArgs::default()
        };
        assert!(validate(&contradiction).unwrap_err().contains("contradicts"));
        let hub = RunArgs {
            topology: Some(Topology::Hub),
            adapters: 1,
            ..RunArgs::default()
        };
        assert!(validate(&hub).unwrap_err().contains("at least 2"));
    }

    #[test]
    fn the_send_window_is_the_drivers_transmit_buffers() {
        let args = RunArgs {
            settings: vec!["*TransmitBuffers=100".parse().expect("setting")],
            ..RunArgs::default()
        };
        assert_eq!(validate(&args).expect("valid").config.transmit_buffers, 128);
    }
}
