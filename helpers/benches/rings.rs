//! Ring throughput, cross-core, against well-known rings in the same run.
//!
//! `cargo bench -p rvnic-helpers` (full), or with `RVNIC_BENCH_QUICK=1` for a CI smoke run. Prints
//! criterion's report per case, then a table of ratios from interleaved rounds in the same run:
//! rvnic SPSC vs rtrb (one item at a time, and batches of 32), rvnic MPSC with two producers vs
//! crossbeam's `ArrayQueue` and crossbeam-channel, for 8-byte and 32-byte items.
//!
//! Cross-core ring throughput is bimodal here, for every ring measured: a run either settles in a
//! fast regime or in one where each item (or batch) costs a cache-line transfer, and a run tends to
//! stay in the regime it started in. Criterion's per-case median can therefore land in different
//! regimes for two cases of one comparison; the table instead pairs one run of each side per round
//! and reports the median of those paired ratios, with median and minimum throughputs.
//!
//! The producer and the consumer are pinned to different cores. With two producers and one consumer
//! on a 2-core machine the MPSC cases are oversubscribed (three threads on two cores).

#![allow(clippy::cast_precision_loss, reason = "rates for people")]
#![allow(
    clippy::cast_possible_truncation,
    reason = "test data: sequence numbers, lengths and byte patterns, small or truncated on purpose"
)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use crossbeam_utils::Backoff;
use rvnic_helpers::ring::{Dispatch, Mpsc, Spsc, boxed_slots};

const CAPACITY: usize = 1024;
const BATCH: usize = 32;

fn items() -> u64 {
    if quick() { 200_000 } else { 2_000_000 }
}

fn quick() -> bool {
    std::env::var_os("RVNIC_BENCH_QUICK").is_some()
}

/// The machine's cores, read once by the unpinned main thread: `get_core_ids` reads the calling
/// thread's own affinity mask, so a pinned thread would see only its own core.
static CORES: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();

fn pin(core: usize) {
    let cores = CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    if let Some(id) = cores.get(core % cores.len().max(1)) {
        core_affinity::set_for_current(*id);
    }
}

/// Waits a little after a failed attempt: spins a few times, then yields, so a waiting thread does
/// not burn the time slice of the thread it waits for (the same for every ring measured).
fn wait(backoff: &Backoff) {
    backoff.snooze();
}

/// After an attempt that moved `n` items: wait if none moved, start over if some did.
fn progress(backoff: &Backoff, n: usize) {
    if n == 0 {
        wait(backoff);
    } else {
        backoff.reset();
    }
}

/// An item of `N` bytes.
#[derive(Clone, Copy)]
struct Item<const N: usize>([u8; N]);

impl<const N: usize> Item<N> {
    fn new(i: u64) -> Self {
        let mut b = [0u8; N];
        b[..8].copy_from_slice(&i.to_le_bytes());
        Self(b)
    }
    fn id(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().unwrap_or([0; 8]))
    }
}

/// Runs a producer thread on core 0 and a consumer thread on core 1 (both spawned from the unpinned
/// main thread); returns the time from start to the consumer's last item.
fn two_threads(producer: impl FnOnce() + Send, consumer: impl FnOnce() + Send) -> Duration {
    std::thread::scope(|s| {
        let start = Instant::now();
        s.spawn(move || {
            pin(0);
            producer();
        });
        s.spawn(move || {
            pin(1);
            consumer();
            start.elapsed()
        })
        .join()
        .expect("consumer")
    })
}

fn rvnic_spsc<const N: usize>(n: u64, batch: bool) -> Duration {
    let mut ring = Spsc::new(boxed_slots::<Item<N>>(CAPACITY)).expect("power of two");
    let (mut tx, mut rx) = ring.split();
    two_threads(
        move || {
            let backoff = Backoff::new();
            let mut i = 0;
            while i < n {
                if batch {
                    let k = BATCH.min((n - i) as usize);
                    let pushed = tx.push_with(k, |j| Item::new(i + j as u64));
                    i += pushed as u64;
                    progress(&backoff, pushed);
                } else if tx.push(Item::new(i)).is_ok() {
                    i += 1;
                    backoff.reset();
                } else {
                    wait(&backoff);
                }
            }
        },
        move || {
            let backoff = Backoff::new();
            let mut got = 0;
            let mut sum = 0;
            while got < n {
                if batch {
                    let k = rx.pop_with(BATCH, |item| sum += item.id());
                    got += k as u64;
                    progress(&backoff, k);
                } else if let Some(item) = rx.pop() {
                    sum += item.id();
                    got += 1;
                    backoff.reset();
                } else {
                    wait(&backoff);
                }
            }
            black_box(sum);
        },
    )
}

fn rtrb_spsc<const N: usize>(n: u64, batch: bool) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Item<N>>::new(CAPACITY);
    two_threads(
        move || {
            let backoff = Backoff::new();
            let mut i = 0;
            while i < n {
                if batch {
                    let k = BATCH.min((n - i) as usize).min(tx.slots());
                    progress(&backoff, k);
                    if k == 0 {
                        continue;
                    }
                    let chunk = tx.write_chunk_uninit(k).expect("free slots");
                    let written = chunk.fill_from_iter((i..i + k as u64).map(Item::new));
                    i += written as u64;
                } else if tx.push(Item::new(i)).is_ok() {
                    i += 1;
                    backoff.reset();
                } else {
                    wait(&backoff);
                }
            }
        },
        move || {
            let backoff = Backoff::new();
            let mut got = 0;
            let mut sum = 0;
            while got < n {
                if batch {
                    let k = rx.slots().min(BATCH);
                    progress(&backoff, k);
                    if k == 0 {
                        continue;
                    }
                    let chunk = rx.read_chunk(k).expect("items");
                    sum += chunk.into_iter().map(|item| item.id()).sum::<u64>();
                    got += k as u64;
                } else if let Ok(item) = rx.pop() {
                    sum += item.id();
                    got += 1;
                    backoff.reset();
                } else {
                    wait(&backoff);
                }
            }
            black_box(sum);
        },
    )
}

/// Two producers (on cores 0 and 1) and a consumer (on core 1), all spawned from the unpinned main
/// thread; `n` items in all. Returns the time from start to the consumer's last item.
fn three_threads(push: impl Fn(usize, u64) + Sync, mut pop: impl FnMut() -> usize + Send) -> Duration {
    let n = items();
    std::thread::scope(|s| {
        let start = Instant::now();
        for p in 0..2 {
            let push = &push;
            s.spawn(move || {
                pin(p);
                push(p, n / 2);
            });
        }
        s.spawn(move || {
            pin(1);
            let backoff = Backoff::new();
            let mut got = 0;
            while got < n {
                let k = pop();
                got += k as u64;
                progress(&backoff, k);
            }
            start.elapsed()
        })
        .join()
        .expect("consumer")
    })
}

fn rvnic_mpsc<const N: usize>() -> Duration {
    let ring: Mpsc<Item<N>, _, 2> = Mpsc::new(|_| boxed_slots(CAPACITY)).expect("power of two");
    let mut consumer = None;
    let mut sum = 0;
    three_threads(
        |lane, n| {
            // SAFETY: each producer thread claims its own lane number.
            let on = unsafe { Dispatch::assume(lane) };
            let backoff = Backoff::new();
            let mut i = 0;
            while i < n {
                let k = BATCH.min((n - i) as usize);
                let pushed = ring.push_with(&on, k, |j| Item::new(i + j as u64));
                i += pushed as u64;
                progress(&backoff, pushed);
            }
        },
        || {
            let c = consumer.get_or_insert_with(|| ring.consumer().expect("one consumer"));
            let k = c.pop_with(BATCH, BATCH, |item| sum += item.id());
            black_box(sum);
            k
        },
    )
}

fn array_queue<const N: usize>() -> Duration {
    let q = crossbeam_queue::ArrayQueue::<Item<N>>::new(CAPACITY);
    three_threads(
        |_, n| {
            let backoff = Backoff::new();
            let mut i = 0;
            while i < n {
                if q.push(Item::new(i)).is_ok() {
                    i += 1;
                    backoff.reset();
                } else {
                    wait(&backoff);
                }
            }
        },
        || {
            q.pop().map_or(0, |item| {
                black_box(item.id());
                1
            })
        },
    )
}

fn channel<const N: usize>() -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<Item<N>>(CAPACITY);
    three_threads(
        |_, n| {
            for i in 0..n {
                tx.send(Item::new(i)).expect("receiver alive");
            }
        },
        || {
            rx.try_recv().map_or(0, |item| {
                black_box(item.id());
                1
            })
        },
    )
}

type Case = (&'static str, fn() -> Duration);

fn cases() -> Vec<Case> {
    vec![
        ("rvnic_spsc_single/8", || rvnic_spsc::<8>(items(), false)),
        ("rtrb_single/8", || rtrb_spsc::<8>(items(), false)),
        ("rvnic_spsc_batch32/8", || rvnic_spsc::<8>(items(), true)),
        ("rtrb_batch32/8", || rtrb_spsc::<8>(items(), true)),
        ("rvnic_mpsc_2p/8", rvnic_mpsc::<8>),
        ("array_queue_2p/8", array_queue::<8>),
        ("channel_2p/8", channel::<8>),
        ("rvnic_spsc_single/32", || rvnic_spsc::<32>(items(), false)),
        ("rtrb_single/32", || rtrb_spsc::<32>(items(), false)),
        ("rvnic_spsc_batch32/32", || rvnic_spsc::<32>(items(), true)),
        ("rtrb_batch32/32", || rtrb_spsc::<32>(items(), true)),
        ("rvnic_mpsc_2p/32", rvnic_mpsc::<32>),
        ("array_queue_2p/32", array_queue::<32>),
        ("channel_2p/32", channel::<32>),
    ]
}

/// Throughput of one run of `case`, in items per second.
fn rate(run: fn() -> Duration) -> f64 {
    items() as f64 / run().as_secs_f64().max(1e-9)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The ratio table: every case run once per round, rounds interleaved (the order reversed every
/// other round), so a noisy minute or a slow regime hits both sides of a comparison alike. Each
/// comparison is the median over rounds of that round's ratio; throughputs are shown as median
/// (min) over rounds, as PERF-NOTES asks.
fn ratio_table() {
    let rounds = if quick() { 5 } else { 9 };
    let cases = cases();
    let mut rates: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); cases.len()];
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cases.len()).collect()
        } else {
            (0..cases.len()).rev().collect()
        };
        for i in order {
            rates[i].push(rate(cases[i].1));
        }
    }
    let index = |name: &str| cases.iter().position(|(case, _)| *case == name);

    println!(
        "\nRing throughput: {rounds} interleaved rounds of {} items per case",
        items()
    );
    println!(
        "{:<52} {:>15} {:>15} {:>8}   target",
        "size / comparison", "rvnic M/s", "baseline M/s", "ratio"
    );
    println!(
        "{:<52} {:>15} {:>15} {:>8}",
        "", "median (min)", "median (min)", "median"
    );
    for size in ["8", "32"] {
        for (ours, theirs, target) in [
            ("rvnic_spsc_single", "rtrb_single", 1.0),
            ("rvnic_spsc_batch32", "rtrb_batch32", 1.0),
            ("rvnic_mpsc_2p", "array_queue_2p", 0.0),
            ("rvnic_mpsc_2p", "channel_2p", 2.0),
        ] {
            let (Some(a), Some(b)) = (
                index(&format!("{ours}/{size}")),
                index(&format!("{theirs}/{size}")),
            ) else {
                continue;
            };
            let mut ratios: Vec<f64> = rates[a].iter().zip(&rates[b]).map(|(x, y)| x / y).collect();
            let ratio = median(&mut ratios);
            let verdict = if target == 0.0 {
                "(reference)".to_string()
            } else {
                format!(
                    ">= {target:.1}x {}",
                    if ratio >= target { "met" } else { "MISSED" }
                )
            };
            let show = |r: &[f64]| format!("{:.1} ({:.1})", median(&mut r.to_vec()) / 1e6, min(r) / 1e6);
            println!(
                "{size:>3} B  {:<45} {:>15} {:>15} {:>7.2}x  {verdict}",
                format!("{ours} vs {theirs}"),
                show(&rates[a]),
                show(&rates[b]),
                ratio
            );
        }
    }
    let cores = CORES.get().map_or(0, Vec::len);
    if cores < 3 {
        println!("(2 producers + 1 consumer on {cores} cores: the MPSC cases are oversubscribed)");
    }
}

fn main() {
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    let mut criterion = Criterion::default().configure_from_args();
    criterion = if quick() {
        criterion
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(1))
    } else {
        criterion
            .sample_size(15)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
    };
    let group_name = "rings";
    {
        let mut group = criterion.benchmark_group(group_name);
        group.throughput(Throughput::Elements(items()));
        for (case, run) in cases() {
            let (name, size) = case.split_once('/').unwrap_or((case, ""));
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run()).sum());
            });
        }
        group.finish();
    }
    criterion.final_summary();
    ratio_table();
}
