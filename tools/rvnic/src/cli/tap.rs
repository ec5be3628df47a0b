//! `rvnic tap` (Linux, root): real TCP/IP stacks exchanging traffic through the driver.
//!
//! Each adapter gets a TAP device inside a network namespace this command creates, with an address
//! from 198.18.0.0/15 (the benchmarking range). What the namespace's stack transmits on the TAP
//! device is sent into the adapter (as a protocol's send), and what the adapter indicates is written
//! back to the TAP device (as a protocol's receive). So `ip netns exec rvnic-0 ping 198.18.0.2`
//! crosses the driver's send path, the wire, and the peer's receive path.
//!
//! It touches only what it creates. Each namespace is made new (`ip netns add` refuses a name
//! that exists) and its TAP device is created inside it, by a thread that has entered the
//! namespace, so no device of the same name elsewhere can be adopted, moved or deleted. Everything
//! it created is removed when it ends: on `--duration`, on SIGINT, SIGTERM or SIGHUP, on error.
//! Only SIGKILL leaves anything behind; for that, each namespace has an ownership record in
//! [`MARKERS`] (the creating process and the namespace's inode), and the next run removes a set
//! whose creator is provably gone, and refuses any other namespace that is in its way.

use std::io::ErrorKind;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use clap::Args;
use ndis::*;
use ndis_host::{Adapter, Host, SendOptions};
use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};
use tun_rs::{DeviceBuilder, Layer};

use rvnic_cli::outln;
use rvnic_cli::values::{self, Setting, Switch, Topology};
use rvnic_cli::vnet;

#[derive(Debug, Clone, Args)]
pub struct TapArgs {
    /// How the adapters are wired (default: pair, or what `--set Topology=N` says).
    #[arg(long, value_enum)]
    pub topology: Option<Topology>,
    /// Number of adapters, each with its TAP device and namespace.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub adapters: u8,
    /// Names: namespaces PREFIX-0, PREFIX-1, ...; TAP devices PREFIX0, PREFIX1, ...
    #[arg(long, default_value = "rvnic")]
    pub prefix: String,
    /// Stop after this many seconds, up to a day (default: run until Ctrl-C).
    #[arg(long, value_parser = values::tap_duration)]
    pub duration: Option<f64>,
    /// A registry keyword for every adapter, e.g. --set '*JumboPacket=9014'.
    #[arg(long = "set", value_name = "KEYWORD=VALUE")]
    pub settings: Vec<Setting>,
    /// Forward frames between the two TAP devices of a pair without the driver, through the same
    /// threads and queues: the bridge's own ceiling, which `tools/iperf.sh` compares rvnic with.
    #[arg(long)]
    pub direct: bool,
    /// Task offloads between the stacks and the adapters: `on` opens the TAP devices with
    /// virtio-net headers (checksum offload, TSO over IPv4 and IPv6), so a stack hands the driver
    /// 64 KiB large sends and receives coalesced segments; `off` moves MTU-sized frames with
    /// checksums computed by the stacks.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub offload: Switch,
    /// Run the kernel image at PATH (`rvnic.sys`, loaded natively) instead of the built-in driver.
    #[arg(long, value_name = "PATH")]
    pub image: Option<PathBuf>,
    /// ndis-host's Driver Verifier checks per NBL and per allocation: `off` runs as Windows does
    /// without Driver Verifier (IRQL rules and the leak check at halt stay).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub verifier: Switch,
}

/// Where each namespace's ownership record lives (tmpfs, like `/run/netns` itself).
pub const MARKERS: &str = "/run/rvnic-tap";
/// Where `ip netns` keeps its namespaces.
const NETNS: &str = "/run/netns";

/// What the command created, removed when dropped (on every exit path but SIGKILL). Each
/// namespace is removed only while its name still names the namespace this run made (the inode
/// its `/run/netns` file had when it was made): one that someone else removed and made again
/// under the same name is not ours.
struct Created {
    namespaces: Vec<(String, Option<u64>)>,
}

impl Drop for Created {
    fn drop(&mut self) {
        for (ns, inode) in self.namespaces.drain(..).rev() {
            let now = std::fs::metadata(Path::new(NETNS).join(&ns))
                .ok()
                .map(|m| m.ino());
            if inode.is_some() && now != inode {
                continue;
            }
            // Deleting the namespace deletes the TAP device created in it.
            let _ = ip(&["netns", "del", &ns]);
            let _ = std::fs::remove_file(marker(&ns));
        }
    }
}

fn marker(ns: &str) -> PathBuf {
    Path::new(MARKERS).join(ns)
}

/// `/proc/PID/stat`'s start time of `pid` (clock ticks since boot), which tells a process from a
/// later one that reuses its number.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Writes the ownership record of a namespace this process made: who made it, and which
/// namespace it is (the inode of its `/run/netns` file).
fn record(ns: &str, inode: Option<u64>) -> Result<(), String> {
    let inode = inode.ok_or_else(|| format!("cannot stat the new namespace {ns}"))?;
    let pid = std::process::id();
    let started = start_time(pid).ok_or("cannot read this process's start time")?;
    std::fs::create_dir_all(MARKERS).map_err(|e| format!("cannot create {MARKERS}: {e}"))?;
    std::fs::write(
        marker(ns),
        format!("rvnic tap\npid={pid}\nstart={started}\ninode={inode}\n"),
    )
    .map_err(|e| format!("cannot write {}: {e}", marker(ns).display()))
}

/// What is in the way of a namespace named `ns`.
#[derive(Debug, PartialEq, Eq)]
enum InTheWay {
    Nothing,
    /// Made by an `rvnic tap` that has ended (its PID is gone or is another process now), and still
    /// the very namespace it made (same inode): safe to remove.
    Stale {
        pid: u32,
    },
    /// Anything else: not this tool's to touch.
    Foreign(String),
}

fn in_the_way(ns: &str) -> InTheWay {
    let Ok(meta) = std::fs::metadata(Path::new(NETNS).join(ns)) else {
        return InTheWay::Nothing;
    };
    let Ok(text) = std::fs::read_to_string(marker(ns)) else {
        return InTheWay::Foreign("no run of rvnic tap recorded making it".into());
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let (Some(pid), Some(started), Some(inode)) = (field("pid"), field("start"), field("inode")) else {
        return InTheWay::Foreign(format!(
            "{} is not a record this tool wrote",
            marker(ns).display()
        ));
    };
    let Ok(pid) = u32::try_from(pid) else {
        return InTheWay::Foreign(format!("{} names no valid process", marker(ns).display()));
    };
    if inode != meta.ino() {
        return InTheWay::Foreign("it is not the namespace the recorded run made (another inode)".into());
    }
    if start_time(pid) == Some(started) {
        return InTheWay::Foreign(format!(
            "the rvnic tap run that made it (pid {pid}) is still running"
        ));
    }
    InTheWay::Stale { pid }
}

/// Removes namespaces a killed run left (provably its own), and refuses any other that is in the
/// way of the names this run will use. Returns a line for each removal.
fn clear_the_way(names: &[String]) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    for ns in names {
        match in_the_way(ns) {
            InTheWay::Nothing => {}
            InTheWay::Stale { pid } => {
                ip(&["netns", "del", ns])?;
                let _ = std::fs::remove_file(marker(ns));
                removed.push(format!(
                    "removed namespace {ns}, left by an rvnic tap run (pid {pid}) that was killed"
                ));
            }
            InTheWay::Foreign(why) => {
                return Err(format!(
                    "network namespace {ns} already exists and is not this tool's to remove ({why}); choose another --prefix"
                ));
            }
        }
    }
    Ok(removed)
}

/// Runs `ip ARGS` in its own process group (so a Ctrl-C at the terminal reaches only this tool,
/// which then stops between steps) and says precisely how it failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .process_group(0)
        .output()
        .map_err(|e| format!("cannot run ip ({e}): is iproute2 installed?"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let how = match (out.status.code(), out.status.signal()) {
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        (Some(code), _) if stderr.is_empty() => format!("exited with status {code} and said nothing"),
        (Some(code), _) => format!("exited with status {code}: {stderr}"),
        (None, None) => "ended without a status".to_string(),
    };
    Err(format!("ip {} {how}", args.join(" ")))
}

/// Creates a TAP device named `name` inside namespace `ns`, from a thread that enters the
/// namespace first: the name is looked up only there, in a namespace this run has just made, so
/// an existing device of that name anywhere else is never adopted.
fn tap_in(ns: &str, name: &str, mtu: u16, offload: bool) -> Result<tun_rs::SyncDevice, String> {
    let path = Path::new(NETNS).join(ns);
    let (ns, name) = (ns.to_string(), name.to_string());
    std::thread::scope(|s| {
        s.spawn(move || {
            let handle =
                std::fs::File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            rustix::thread::move_into_link_name_space(
                handle.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| format!("cannot enter namespace {ns}: {e}"))?;
            let device = DeviceBuilder::new()
                .name(&name)
                .layer(Layer::L2)
                .mtu(mtu)
                .offload(offload)
                .build_sync()
                .map_err(|e| format!("cannot create TAP device {name} in namespace {ns}: {e}"))?;
            if offload {
                tcp_offloads_only(&device).map_err(|e| format!("{name}: TUNSETOFFLOAD: {e}"))?;
            }
            Ok(device)
        })
        .join()
        .unwrap_or_else(|_| Err("the thread creating the TAP device panicked".into()))
    })
}

/// `TUNSETOFFLOAD` (`linux/if_tun.h`: `_IOW('T', 208, unsigned int)`, the value passed as the
/// argument) with checksum offload and TSO over IPv4 and IPv6 only: tun-rs also asks for UDP
/// segmentation where the kernel has it, which NDIS has no large send for.
fn tcp_offloads_only(device: &tun_rs::SyncDevice) -> std::io::Result<()> {
    const TUNSETOFFLOAD: rustix::ioctl::Opcode = rustix::ioctl::opcode::write::<std::ffi::c_uint>(b'T', 208);
    const TUN_F_CSUM: usize = 0x01;
    const TUN_F_TSO4: usize = 0x02;
    const TUN_F_TSO6: usize = 0x04;
    // TUNSETOFFLOAD takes the flags as the integer argument itself; the value is a valid mask of
    // TUN_F_* bits; `device` is a live TUN descriptor this process owns.
    // SAFETY: an integer ioctl on our own descriptor, as the kernel defines it.
    let setter = unsafe {
        rustix::ioctl::IntegerSetter::<TUNSETOFFLOAD>::new_usize(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    };
    // As above: the request is complete and `device` outlives the call.
    // SAFETY: an integer ioctl on our own descriptor.
    unsafe { rustix::ioctl::ioctl(device, setter) }.map_err(std::io::Error::from)
}

/// Refuses to start without what the command needs, with one line saying what is missing;
/// returns the topology and the lines to warn with.
fn preflight(args: &TapArgs) -> Result<(Topology, Vec<String>), String> {
    if args.direct && args.adapters != 2 {
        return Err(format!(
            "--direct forwards between exactly two TAP devices, not {}",
            args.adapters
        ));
    }
    let plan = crate::cli::run::plan(args.topology, &args.settings, usize::from(args.adapters))?;
    let name_ok = !args.prefix.is_empty()
        && args.prefix.len() <= 12
        && args
            .prefix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-');
    if !name_ok {
        return Err(format!(
            "prefix '{}' must be 1 to 12 letters, digits or '-' (interface names are at most 15 bytes)",
            args.prefix
        ));
    }
    if !cfg!(target_os = "linux") {
        return Err("rvnic tap needs Linux (TAP devices and network namespaces)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
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
    Ok((plan.topology, plan.warnings))
}

pub fn run(args: &TapArgs) -> ExitCode {
    let (topology, warnings) = match preflight(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rvnic tap: {e}");
            return ExitCode::from(2);
        }
    };
    for warning in &warnings {
        eprintln!("rvnic tap: warning: {warning}");
    }
    let status = match bridge(args, topology) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rvnic tap: {e}");
            ExitCode::FAILURE
        }
    };
    rvnic_cli::out::finish("tap", status)
}

mod bridge;
use bridge::*;
