//! `rvnic oid`: query or set one OID on an adapter of the driver loaded into ndis-host, and print
//! the answer decoded, with the status and byte counts exactly as the driver returned them.
//!
//! OIDs and statuses are named from the `ndis` crate's oracle-checked constants, so every name the
//! WDK headers define is accepted; a raw `0x...` number works too.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use ndis::*;
use ndis_host::{Config, Host, OidResult};

use rvnic_cli::outln;
use rvnic_cli::values::{self, Setting, names};

#[derive(Debug, Clone, Subcommand)]
pub enum OidCommand {
    /// Query an OID: `rvnic oid query OID_GEN_LINK_SPEED_EX`.
    Query {
        /// OID name (OID_...) or number (0x...).
        oid: String,
        /// Information buffer length in bytes (default: enough for any answer).
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(0..=65536))]
        buffer: u32,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Set an OID: `rvnic oid set OID_GEN_CURRENT_PACKET_FILTER 0x0b`.
    Set {
        /// OID name (OID_...) or number (0x...).
        oid: String,
        /// A number (decimal or 0x hex, written as 4 bytes, or 8 with `--width 8`), MAC addresses
        /// separated by commas (`01-00-5e-00-00-01,...`), or raw bytes as `hex:0b000000`.
        value: String,
        /// Bytes a number is written as.
        #[arg(long, default_value_t = 4, value_parser = values::width)]
        width: usize,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
}

/// The adapter the request goes to: one adapter started with these keywords.
#[derive(Debug, Clone, Args)]
pub struct AdapterArgs {
    /// A registry keyword for the adapter, e.g. --set '*JumboPacket=9014'.
    #[arg(long = "set", value_name = "KEYWORD=VALUE")]
    pub settings: Vec<Setting>,
    /// Run the kernel image at PATH (`rvnic.sys`, loaded natively) instead of the built-in driver.
    #[arg(long, value_name = "PATH")]
    pub image: Option<std::path::PathBuf>,
}

fn oid_name(oid: NDIS_OID) -> String {
    names("OID_")
        .find(|(_, v)| *v == oid)
        .map_or_else(|| format!("{oid:#010x}"), |(n, _)| n.to_string())
}

fn status_name(status: NDIS_STATUS) -> String {
    names("NDIS_STATUS_")
        .find(|(_, v)| *v == status.cast_unsigned())
        .map_or_else(
            || format!("{:#010x}", status.cast_unsigned()),
            |(n, _)| n.to_string(),
        )
}

/// Runs `rvnic oid ...`.
pub fn run(command: &OidCommand) -> ExitCode {
    let (oid_text, adapter) = match command {
        OidCommand::Query { oid, adapter, .. } | OidCommand::Set { oid, adapter, .. } => (oid, adapter),
    };
    let oid = match values::oid(oid_text) {
        Ok(oid) => oid,
        Err(e) => {
            eprintln!("rvnic oid: {e}");
            return ExitCode::from(2);
        }
    };
    let data = match command {
        OidCommand::Set { value, width, .. } => match values::oid_value(value, *width) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("rvnic oid: {e}");
                return ExitCode::from(2);
            }
        },
        OidCommand::Query { .. } => None,
    };
    let (_, refused) = values::resolve(&adapter.settings);
    for fallback in &refused {
        eprintln!("rvnic oid: warning: {}", values::describe(fallback));
    }
    let host = Host::builder()
        .design_rule(ndis_host::Rule::GenericObjectOutlivesHalt)
        .build();
    if let Err(e) = host.load_driver(&crate::cli::run::driver(adapter.image.as_deref())) {
        eprintln!("rvnic oid: the driver did not load: {e}");
        return ExitCode::FAILURE;
    }
    let config = adapter
        .settings
        .iter()
        .fold(Config::new(), |c, s| c.with(s.keyword, s.value.as_str()));
    let a = match host.start_adapter(config) {
        Ok(a) => a,
        Err(status) => {
            eprintln!("rvnic oid: the adapter failed to start: {}", status_name(status));
            return ExitCode::FAILURE;
        }
    };
    let result = match (&data, command) {
        (Some(d), _) => host.oid_set(a, oid, d),
        (None, OidCommand::Query { buffer, .. }) => host.oid_query(a, oid, *buffer as usize),
        (None, OidCommand::Set { .. }) => host.oid_set(a, oid, &[]),
    };
    print_result(oid, data.is_some(), &result);
    if data.is_some() && result.status == NDIS_STATUS_SUCCESS {
        // Show what the adapter reports now.
        let after = host.oid_query(a, oid, 1024);
        if after.status == NDIS_STATUS_SUCCESS {
            outln!("now:     {}", decode(oid, &after.data));
        }
    }
    let _ = host.pause(a);
    host.halt(a, NdisHaltDeviceDisabled);
    host.unload();
    let verdict = host.finish();
    let status = if !verdict.is_clean() {
        outln!("verifier:\n{}", verdict.report());
        ExitCode::FAILURE
    } else if result.status == NDIS_STATUS_SUCCESS {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    rvnic_cli::out::finish("oid", status)
}

fn print_result(oid: NDIS_OID, set: bool, r: &OidResult) {
    let kind = if set { "set" } else { "query" };
    outln!("{kind} {} ({oid:#010x})", oid_name(oid));
    outln!(
        "status:  {} ({:#010x})",
        status_name(r.status),
        r.status.cast_unsigned()
    );
    if set {
        outln!("bytes:   read {}, needed {}", r.bytes_read, r.bytes_needed);
    } else {
        outln!("bytes:   written {}, needed {}", r.bytes_written, r.bytes_needed);
        if r.status == NDIS_STATUS_SUCCESS {
            outln!("value:   {}", decode(oid, &r.data));
        }
    }
}

fn le_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn le_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join("-")
}

/// The answer in the form its OID defines.
#[allow(non_upper_case_globals, reason = "C enumerator names in patterns")]
#[allow(clippy::format_collect, reason = "a few bytes, printed once")]
pub fn decode(oid: NDIS_OID, data: &[u8]) -> String {
    let hex = || data.iter().map(|x| format!("{x:02x}")).collect::<String>();
    match oid {
        OID_GEN_SUPPORTED_LIST => data
            .chunks_exact(4)
            .filter_map(le_u32)
            .map(oid_name)
            .collect::<Vec<_>>()
            .join(", "),
        OID_802_3_PERMANENT_ADDRESS | OID_802_3_CURRENT_ADDRESS => mac(data),
        OID_802_3_MULTICAST_LIST => {
            if data.is_empty() {
                "(empty)".into()
            } else {
                data.chunks_exact(6).map(mac).collect::<Vec<_>>().join(", ")
            }
        }
        OID_GEN_VENDOR_DESCRIPTION => {
            String::from_utf8_lossy(data.split(|b| *b == 0).next().unwrap_or(&[])).into()
        }
        OID_GEN_LINK_SPEED_EX => match (le_u64(data), data.get(8..).and_then(le_u64)) {
            (Some(tx), Some(rx)) => format!("transmit {tx} bit/s, receive {rx} bit/s"),
            _ => hex(),
        },
        OID_GEN_LINK_SPEED => {
            le_u32(data).map_or_else(hex, |v| format!("{v} x 100 bit/s ({} Mbit/s)", v / 10_000))
        }
        OID_GEN_MEDIA_CONNECT_STATUS => match le_u32(data) {
            Some(0) => "connected".into(),
            Some(1) => "disconnected".into(),
            _ => hex(),
        },
        OID_GEN_CURRENT_PACKET_FILTER => le_u32(data).map_or_else(hex, |f| {
            let bits = [
                (NDIS_PACKET_TYPE_DIRECTED, "DIRECTED"),
                (NDIS_PACKET_TYPE_MULTICAST, "MULTICAST"),
                (NDIS_PACKET_TYPE_ALL_MULTICAST, "ALL_MULTICAST"),
                (NDIS_PACKET_TYPE_BROADCAST, "BROADCAST"),
                (NDIS_PACKET_TYPE_PROMISCUOUS, "PROMISCUOUS"),
            ];
            let set: Vec<&str> = bits.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect();
            format!(
                "{f:#06x} ({})",
                if set.is_empty() {
                    "none".into()
                } else {
                    set.join(" | ")
                }
            )
        }),
        OID_GEN_STATISTICS if data.len() == size_of::<NDIS_STATISTICS_INFO>() => {
            // SAFETY: exactly an NDIS_STATISTICS_INFO's bytes (plain integers), read unaligned.
            let s = unsafe { data.as_ptr().cast::<NDIS_STATISTICS_INFO>().read_unaligned() };
            format!(
                "in {} octets ({} unicast, {} multicast, {} broadcast frames, {} discards, {} errors); \
                 out {} octets ({} unicast, {} multicast, {} broadcast frames, {} discards, {} errors)",
                s.ifHCInOctets,
                s.ifHCInUcastPkts,
                s.ifHCInMulticastPkts,
                s.ifHCInBroadcastPkts,
                s.ifInDiscards,
                s.ifInErrors,
                s.ifHCOutOctets,
                s.ifHCOutUcastPkts,
                s.ifHCOutMulticastPkts,
                s.ifHCOutBroadcastPkts,
                s.ifOutDiscards,
                s.ifOutErrors
            )
        }
        _ => match data.len() {
            4 => le_u32(data).map_or_else(hex, |v| format!("{v} ({v:#x})")),
            8 => le_u64(data).map_or_else(hex, |v| format!("{v} ({v:#x})")),
            0 => "(no data)".into(),
            _ => format!("hex {}", hex()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode_in_their_oids_form() {
        assert_eq!(
            decode(OID_802_3_CURRENT_ADDRESS, &[2, 0x72, 0x76, 0, 0, 1]),
            "02-72-76-00-00-01"
        );
        assert_eq!(
            decode(OID_GEN_CURRENT_PACKET_FILTER, &0x0bu32.to_le_bytes()),
            "0x000b (DIRECTED | MULTICAST | BROADCAST)"
        );
        let mut speed = 10_000_000_000u64.to_le_bytes().to_vec();
        speed.extend(10_000_000_000u64.to_le_bytes());
        assert_eq!(
            decode(OID_GEN_LINK_SPEED_EX, &speed),
            "transmit 10000000000 bit/s, receive 10000000000 bit/s"
        );
        assert_eq!(
            decode(OID_GEN_MEDIA_CONNECT_STATUS, &0u32.to_le_bytes()),
            "connected"
        );
    }
}
