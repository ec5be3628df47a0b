//! Every value the `rvnic` command line takes, parsed from arbitrary text: each parser returns the
//! value or one line saying what is wrong, and none can panic (property tests and the `cli_values`
//! fuzz target feed them arbitrary strings).
//!
//! Registry keywords (`--set KEYWORD=VALUE`) are judged by the driver's own rules:
//! [`resolve`] hands the values to `rvnic::config::Config::from_registry`, the function
//! `MiniportInitializeEx` uses, so what the tool says the driver will do is what it does.

use clap::ValueEnum;
use ndis::{NDIS_OID, ORACLE_CHECKED_CONSTANTS};
use rvnic::config::{Config, Fallback, KEYWORDS, Keyword, Kind, Reason};

/// On or off (`--offload`, `--verifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl Switch {
    /// Whether it is on.
    #[must_use]
    pub const fn on(self) -> bool {
        matches!(self, Self::On)
    }
}

/// Where frames go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Topology {
    /// Each adapter receives what it sends.
    Loopback,
    /// Adapters pair up; each receives what its peer sends.
    Pair,
    /// All adapters on one hub; each sends to the next one.
    Hub,
}

impl Topology {
    /// The driver's topology.
    #[must_use]
    pub const fn to_driver(self) -> rvnic::config::Topology {
        match self {
            Self::Loopback => rvnic::config::Topology::Loopback,
            Self::Pair => rvnic::config::Topology::Pair,
            Self::Hub => rvnic::config::Topology::Hub,
        }
    }

    /// The `Topology` registry value, as the driver's keyword table numbers it.
    #[must_use]
    pub fn keyword(self) -> String {
        self.to_driver().value().to_string()
    }

    /// From the driver's configuration.
    #[must_use]
    pub const fn from_driver(topology: rvnic::config::Topology) -> Self {
        match topology {
            rvnic::config::Topology::Loopback => Self::Loopback,
            rvnic::config::Topology::Pair => Self::Pair,
            rvnic::config::Topology::Hub => Self::Hub,
        }
    }

    /// Whether `adapters` adapters can be wired this way (one message saying why not).
    ///
    /// # Errors
    /// One line saying what is wrong with the text.
    pub fn check_adapters(self, adapters: usize) -> Result<(), String> {
        match self {
            Self::Pair if !adapters.is_multiple_of(2) => Err(format!(
                "a pair topology needs an even number of adapters, not {adapters}"
            )),
            Self::Hub if adapters < 2 => Err(format!("a hub needs at least 2 adapters, not {adapters}")),
            _ => Ok(()),
        }
    }
}

/// Frame sizes: one size, or the simple IMIX (7 x 64 B, 4 x 594 B, 1 x 1514 B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sizes {
    /// Every frame this many bytes.
    Fixed(usize),
    /// The simple IMIX.
    Imix,
}

/// The smallest and largest frame (Ethernet without FCS, up to a 9014-byte jumbo frame).
pub const FRAME_SIZES: std::ops::RangeInclusive<usize> = 60..=9014;

impl std::str::FromStr for Sizes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("imix") {
            return Ok(Self::Imix);
        }
        let n: usize =
            decimal(s).ok_or_else(|| format!("'{s}' is not a frame size (a number of bytes, or 'imix')"))?;
        if !FRAME_SIZES.contains(&n) {
            return Err(format!(
                "frame size {n} is outside {}..={} bytes (Ethernet without FCS)",
                FRAME_SIZES.start(),
                FRAME_SIZES.end()
            ));
        }
        Ok(Self::Fixed(n))
    }
}

impl Sizes {
    /// The sizes, in the order frames cycle through them.
    #[must_use]
    pub fn list(&self) -> Vec<usize> {
        match self {
            Self::Fixed(n) => vec![*n],
            Self::Imix => [[64; 7].as_slice(), &[594; 4], &[1514]].concat(),
        }
    }

    #[must_use]
    /// The largest frame the sizes include.
    pub fn largest(&self) -> usize {
        self.list().into_iter().max().unwrap_or(*FRAME_SIZES.start())
    }
}

/// A plain unsigned decimal (ASCII digits only: no sign, no spaces, no `_`), or `None`.
#[must_use]
pub fn decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A `KEY=VALUE` registry keyword override. The value is kept as the registry text the driver would
/// read (an INF writes every advanced property as a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The keyword, as the driver's table spells it.
    pub keyword: &'static str,
    /// The value, as registry text.
    pub value: String,
}

impl std::str::FromStr for Setting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not KEYWORD=VALUE"))?;
        let keyword = KEYWORDS
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(key.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = KEYWORDS.iter().map(|k| k.name).collect();
                format!(
                    "unknown keyword '{}' (rvnic reads {})",
                    key.trim(),
                    names.join(", ")
                )
            })?;
        let value = value.trim();
        check_syntax(keyword, value)?;
        Ok(Self {
            keyword: keyword.name,
            value: value.to_string(),
        })
    }
}

/// The value's syntax, as the driver reads the keyword: integer keywords as decimal text
/// (`NdisParameterInteger`), `NetworkAddress` as 12 hex digits (`NdisReadNetworkAddress`).
fn check_syntax(keyword: &Keyword, value: &str) -> Result<(), String> {
    match keyword.kind {
        Kind::Enum(_) | Kind::Int { .. } => decimal::<u32>(value).map(|_| ()).ok_or_else(|| {
            format!(
                "{}='{value}': the driver reads {} as a decimal number (0 to 4294967295)",
                keyword.name, keyword.name
            )
        }),
        Kind::MacAddress if value.is_empty() => Ok(()),
        Kind::MacAddress => mac(value)
            .map(|_| ())
            .map_err(|e| format!("{}='{value}': {e}", keyword.name)),
    }
}

/// What the driver will run with, given `settings` (the last of a keyword wins), and every value
/// it refuses, from the driver's own `Config::from_registry`.
#[must_use]
pub fn resolve(settings: &[Setting]) -> (Config, Vec<Fallback>) {
    let last = |name: &str| settings.iter().rev().find(|s| s.keyword == name);
    let address = last("NetworkAddress")
        .filter(|s| !s.value.is_empty())
        .and_then(|s| mac(&s.value).ok());
    let (config, fallbacks) = Config::from_registry(
        |name| last(name).and_then(|s| decimal(&s.value)),
        address.as_ref().map(<[u8; 6]>::as_slice),
    );
    (config, fallbacks.iter().copied().collect())
}

/// One line for a refused keyword, naming what the driver uses instead.
#[must_use]
pub fn describe(fallback: &Fallback) -> String {
    let keyword = KEYWORDS.iter().find(|k| k.name == fallback.keyword);
    let why = match fallback.reason {
        Reason::NotAllowed(v) => {
            let allowed = match keyword.map(|k| k.kind) {
                Some(Kind::Enum(values)) => values
                    .iter()
                    .map(|(v, _)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            format!("{v} is not one of {allowed}")
        }
        Reason::OutOfRange(v) => match keyword.map(|k| k.kind) {
            Some(Kind::Int { min, max, .. }) => format!("{v} is outside {min}..={max}"),
            _ => format!("{v} is out of range"),
        },
        Reason::AddressLength(n) => format!("an address of {n} bytes, not 6"),
        Reason::MulticastAddress => "a multicast address".to_string(),
        Reason::NotLocallyAdministered => {
            "not a locally administered address (set bit 1 of the first byte)".to_string()
        }
        Reason::ZeroAddress => "the all-zero address".to_string(),
    };
    let default = match keyword {
        Some(k) if k.kind == Kind::MacAddress => "the permanent address".to_string(),
        Some(k) => k.default.to_string(),
        None => "its default".to_string(),
    };
    format!(
        "the driver refuses {} ({why}) and uses {default} instead",
        fallback.keyword
    )
}

/// The topology a command runs with: `--topology`, or the `Topology` keyword, or `default`; an
/// option and a keyword that say different things are refused.
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn topology(
    option: Option<Topology>,
    settings: &[Setting],
    default: Topology,
) -> Result<Topology, String> {
    let keyword = settings.iter().rev().find(|s| s.keyword == "Topology");
    let from_keyword = keyword.and_then(|s| {
        let value = decimal::<u32>(&s.value)?;
        rvnic::config::Topology::from_value(value).map(Topology::from_driver)
    });
    match (option, keyword, from_keyword) {
        (Some(o), Some(_), Some(k)) if o != k => Err(format!(
            "--topology {} contradicts --set Topology={} ({k:?}); give one of them",
            o.to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_string()),
            keyword.map_or("", |s| s.value.as_str())
        )),
        (Some(o), _, _) => Ok(o),
        (None, _, Some(k)) => Ok(k),
        (None, Some(s), None) => {
            let known: Vec<String> = rvnic::config::Topology::VALUES
                .iter()
                .map(|(value, name)| format!("{value} {}", name.to_lowercase()))
                .collect();
            Err(format!(
                "--set Topology={}: the driver would refuse it ({}); use --topology",
                s.value,
                known.join(", ")
            ))
        }
        (None, None, _) => Ok(default),
    }
}

/// An OID by name (exact, case-insensitive) or number (`0x...` or decimal).
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn oid(text: &str) -> Result<NDIS_OID, String> {
    if let Some(hex) = strip_hex_prefix(text) {
        return hex_number(hex)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("'{text}' is not a 32-bit hexadecimal OID"));
    }
    if let Some(n) = decimal::<u32>(text) {
        return Ok(n);
    }
    names("OID_")
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, v)| v)
        .ok_or_else(|| {
            // Suggest the names that share the longest prefix with what was typed.
            let upper = text.to_ascii_uppercase();
            let shared = |n: &str| n.bytes().zip(upper.bytes()).take_while(|(a, b)| a == b).count();
            let best = names("OID_").map(|(n, _)| shared(n)).max().unwrap_or(0);
            let close: Vec<&str> = names("OID_")
                .map(|(n, _)| n)
                .filter(|n| best >= 8 && shared(n) == best)
                .take(4)
                .collect();
            if close.is_empty() {
                format!(
                    "unknown OID '{text}' (use a name like OID_GEN_LINK_SPEED or a number like 0x00010107)"
                )
            } else {
                format!("unknown OID '{text}'; did you mean {}?", close.join(", "))
            }
        })
}

/// Every oracle-checked constant whose name starts with `prefix`, as a 32-bit value.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the oracle keeps every constant as u64; the ones named here are ULONGs"
)]
pub fn names(prefix: &'static str) -> impl Iterator<Item = (&'static str, u32)> {
    ORACLE_CHECKED_CONSTANTS
        .iter()
        .filter(move |(n, _)| n.starts_with(prefix))
        .map(|(n, v)| (*n, *v as u32))
}

fn strip_hex_prefix(text: &str) -> Option<&str> {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
}

/// Hex digits (1 to 16 of them) as a number.
fn hex_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// One MAC address: 12 hex digits, optionally in 6 groups of 2 separated by `-` or `:`.
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn mac(text: &str) -> Result<[u8; 6], String> {
    let bytes = text.as_bytes();
    let digits: Vec<u8> = match bytes.len() {
        12 => bytes.to_vec(),
        17 => {
            let separator = bytes[2];
            if separator != b'-' && separator != b':' {
                return Err("not a MAC address (6 hex bytes, '-' or ':' between)".into());
            }
            let mut digits = Vec::with_capacity(12);
            for (i, &b) in bytes.iter().enumerate() {
                if i % 3 == 2 {
                    if b != separator {
                        return Err("not a MAC address (mixed or misplaced separators)".into());
                    }
                } else {
                    digits.push(b);
                }
            }
            digits
        }
        _ => return Err("not a MAC address (6 hex bytes, '-' or ':' between)".into()),
    };
    let mut out = [0u8; 6];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0]).ok_or("not a MAC address (a character that is not a hex digit)")?;
        let lo = hex_digit(pair[1]).ok_or("not a MAC address (a character that is not a hex digit)")?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `--width`: 1, 2, 4 or 8 bytes.
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn width(text: &str) -> Result<usize, String> {
    match decimal::<usize>(text) {
        Some(n @ (1 | 2 | 4 | 8)) => Ok(n),
        _ => Err(format!("'{text}' is not 1, 2, 4 or 8")),
    }
}

/// The bytes an `rvnic oid set` value stands for: `hex:` and raw bytes, MAC addresses separated by
/// commas, or a number (decimal or `0x`) written little-endian in `width` bytes.
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn oid_value(text: &str, width: usize) -> Result<Vec<u8>, String> {
    if let Some(hex) = text.strip_prefix("hex:") {
        let digits = hex.as_bytes();
        if let Some(position) = digits.iter().position(|&b| hex_digit(b).is_none()) {
            let shown = hex
                .get(position..)
                .and_then(|rest| rest.chars().next())
                .map_or_else(|| format!("byte {:#04x}", digits[position]), |c| format!("'{c}'"));
            return Err(format!(
                "'{text}': {shown} at position {position} is not a hex digit"
            ));
        }
        if digits.len() % 2 != 0 {
            return Err(format!("'{text}': raw bytes need an even number of hex digits"));
        }
        return Ok(digits
            .chunks_exact(2)
            .map(|p| hex_digit(p[0]).unwrap_or(0) << 4 | hex_digit(p[1]).unwrap_or(0))
            .collect());
    }
    if text.contains('-') || text.contains(':') {
        let mut bytes = Vec::new();
        for address in text.split(',') {
            let address = address.trim();
            bytes.extend_from_slice(&mac(address).map_err(|e| format!("'{address}' is {e}"))?);
        }
        return Ok(bytes);
    }
    let number = match strip_hex_prefix(text) {
        Some(hex) => hex_number(hex),
        None => decimal::<u64>(text),
    }
    .ok_or_else(|| format!("'{text}' is not a number (64-bit), MAC address list or hex:bytes value"))?;
    if !matches!(width, 1 | 2 | 4 | 8) {
        return Err(format!("width {width} is not 1, 2, 4 or 8"));
    }
    if width < 8 && number >> (8 * width) != 0 {
        return Err(format!("{number:#x} does not fit in {width} bytes"));
    }
    Ok(number.to_le_bytes()[..width].to_vec())
}

/// A duration in seconds within `min..=max`, from decimal text (`3`, `0.5`, `1e-3`).
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn seconds(text: &str, min: f64, max: f64) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(value.is_finite() && (min..=max).contains(&value)) {
        return Err(format!("{text} seconds is outside {min}..={max}"));
    }
    Ok(value)
}

/// `rvnic run --duration`: at least a tenth of a second (less sends nothing measurable), at most
/// an hour.
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn run_duration(text: &str) -> Result<f64, String> {
    seconds(text, RUN_SECONDS.0, RUN_SECONDS.1)
}

/// The bounds of `rvnic run --duration`.
pub const RUN_SECONDS: (f64, f64) = (0.1, 3600.0);

/// The most frames `rvnic run --frames` sends (a trillion: hours at the fastest rate measured).
pub const MAX_FRAMES: u64 = 1_000_000_000_000;

/// `rvnic run --frames`: 1 to [`MAX_FRAMES`].
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn frames(text: &str) -> Result<u64, String> {
    match decimal::<u64>(text) {
        Some(n) if (1..=MAX_FRAMES).contains(&n) => Ok(n),
        Some(n) => Err(format!("{n} frames is outside 1..={MAX_FRAMES}")),
        None => Err(format!("'{text}' is not a number of frames")),
    }
}

/// `rvnic tap --duration`: up to a day.
///
/// # Errors
/// One line saying what is wrong with the text.
pub fn tap_duration(text: &str) -> Result<f64, String> {
    seconds(text, 0.001, 86_400.0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn each_parser_refuses_bad_input_with_one_line() {
        assert!(oid_value("hex:aéb", 4).unwrap_err().contains("'é' at position 1"));
        assert!(oid_value("hex:abc", 4).unwrap_err().contains("even number"));
        assert_eq!(oid_value("hex:0b000000", 4), Ok(vec![0x0b, 0, 0, 0]));
        assert_eq!(oid_value("0x0b", 4), Ok(vec![0x0b, 0, 0, 0]));
        assert_eq!(oid_value("300", 1).unwrap_err(), "0x12c does not fit in 1 bytes");
        assert!(oid_value("-1", 4).unwrap_err().contains("'-1' is"));
        assert!(
            oid_value("99999999999999999999", 8)
                .unwrap_err()
                .contains("not a number")
        );
        assert_eq!(
            oid_value("01-00-5e-00-00-01, 01:00:5e:00:00:02", 4),
            Ok(vec![1, 0, 0x5e, 0, 0, 1, 1, 0, 0x5e, 0, 0, 2])
        );
        assert!(
            oid_value("01-00-5e-00-00", 4)
                .unwrap_err()
                .contains("not a MAC address")
        );
        assert!(mac("01-00:5e-00-00-01").unwrap_err().contains("mixed"));
        assert!(mac("0é-00-5e-00-00-01").is_err());
        assert_eq!(width("8"), Ok(8));
        assert!(width("+4").is_err() && width("3").is_err());
        assert_eq!(oid("0x00010107"), Ok(0x0001_0107));
        assert!(oid("0x1ffffffff").is_err());
        assert_eq!(oid("oid_gen_link_speed"), Ok(ndis::OID_GEN_LINK_SPEED));
        assert!(oid("OID_GEN_LINK_SPEE").unwrap_err().contains("did you mean"));
        assert!(frames("0").is_err() && frames("1000000000001").is_err() && frames("010x").is_err());
        assert_eq!(frames("010"), Ok(10));
        assert!(run_duration("0.01").unwrap_err().contains("outside"));
        assert!(run_duration("NaN").is_err() && run_duration("inf").is_err());
        assert!("9015".parse::<Sizes>().unwrap_err().contains("outside"));
        assert!("+64".parse::<Sizes>().unwrap_err().contains("not a frame size"));
    }

    #[test]
    fn settings_are_checked_for_syntax_and_judged_by_the_driver() {
        let s: Setting = "*jumbopacket=9014".parse().expect("known keyword");
        assert_eq!((s.keyword, s.value.as_str()), ("*JumboPacket", "9014"));
        assert!(
            "Speed=10"
                .parse::<Setting>()
                .unwrap_err()
                .contains("unknown keyword 'Speed'")
        );
        assert!(
            "LinkSpeed"
                .parse::<Setting>()
                .unwrap_err()
                .contains("not KEYWORD=VALUE")
        );
        assert!(
            "LinkSpeed=ten"
                .parse::<Setting>()
                .unwrap_err()
                .contains("decimal number")
        );
        assert!("NetworkAddress=02-00".parse::<Setting>().is_err());
        let (config, refused) = resolve(&["*JumboPacket=99999".parse().expect("syntax")]);
        assert_eq!(config.max_frame, 1514, "the driver's default");
        assert_eq!(refused.len(), 1);
        assert!(
            describe(&refused[0]).contains("99999 is not one of 1514, 4088, 9014"),
            "{}",
            describe(&refused[0])
        );
        let (config, refused) = resolve(&["*TransmitBuffers=100".parse().expect("syntax")]);
        assert_eq!(
            (config.transmit_buffers, refused.len()),
            (128, 0),
            "rounded up by the driver"
        );
        let (_, refused) = resolve(&["NetworkAddress=010203040506".parse().expect("syntax")]);
        assert!(describe(&refused[0]).contains("multicast"));
    }

    #[test]
    fn an_option_and_a_keyword_that_contradict_are_refused() {
        let loopback: Vec<Setting> = vec!["Topology=0".parse().expect("syntax")];
        assert!(
            topology(Some(Topology::Pair), &loopback, Topology::Pair)
                .unwrap_err()
                .contains("contradicts")
        );
        assert_eq!(topology(None, &loopback, Topology::Pair), Ok(Topology::Loopback));
        assert_eq!(
            topology(Some(Topology::Loopback), &loopback, Topology::Pair),
            Ok(Topology::Loopback)
        );
        assert_eq!(topology(None, &[], Topology::Pair), Ok(Topology::Pair));
        let bad: Vec<Setting> = vec!["Topology=7".parse().expect("syntax")];
        assert!(
            topology(None, &bad, Topology::Pair)
                .unwrap_err()
                .contains("refuse")
        );
        assert!(
            Topology::Hub
                .check_adapters(1)
                .unwrap_err()
                .contains("at least 2")
        );
        assert!(Topology::Pair.check_adapters(3).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn no_parser_panics_on_any_string(text in ".{0,40}", w in 0usize..12) {
            let _ = oid_value(&text, w);
            let _ = oid_value(&format!("hex:{text}"), w);
            let _ = mac(&text);
            let _ = oid(&text);
            let _ = width(&text);
            let _ = frames(&text);
            let _ = run_duration(&text);
            let _ = tap_duration(&text);
            let _ = text.parse::<Sizes>();
            if let Ok(setting) = text.parse::<Setting>() {
                let (_, refused) = resolve(&[setting]);
                for f in &refused {
                    let _ = describe(f);
                }
            }
            for k in &KEYWORDS {
                let _ = format!("{}={text}", k.name).parse::<Setting>();
            }
        }

        #[test]
        #[allow(clippy::format_collect, reason = "a few bytes, printed once")]
        fn accepted_values_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..32), n in any::<u64>(), address in any::<[u8; 6]>()) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(oid_value(&format!("hex:{hex}"), 4), Ok(bytes));
            prop_assert_eq!(oid_value(&n.to_string(), 8), Ok(n.to_le_bytes().to_vec()));
            prop_assert_eq!(oid_value(&format!("{n:#x}"), 8), Ok(n.to_le_bytes().to_vec()));
            let text = address.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
            prop_assert_eq!(mac(&text), Ok(address));
        }
    }
}
