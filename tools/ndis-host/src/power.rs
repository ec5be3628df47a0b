//! System sleep and wake, as NDIS drives them for a miniport adapter.
//!
//! What NDIS does depends on whether the miniport is power-management aware and on two attribute
//! flags (pages: "Power Management for Old Miniport Drivers", `OID_PNP_CAPABILITIES`, `OID_PNP_SET_POWER`,
//! `OID_PNP_QUERY_POWER` and `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES)`:
//!
//! - A miniport is power-management aware if it reported `NDIS_PM_CAPABILITIES` in its general
//!   attributes (NDIS 6.20 and later; mandatory there) or answered `OID_PNP_CAPABILITIES` (NDIS 6.0
//!   and 6.1), and the user has not turned power management off for the device.
//! - An aware miniport, or one that set `NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND` (for an NDIS
//!   6.0/6.1 miniport only if it answers `OID_PNP_CAPABILITIES`: otherwise "NDIS ignores the flag"),
//!   is paused (unless it set `NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND`, NDIS 6.30), asked
//!   `OID_PNP_QUERY_POWER` (which must succeed) and set to D3 with `OID_PNP_SET_POWER`. On wake it is
//!   set to D0 and restarted, and restores its own settings.
//! - Any other miniport is paused and halted (`NdisHaltDevicePoweredDown`). On wake NDIS initializes
//!   it again and "restores all the appropriate miniport driver settings, such as packet filters and
//!   multicast address lists, by issuing OID requests", then restarts it.
//!
//! Not modelled: wake-up events (no wake pattern is ever armed), and protocols or filters older than
//! NDIS 6.30, which make NDIS pause even a `NO_PAUSE_ON_SUSPEND` miniport.

use ndis::*;

use crate::Adapter;
use crate::adapter::{OidRequest, Phase, Power, Sleep};
use crate::host::Host;
use crate::verifier::Rule;

impl Host {
    /// Turns power management off for the adapter's device, as the user does by unchecking "Allow
    /// the computer to turn off this device to save power": NDIS then treats the miniport as not
    /// power-management aware.
    pub fn disable_power_management(&self, adapter: Adapter) {
        self.inner.lock().adapters[adapter.0].power.management_disabled = true;
    }

    /// The adapter's device power state and how it went to sleep.
    #[must_use]
    pub fn power(&self, adapter: Adapter) -> Power {
        self.inner.lock().adapters[adapter.0].power
    }

    /// The system goes to sleep: takes the adapter (running or paused) to D3 as NDIS does (see the
    /// module documentation) and says how.
    pub fn sleep(&self, adapter: Adapter) -> Sleep {
        let (phase, flags, minor, reported, disabled) = {
            let st = self.inner.lock();
            let slot = &st.adapters[adapter.0];
            assert!(
                matches!(slot.phase, Phase::Running | Phase::Paused) && slot.power.asleep.is_none(),
                "sleep of adapter {} in phase {:?}, power {:?}",
                adapter.0,
                slot.phase,
                slot.power
            );
            let minor = st
                .driver
                .registration()
                .map_or(0, |r| r.characteristics.MinorNdisVersion);
            let reported = slot.general.as_ref().is_some_and(|g| g.pm_capabilities.is_some());
            (
                slot.phase,
                slot.registration.flags,
                minor,
                reported,
                slot.power.management_disabled,
            )
        };
        let was_running = phase == Phase::Running;
        let answers_capabilities = if minor >= 20 {
            reported
        } else {
            self.oid_query(adapter, OID_PNP_CAPABILITIES, size_of::<NDIS_PNP_CAPABILITIES>())
                .status
                == NDIS_STATUS_SUCCESS
        };
        let aware = answers_capabilities && !disabled;
        let no_halt =
            flags & NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND != 0 && (minor >= 20 || answers_capabilities);
        let how = if aware || no_halt {
            let no_pause = minor >= 30 && flags & NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND != 0;
            let paused = was_running && !no_pause;
            if paused {
                self.pause(adapter);
            }
            let d3 = NdisDeviceStateD3.to_le_bytes().to_vec();
            let query = self.oid(
                adapter,
                OidRequest::QueryWith {
                    oid: OID_PNP_QUERY_POWER,
                    input: d3.clone(),
                    buffer_len: d3.len(),
                },
            );
            self.expect_success(adapter, "OID_PNP_QUERY_POWER (D3)", query.status);
            let set = self.oid_set(adapter, OID_PNP_SET_POWER, &d3);
            self.expect_success(adapter, "OID_PNP_SET_POWER (D3)", set.status);
            Sleep::SetPower { paused, was_running }
        } else {
            if was_running {
                self.pause(adapter);
            }
            self.halt(adapter, NdisHaltDevicePoweredDown);
            Sleep::Halted { was_running }
        };
        let mut st = self.inner.lock();
        let power = &mut st.adapters[adapter.0].power;
        power.state = NdisDeviceStateD3;
        power.asleep = Some(how);
        how
    }

    /// The system wakes: brings a sleeping adapter back to D0 as NDIS does (see the module
    /// documentation) and back to the phase it had. Returns the status of the last step (the
    /// restart, or a failed initialize).
    pub fn wake(&self, adapter: Adapter) -> NDIS_STATUS {
        let Some(how) = self.power(adapter).asleep else {
            panic!("wake of adapter {} that is not asleep", adapter.0)
        };
        self.inner.lock().adapters[adapter.0].power.asleep = None;
        match how {
            Sleep::SetPower { paused, was_running } => {
                let d0 = NdisDeviceStateD0.to_le_bytes();
                let set = self.oid_set(adapter, OID_PNP_SET_POWER, &d0);
                self.expect_success(adapter, "OID_PNP_SET_POWER (D0)", set.status);
                self.inner.lock().adapters[adapter.0].power.state = NdisDeviceStateD0;
                if paused && was_running {
                    self.restart(adapter)
                } else {
                    NDIS_STATUS_SUCCESS
                }
            }
            Sleep::Halted { was_running } => {
                if let Err(status) = self.initialize(adapter.0) {
                    return status;
                }
                let settings = self.inner.lock().adapters[adapter.0].settings.clone();
                for (oid, data) in settings {
                    let restored = self.oid_set(adapter, oid, &data);
                    self.expect_success(adapter, "a setting NDIS restores", restored.status);
                }
                if was_running {
                    self.restart(adapter)
                } else {
                    NDIS_STATUS_SUCCESS
                }
            }
        }
    }

    fn expect_success(&self, adapter: Adapter, what: &str, status: NDIS_STATUS) {
        if status != NDIS_STATUS_SUCCESS {
            self.inner.violate(
                Rule::BadStatus,
                "MiniportOidRequest",
                Some(adapter.0),
                format!(
                    "{what} failed with {:#010x}; a miniport must succeed it",
                    status as u32
                ),
            );
        }
    }
}
