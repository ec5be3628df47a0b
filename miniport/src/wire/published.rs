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
        .with_queue_addresses()
    }

    /// With running VM queues, the wire's filter takes every unicast frame (a VMQ filter is a
    /// receive filter of the NIC): the queue routes then take those their filters name, and the
    /// adapter's own packet filter (kept in the routes) the rest. The datapath of adapters without
    /// VMQ stays as it is.
    fn with_queue_addresses(mut self) -> Self {
        let promiscuous = ndis::NDIS_PACKET_TYPE_PROMISCUOUS;
        if let Some(routes) = self.vmq.as_mut().filter(|r| !r.is_empty())
            && self.filter.packet_filter & promiscuous == 0
        {
            routes.own_filter = Some(self.filter.packet_filter);
            self.filter.packet_filter |= promiscuous;
        }
        self
    }

    /// Replaces what is published with what `control` holds now, as a new generation.
    pub fn publish(&mut self, control: &Control) {
        let generation = self.generation.wrapping_add(1);
        *self = Self {
            generation,
            ..Self::new(control)
        };
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
