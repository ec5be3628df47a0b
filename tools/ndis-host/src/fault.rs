//! Fault injection: fail the Nth allocation of a kind (or of any kind), or each in turn (a sweep).

use crate::host::{Host, HostBuilder, Verdict};
use crate::verifier::Kind;

/// Which allocation to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    /// Count only allocations of this kind (`None`: every kind of allocation, which
    /// [`Kind::Mapping`] is not).
    pub kind: Option<Kind>,
    /// Fail the nth matching allocation (1-based); later ones succeed again.
    pub nth: u64,
}

/// The host's fault-injection state: attempts counted per kind and in total.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    plan: Option<FaultPlan>,
    attempts: u64,
    attempts_by_kind: std::collections::HashMap<Kind, u64>,
    /// The allocation that was failed: its kind, API and 1-based attempt number.
    failed: Option<(Kind, &'static str, u64)>,
}

impl Faults {
    /// Counts an allocation attempt; true if the plan says this one fails.
    pub fn should_fail(&mut self, kind: Kind, api: &'static str) -> bool {
        let of_kind = {
            let n = self.attempts_by_kind.entry(kind).or_default();
            *n += 1;
            *n
        };
        // A mapping is not an allocation: only a plan for mappings counts it.
        if kind == Kind::Mapping && self.plan.is_none_or(|p| p.kind != Some(Kind::Mapping)) {
            return false;
        }
        self.attempts += 1;
        let Some(plan) = self.plan else { return false };
        let count = match plan.kind {
            Some(k) if k != kind => return false,
            Some(_) => of_kind,
            None => self.attempts,
        };
        if count == plan.nth {
            self.failed = Some((kind, api, count));
            return true;
        }
        false
    }
}

impl Host {
    /// Fails the `nth` allocation of `kind` (or of any kind) from now on.
    pub fn inject(&self, plan: FaultPlan) {
        self.inner.mapping_plan.store(
            plan.kind == Some(Kind::Mapping),
            std::sync::atomic::Ordering::Release,
        );
        let mut st = self.inner.lock();
        st.faults.plan = Some(plan);
        st.faults.attempts = 0;
        st.faults.attempts_by_kind.clear();
        st.faults.failed = None;
    }

    /// Allocation attempts counted so far (all kinds).
    #[must_use]
    pub fn allocation_attempts(&self) -> u64 {
        self.inner.lock().faults.attempts
    }

    /// The allocation the plan failed, if it was reached.
    #[must_use]
    pub fn injected_failure(&self) -> Option<(Kind, &'static str, u64)> {
        self.inner.lock().faults.failed
    }
}

/// One run of a sweep.
#[derive(Debug, Clone)]
pub struct SweepRun {
    /// The failed allocation's 1-based number.
    pub fail_at: u64,
    /// What was failed: kind and API (None if the run never reached it).
    pub failed: Option<(Kind, &'static str)>,
    /// What the verifier found in that run.
    pub verdict: Verdict,
}

/// The result of [`sweep`].
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Allocation attempts the scenario makes when nothing fails.
    pub allocations: u64,
    /// One run per allocation attempt, that attempt failed.
    pub runs: Vec<SweepRun>,
}

impl Sweep {
    /// Runs whose verifier found something, with their reports.
    #[must_use]
    pub fn failures(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| !r.verdict.is_clean())
            .map(|r| {
                format!(
                    "failing allocation {} ({:?}):\n{}",
                    r.fail_at,
                    r.failed,
                    r.verdict.report()
                )
            })
            .collect()
    }
}

/// Runs `scenario` once to count its allocations (of `kind`, or all), then once per allocation with
/// that allocation failing, each time on a fresh host from `builder`, and collects every verdict.
/// The scenario must cope with failures (an initialize that fails, a load that fails).
pub fn sweep(builder: &HostBuilder, kind: Option<Kind>, scenario: impl Fn(&Host)) -> Sweep {
    let count = {
        let host = builder.clone().build();
        host.inject(FaultPlan { kind, nth: 0 });
        scenario(&host);
        let n = match kind {
            Some(k) => host
                .inner
                .lock()
                .faults
                .attempts_by_kind
                .get(&k)
                .copied()
                .unwrap_or(0),
            None => host.allocation_attempts(),
        };
        let verdict = host.finish();
        assert!(
            verdict.is_clean(),
            "the sweep's scenario is not clean without faults:\n{}",
            verdict.report()
        );
        n
    };
    let runs = (1..=count)
        .map(|nth| {
            let host = builder.clone().build();
            host.inject(FaultPlan { kind, nth });
            scenario(&host);
            let failed = host.injected_failure().map(|(k, api, _)| (k, api));
            SweepRun {
                fail_at: nth,
                failed,
                verdict: host.finish(),
            }
        })
        .collect();
    Sweep {
        allocations: count,
        runs,
    }
}
