//! The bridge between the TAP devices and the adapters: one event-loop thread per device that
//! writes what the adapter indicated to the stack and sends what the stack wrote, with
//! virtio-net headers carrying the offloads both ways.

use super::*;

/// Frames waiting for a TAP device's writer thread; beyond this they are dropped (and counted), as
/// a full receive queue of a stack drops them.
pub(super) const WRITE_QUEUE: usize = 4096;

/// Frames a bridge thread writes into its device before it looks at the device's own traffic.
pub(super) const WRITE_BATCH: usize = 64;

/// Sends of a batch before its refused frames are given up.
pub(super) const RETRIES: usize = 64;

/// Counters of one adapter's bridge.
#[derive(Debug, Default)]
pub(super) struct Flow {
    /// Frames read from the TAP device and sent into the adapter.
    to_driver: AtomicU64,
    /// Of those, large sends (an `LSOv2` NBL each).
    large_sends: AtomicU64,
    /// Frames the adapter indicated and that were written to the TAP device.
    to_stack: AtomicU64,
    /// Frames the TAP device would not take (its queue was full), or that found the writer's
    /// queue full.
    stack_full: AtomicU64,
    /// Frames the adapter still refused after [`RETRIES`] sends (lost).
    given_up: AtomicU64,
    /// Frames from the stack whose virtio-net header asks for what NDIS has no offload for
    /// (dropped).
    unoffloadable: AtomicU64,
    /// Why the device's thread stopped early: a read failed with something other than "no frame".
    failed: std::sync::Mutex<Option<String>>,
}

/// One adapter's side of the bridge: its TAP device, the frames the adapter indicated for the
/// device's stack, and the wake-up of the thread that serves both.
pub(super) struct Port {
    /// Shared with the adapter's in-place receive writer (`--offload on`).
    device: Arc<tun_rs::SyncDevice>,
    inbox: crossbeam_channel::Receiver<Outgoing>,
    /// The device carries a virtio-net header before each frame (`--offload on`).
    offload: bool,
    /// The way into `inbox`: the adapter's sink holds a clone, and in `--direct` mode the other
    /// device's thread uses this one.
    to_stack: ToStack,
}

/// A frame for a device's stack, with the virtio-net header to write before it (`None`: the frame
/// is written as it is, a header included if the device has them).
pub(super) struct Outgoing {
    header: Option<[u8; vnet::LEN]>,
    frame: Vec<u8>,
}

/// Queues frames for one device's stack and wakes the thread that writes them.
#[derive(Clone)]
pub(super) struct ToStack {
    queue: crossbeam_channel::Sender<Outgoing>,
    wake: Arc<Wake>,
}

impl ToStack {
    /// Queues `frame` and wakes the device's thread; false if the queue was full (the frame is
    /// dropped, as a stack's full receive queue drops it).
    fn push(&self, frame: Outgoing) -> bool {
        let queued = self.queue.try_send(frame).is_ok();
        self.wake.wake();
        queued
    }
}

/// Wakes a bridge thread that sleeps in `poll()` when a frame is queued for its device.
pub(super) struct Wake {
    event: OwnedFd,
    sleeping: AtomicBool,
}

impl Wake {
    fn new() -> Result<Self, String> {
        let event = rustix::event::eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)
            .map_err(|e| format!("eventfd: {e}"))?;
        Ok(Self {
            event,
            sleeping: AtomicBool::new(false),
        })
    }

    /// After queueing a frame: wakes the thread if it sleeps or is about to (the fences pair with
    /// [`Wake::sleep`]'s: either it sees the frame or this sees it sleeping). A system call only
    /// then; a busy thread finds the frame on its next pass.
    fn wake(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            let _ = rustix::io::write(&self.event, &1u64.to_ne_bytes());
        }
    }

    /// Sleeps until `device` is readable, [`Wake::wake`] is called or 20 ms pass (to look at the
    /// stop flag), unless `queued()` finds work after announcing the sleep.
    fn sleep(&self, device: &impl AsFd, queued: impl Fn() -> bool) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !queued() {
            let mut fds = [
                PollFd::new(device, PollFlags::IN),
                PollFd::new(&self.event, PollFlags::IN),
            ];
            let timeout = Timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            let _ = rustix::event::poll(&mut fds, Some(&timeout));
        }
        self.sleeping.store(false, Ordering::Relaxed);
        let mut count = [0u8; 8];
        let _ = rustix::io::read(&self.event, &mut count);
    }
}

/// Where a bridge thread sends what its device's stack sent.
#[derive(Clone, Copy)]
pub(super) enum Next<'a> {
    /// Into the adapter (the driver's send path).
    Adapter(&'a Host, Adapter),
    /// Straight to the other device of a pair (`--direct`: no driver).
    Device(&'a Port),
}

/// The thread of one port (on the host CPU `host.parallel` gave it): writes the frames the adapter
/// indicated into the TAP device, reads what the stack sent and sends it into the adapter, and
/// sleeps in `poll()` only when there is neither. One thread per device keeps the number of busy
/// threads at the number of adapters, next to iperf3's, on a machine with few cores.
pub(super) fn bridge_port(next: Next<'_>, port: &Port, flow: &Flow, stopping: &AtomicBool) {
    // Up to BATCH frames per send: what the device has queued, without waiting. A GSO frame is
    // up to 64 KiB of IP datagram behind its Ethernet and virtio-net headers.
    const BATCH: usize = 32;
    let mut buffers = vec![vec![0u8; 70_000]; BATCH];
    let mut lengths = [0usize; BATCH];
    while !stopping.load(Ordering::Acquire) {
        let mut busy = false;
        for out in port.inbox.try_iter().take(WRITE_BATCH) {
            let written = match out.header {
                Some(header) => rustix::io::writev(
                    &*port.device,
                    &[std::io::IoSlice::new(&header), std::io::IoSlice::new(&out.frame)],
                )
                .map(drop)
                .map_err(std::io::Error::from),
                None => port.device.send(&out.frame).map(drop),
            };
            let counter = match written {
                Ok(()) => &flow.to_stack,
                Err(_) => &flow.stack_full,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            busy = true;
        }
        let mut count = 0;
        let mut failure = None;
        while count < BATCH {
            match port.device.recv(&mut buffers[count]) {
                Ok(len) if len > 0 => {
                    lengths[count] = len;
                    count += 1;
                }
                Ok(_) => break,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if count > 0 {
            let frames: Vec<&[u8]> = (0..count).map(|k| &buffers[k][..lengths[k]]).collect();
            match next {
                Next::Adapter(host, adapter) if port.offload => send_offloaded(host, adapter, &frames, flow),
                Next::Adapter(host, adapter) => {
                    send_with_retries(host, adapter, frames, SendOptions::default(), flow);
                }
                Next::Device(other) => {
                    for frame in frames {
                        let out = Outgoing {
                            header: None,
                            frame: frame.to_vec(),
                        };
                        let counter = if other.to_stack.push(out) {
                            &flow.to_driver
                        } else {
                            &flow.given_up
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            busy = true;
        }
        if let Some(e) = failure {
            // A device that fails reads would wake poll() at once forever: stop serving it.
            *flow
                .failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
            return;
        }
        if !busy {
            port.to_stack.wake.sleep(&*port.device, || !port.inbox.is_empty());
        }
    }
}

/// Sends `frames` into the adapter. A transmit lane that is full refuses with
/// `NDIS_STATUS_RESOURCES`; like a NIC driver that stops its queue rather than drop, the refused
/// frames are sent again once the wire moved on (up to [`RETRIES`] sends; then they are lost, and
/// counted).
pub(super) fn send_with_retries(
    host: &Host,
    adapter: Adapter,
    mut frames: Vec<&[u8]>,
    options: SendOptions,
    flow: &Flow,
) {
    for _ in 0..RETRIES {
        let Some(ids) = host.send(adapter, &frames, options) else {
            break; // Not running (stopping): the frames are lost, and counted.
        };
        let refused: Vec<u64> = host
            .take_completions(adapter)
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
        flow.to_driver
            .fetch_add((before - frames.len()) as u64, Ordering::Relaxed);
        if frames.is_empty() {
            return;
        }
        std::thread::yield_now();
    }
    flow.given_up.fetch_add(frames.len() as u64, Ordering::Relaxed);
}

/// Bytes of an 802.1Q tag (type 0x8100 and the tag control information).
const TAG_LEN: usize = 4;

/// The 802.1Q tag to put back into a frame the adapter indicated with its tag stripped (out of
/// band, in `NDIS_NET_BUFFER_LIST_8021Q_INFO`): Linux reads tags in the frame's bytes.
fn tag_of(info: &ndis_host::ReceiveInfo) -> Option<[u8; TAG_LEN]> {
    let (priority, vlan) = info.ieee8021q;
    if (priority, vlan) == (0, 0) {
        return None;
    }
    let tci = (u16::from(priority & 7) << 13) | (vlan & 0x0fff);
    let [high, low] = tci.to_be_bytes();
    Some([0x81, 0x00, high, low])
}

/// `frame` with the tag its indication carried out of band put back after its addresses.
pub(super) fn with_tag(mut frame: Vec<u8>, info: &ndis_host::ReceiveInfo) -> Vec<u8> {
    if let Some(tag) = tag_of(info)
        && frame.len() >= 12
    {
        frame.splice(12..12, tag);
    }
    frame
}

/// Writes one indicated frame, given as its MDL pieces, to a device with virtio-net headers: the
/// header ([`vnet::to_stack`]) and the frame's first bytes (completed as Linux needs them, with
/// the 802.1Q tag the adapter stripped put back) from here, the rest straight from the pieces.
/// False if the device would not take it.
pub(super) fn write_in_place(
    device: &tun_rs::SyncDevice,
    pieces: &[&[u8]],
    info: ndis_host::ReceiveInfo,
    mtu: usize,
) -> bool {
    let mut len: usize = pieces.iter().map(|p| p.len()).sum();
    let mut head = [0u8; vnet::HEAD + TAG_LEN];
    let mut n = 0;
    for piece in pieces {
        let take = piece.len().min(vnet::HEAD - n);
        head[n..n + take].copy_from_slice(&piece[..take]);
        n += take;
        if n == vnet::HEAD {
            break;
        }
    }
    // What the frame's bytes hold from the pieces; the head may be longer by a tag put back.
    let taken = n;
    if let Some(tag) = tag_of(&info)
        && n >= 12
    {
        head.copy_within(12..n, 12 + TAG_LEN);
        head[12..12 + TAG_LEN].copy_from_slice(&tag);
        n += TAG_LEN;
        len += TAG_LEN;
    }
    let header = vnet::to_stack(info.checksum, info.coalesced_segments, &mut head[..n], len, mtu).to_bytes();
    let mut io = Vec::with_capacity(pieces.len() + 2);
    io.push(std::io::IoSlice::new(&header));
    io.push(std::io::IoSlice::new(&head[..n]));
    let mut skip = taken;
    for piece in pieces {
        if skip >= piece.len() {
            skip -= piece.len();
            continue;
        }
        io.push(std::io::IoSlice::new(&piece[skip..]));
        skip = 0;
    }
    rustix::io::writev(device, &io).is_ok()
}

/// Sends frames read from a device with virtio-net headers: each header becomes the NBL's offload
/// information ([`vnet::from_stack`]); consecutive frames that ask the same go in one send.
pub(super) fn send_offloaded(host: &Host, adapter: Adapter, frames: &[&[u8]], flow: &Flow) {
    let mut group: Vec<&[u8]> = Vec::new();
    let mut current: Option<SendOptions> = None;
    let same = |a: &SendOptions, b: &SendOptions| (a.checksum, a.large_send) == (b.checksum, b.large_send);
    for raw in frames {
        let (Some(header), Some(frame)) = (vnet::Header::parse(raw), raw.get(vnet::LEN..)) else {
            flow.unoffloadable.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let options = match vnet::from_stack(&header, frame) {
            Ok(vnet::Offload::Plain) => SendOptions::default(),
            Ok(vnet::Offload::Checksum(bits)) => SendOptions {
                checksum: bits,
                ..SendOptions::default()
            },
            Ok(vnet::Offload::Large {
                mss,
                tcp_offset,
                ipv6,
            }) => {
                flow.large_sends.fetch_add(1, Ordering::Relaxed);
                SendOptions {
                    large_send: Some(ndis_host::LargeSend {
                        mss,
                        tcp_header_offset: tcp_offset,
                        ipv6,
                    }),
                    ..SendOptions::default()
                }
            }
            Err(_) => {
                flow.unoffloadable.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if let Some(previous) = current
            && !same(&previous, &options)
        {
            send_with_retries(host, adapter, std::mem::take(&mut group), previous, flow);
        }
        current = Some(options);
        group.push(frame);
    }
    if let Some(options) = current
        && !group.is_empty()
    {
        send_with_retries(host, adapter, group, options, flow);
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "set-up, the threads and the report, with every exit path's clean-up in view"
)]
pub(super) fn bridge(args: &TapArgs, topology: Topology) -> Result<bool, String> {
    let n = usize::from(args.adapters);
    // SIGINT, SIGTERM, SIGHUP and the deadline set this; set-up looks at it between steps, bridge
    // threads at least every 20 ms.
    let stopping = Arc::new(AtomicBool::new(false));
    {
        let stopping = Arc::clone(&stopping);
        ctrlc::set_handler(move || stopping.store(true, Ordering::Release))
            .map_err(|e| format!("cannot handle SIGINT, SIGTERM and SIGHUP: {e}"))?;
    }
    let names: Vec<String> = (0..n).map(|i| format!("{}-{i}", args.prefix)).collect();
    for line in clear_the_way(&names)? {
        outln!("{line}");
    }
    outln!("setting up {n} adapters, namespaces {}", names.join(", "));
    let mut created = Created {
        namespaces: Vec::new(),
    };
    let step = |what: &str| {
        if stopping.load(Ordering::Acquire) {
            Err(format!(
                "interrupted during set-up, before {what}; everything this run had created is removed"
            ))
        } else {
            Ok(())
        }
    };
    // No lock spinning: the bridge threads share the cores with iperf3 and the stacks.
    let (host, config) = crate::cli::run::driver_on_host(
        n,
        0,
        topology,
        &args.settings,
        args.image.as_deref(),
        args.verifier,
    )?;
    let mut adapters = Vec::new();
    let mut ports = Vec::new();
    let flows: Vec<Flow> = (0..n).map(|_| Flow::default()).collect();
    let flows = Arc::new(flows);
    for (i, ns) in names.iter().enumerate() {
        step(&format!("starting adapter {i}"))?;
        let a = host
            .start_adapter(config.clone())
            .map_err(|s| format!("adapter {i} failed to start: NDIS status {s:#010x}"))?;
        let filter = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST;
        host.oid_set(a, OID_GEN_CURRENT_PACKET_FILTER, &filter.to_le_bytes());
        let mac = crate::cli::run::address(&host, a);
        let mtu = host.oid_query(a, OID_GEN_MAXIMUM_FRAME_SIZE, 4).data;
        let mtu = mtu
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(1500, u32::from_le_bytes);
        let name = format!("{}{i}", args.prefix);
        step(&format!("creating namespace {ns}"))?;
        ip(&["netns", "add", ns])?;
        let inode = std::fs::metadata(Path::new(NETNS).join(ns)).ok().map(|m| m.ino());
        created.namespaces.push((ns.clone(), inode));
        record(ns, inode)?;
        step(&format!("creating TAP device {name} in {ns}"))?;
        let offload = args.offload == Switch::On;
        let device = tap_in(ns, &name, u16::try_from(mtu).unwrap_or(1500), offload)?;
        if offload && !args.direct {
            // What TCP/IP does after binding: activate the offloads with IEEE 802.3 encapsulation.
            let status = host.set_encapsulation(a, true, true).status;
            if status != NDIS_STATUS_SUCCESS {
                return Err(format!(
                    "adapter {i} refused OID_OFFLOAD_ENCAPSULATION: {status:#010x}"
                ));
            }
        }
        device.set_nonblocking(true).map_err(|e| format!("{name}: {e}"))?;
        let device = Arc::new(device);
        let address = format!("198.18.0.{}/24", i + 1);
        let mac_text = mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        step(&format!("configuring {name} in {ns}"))?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&["-n", ns, "link", "set", &name, "address", &mac_text])?;
        ip(&["-n", ns, "addr", "add", &address, "dev", &name])?;
        ip(&["-n", ns, "link", "set", &name, "up"])?;
        // Indicated frames are queued for this device's bridge thread, not written from inside the
        // indication: a TAP write runs the receiving stack's TCP/IP in the writer's context, and
        // doing that in the indication would make whichever CPU drains the wire do every stack's
        // receive work.
        let (queue, inbox) = crossbeam_channel::bounded::<Outgoing>(WRITE_QUEUE);
        let to_stack = ToStack {
            queue,
            wake: Arc::new(Wake::new()?),
        };
        if offload && !args.direct {
            // With offloads a frame is up to 64 KiB: it goes from the driver's receive buffers to
            // the stack in place (one writev of its MDL pieces behind its virtio-net header, from
            // inside the indication), not copied into a queue for this device's thread.
            let (device, writer_flows) = (Arc::clone(&device), Arc::clone(&flows));
            let mtu = mtu as usize;
            host.set_receive_writer(
                a,
                Arc::new(move |pieces: &[&[u8]], info: ndis_host::ReceiveInfo| {
                    let written = write_in_place(&device, pieces, info, mtu);
                    let counter = if written {
                        &writer_flows[i].to_stack
                    } else {
                        &writer_flows[i].stack_full
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }),
            );
        } else {
            let (sink, sink_flows) = (to_stack.clone(), Arc::clone(&flows));
            host.set_receive_sink(
                a,
                Arc::new(move |received: ndis_host::Received| {
                    let out = Outgoing {
                        header: None,
                        frame: with_tag(received.frame, &received.info),
                    };
                    if !sink.push(out) {
                        sink_flows[i].stack_full.fetch_add(1, Ordering::Relaxed);
                    }
                }),
            );
        }
        ports.push(Port {
            device,
            inbox,
            offload,
            to_stack,
        });
        outln!("{ns}: {name} {address} mac {mac_text} <-> rvnic adapter {i}");
        adapters.push(a);
    }
    step("bridging")?;
    outln!(
        "ready: try `ip netns exec {}-0 ping 198.18.0.2`; Ctrl-C stops",
        args.prefix
    );
    rvnic_cli::out::record(std::io::Write::flush(&mut std::io::stdout()));
    let deadline = args.duration.map(|d| Instant::now() + Duration::from_secs_f64(d));
    std::thread::scope(|s| {
        if let Some(deadline) = deadline {
            let stopping = &stopping;
            s.spawn(move || {
                while Instant::now() < deadline && !stopping.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                stopping.store(true, Ordering::Release);
            });
        }
        host.parallel(n, |i| {
            let next = if args.direct {
                Next::Device(&ports[1 - i])
            } else {
                Next::Adapter(&host, adapters[i])
            };
            bridge_port(next, &ports[i], &flows[i], &stopping);
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
        if args.direct {
            summary.push(format!(
                "device {i}: {} frames forwarded to the other device without the driver ({} dropped: its \
                 queue was full), {} written to the stack ({} it would not take)",
                flows[i].to_driver.load(Ordering::Relaxed),
                flows[i].given_up.load(Ordering::Relaxed),
                flows[i].to_stack.load(Ordering::Relaxed),
                flows[i].stack_full.load(Ordering::Relaxed),
            ));
            continue;
        }
        summary.push(format!(
            "adapter {i}: {} frames from the stack into the driver ({} large sends; {} sends refused for a \
             full transmit lane or no link, {} frames lost after {RETRIES} tries, {} malformed, {} with offloads NDIS has \
             not), {} from the driver to the stack ({} it would not take, {} discarded for want of receive \
             buffers)",
            flows[i].to_driver.load(Ordering::Relaxed),
            flows[i].large_sends.load(Ordering::Relaxed),
            counter(OID_GEN_XMIT_DISCARDS),
            flows[i].given_up.load(Ordering::Relaxed),
            counter(OID_GEN_XMIT_ERROR),
            flows[i].unoffloadable.load(Ordering::Relaxed),
            flows[i].to_stack.load(Ordering::Relaxed),
            flows[i].stack_full.load(Ordering::Relaxed),
            counter(OID_GEN_RCV_DISCARDS),
        ));
    }
    for &a in &adapters {
        host.halt(a, NdisHaltDeviceDisabled);
    }
    host.unload();
    drop(ports);
    drop(created);
    let verdict = host.finish();
    for line in summary {
        outln!("{line}");
    }
    let mut failed = false;
    for (i, flow) in flows.iter().enumerate() {
        if let Some(e) = flow
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            outln!("device {i}: reading it failed ({e}); its bridge stopped");
            failed = true;
        }
    }
    if verdict.is_clean() {
        outln!("verifier: no violations, no leaks");
    } else {
        outln!("verifier:\n{}", verdict.report());
    }
    Ok(verdict.is_clean() && !failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ieee8021q: (u8, u16)) -> ndis_host::ReceiveInfo {
        ndis_host::ReceiveInfo {
            ieee8021q,
            ..ndis_host::ReceiveInfo::default()
        }
    }

    #[test]
    fn a_stripped_tag_goes_back_after_the_addresses() {
        let frame: Vec<u8> = (0..20).collect();
        assert_eq!(with_tag(frame.clone(), &info((0, 0))), frame, "no tag, unchanged");
        let tagged = with_tag(frame.clone(), &info((5, 0x123)));
        assert_eq!(&tagged[..12], &frame[..12]);
        assert_eq!(
            &tagged[12..16],
            &[0x81, 0x00, 0xa1, 0x23],
            "PCP 5 in the top bits, VID 0x123"
        );
        assert_eq!(&tagged[16..], &frame[12..]);
    }
}
