//! What the wire applies for each adapter: the copy of its OID-set state that its seat keeps.

use super::Filter;
use super::qos::Classes;
use super::scaling::Scaling;
use super::vlan::Vlan;
use super::vmq::Routes;
use crate::offload::Active;
use crate::oid::Control;

/// What the wire applies for one adapter: its receive filter and active offloads, with the
/// generation of the OID set that published them (the wire copies them when it changes).
#[derive(Debug, Clone, Copy)]
pub struct Published {
    generation: u32,
    /// The receive filter (packet filter, multicast list, current address).
    pub filter: Filter,
    /// The offloads applied to and for the adapter.
    pub offload: Active,
    /// The adapter's 802.1Q settings.
    pub vlan: Vlan,
    /// The adapter's RSS parameters.
    pub scaling: Scaling,
    /// The adapter's NDIS QoS classification (sends without a priority get theirs from it).
    pub qos: Classes,
    /// The routes of its running VM queues, if VMQ is enabled (`None`: every frame goes to the
    /// default queue as it is).
    pub vmq: Option<Routes>,
}

impl Published {
    /// The first publication, of what `control` holds.
    #[must_use]
    pub fn new(control: &Control) -> Self {
        Self {
            generation: 1,
            filter: control.filter,
            offload: control.offloads.active(control.encapsulation),
            vlan: control.vlan,
            scaling: control.scaling,
            qos: control.qos.classes,
            vmq: control.vmq.enabled().then(|| control.vmq.routes()),
        }
    }

    /// Replaces what is published with what `control` holds now, as a new generation.
    pub fn publish(&mut self, control: &Control) {
        let generation = self.generation.wrapping_add(1);
        *self = Self {
            generation,
            ..Self::new(control)
        };
    }

    /// Whether the adapter takes a frame to `destination`: its receive filter accepts it, or a
    /// running VM queue's filter names it (a VMQ filter is a receive filter of the NIC).
    #[must_use]
    #[inline]
    pub fn accepts(&self, destination: &[u8; 6]) -> bool {
        self.filter.accepts(destination) || self.vmq.as_ref().is_some_and(|r| r.names(destination))
    }

    /// Copies `from` unless this is of its generation already; true if it copied.
    pub fn refresh(&mut self, from: &Self) -> bool {
        let stale = self.generation != from.generation;
        if stale {
            *self = *from;
        }
        stale
    }
}
