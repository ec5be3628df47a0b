//! The adapter's configuration (its registry keywords) as `NdisOpenConfigurationEx`,
//! `NdisReadConfiguration` and `NdisReadNetworkAddress` serve it.
//!
//! Values keep their registry type: an INF installs advanced properties as strings (`REG_SZ`), which
//! NDIS converts when the driver asks for an integer (decimal for `NdisParameterInteger`, hex for
//! `NdisParameterHexInteger`); a `REG_DWORD` comes back as an integer whatever type was asked for.
//! Keywords match case-insensitively, as registry value names do.
#![allow(
    non_snake_case,
    non_upper_case_globals,
    reason = "exports and patterns keep the C names of the WDK"
)]

use std::collections::HashMap;

use ndis::*;

use crate::host::{State, current};
use crate::irql::with_thread;
use crate::verifier::{Kind, Rule};

/// A registry value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_SZ` (what INF advanced properties install).
    String(String),
    /// `REG_MULTI_SZ`.
    MultiString(Vec<String>),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::Dword(v)
    }
}

/// An adapter's keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, Value)>,
}

impl Config {
    #[must_use]
    /// No keyword: the driver sees its defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `keyword`.
    #[must_use]
    pub fn with(mut self, keyword: &str, value: impl Into<Value>) -> Self {
        self.set(keyword, value);
        self
    }

    /// Adds or replaces `keyword` (names compare without case, as the registry's do).
    pub fn set(&mut self, keyword: &str, value: impl Into<Value>) {
        let value = value.into();
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
        {
            Some(entry) => entry.1 = value,
            None => self.entries.push((keyword.to_string(), value)),
        }
    }

    #[must_use]
    /// The value of `keyword`, if set.
    pub fn get(&self, keyword: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, v)| v)
    }
}

/// An open configuration handle and the memory handed out through it (valid until closed).
#[derive(Debug)]
pub(crate) struct Open {
    adapter: Option<usize>,
    /// Boxed: the driver holds pointers to them, which must not move when the vector grows.
    #[expect(clippy::vec_box, reason = "the boxes give the parameters stable addresses")]
    parameters: Vec<Box<NDIS_CONFIGURATION_PARAMETER>>,
    strings: Vec<Box<[u16]>>,
    binaries: Vec<Box<[u8]>>,
}

#[derive(Debug, Default)]
pub(crate) struct Configs {
    open: HashMap<usize, Open>,
}

fn close(st: &mut State, handle: usize) -> bool {
    if st.configs.open.remove(&handle).is_none() {
        return false;
    }
    st.tracker.remove(handle);
    crate::memory::raw_free(handle, 8);
    true
}

/// After `MiniportHaltEx` or a failed `MiniportInitializeEx`: configuration handles of the adapter
/// still open are a violation (and are closed, so they are reported once). `NdisOpenConfigurationEx`'s
/// page: an adapter's handle may be used "until NDIS halts the miniport adapter and the
/// `MiniportHaltEx` function returns", and the driver "must call `NdisCloseConfiguration`" when done.
pub(crate) fn close_leftovers(st: &mut State, adapter: usize, api: &'static str) {
    let left: Vec<usize> = st
        .configs
        .open
        .iter()
        .filter(|(_, o)| o.adapter == Some(adapter))
        .map(|(h, _)| *h)
        .collect();
    for handle in left {
        st.violate(
            Rule::ConfigNotClosed,
            api,
            Some(adapter),
            format!("configuration handle {handle:#x} still open when {api} returned"),
        );
        close(st, handle);
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisOpenConfigurationEx(
    ConfigObject: PNDIS_CONFIGURATION_OBJECT,
    ConfigurationHandle: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    const API: &str = "NdisOpenConfigurationEx";
    let host = current();
    if !host.check_irql(API) {
        return NDIS_STATUS_FAILURE;
    }
    let mut st = host.lock();
    let caller = with_thread(|t| t.adapter);
    // SAFETY: the driver passes a configuration object valid for the call (NULL is checked).
    let Some(object) = (unsafe { ConfigObject.as_ref() }).filter(|_| !ConfigurationHandle.is_null()) else {
        st.violate(
            Rule::BadParameter,
            API,
            caller,
            "NULL ConfigObject or ConfigurationHandle",
        );
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    let h = object.Header;
    if !st.check_header(
        API,
        h,
        NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
        NDIS_CONFIGURATION_OBJECT_REVISION_1,
        NDIS_SIZEOF_CONFIGURATION_OBJECT_REVISION_1,
    ) {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let adapter = match crate::memory::handle_kind(&st, object.NdisHandle) {
        Some("adapter") => st.adapter_of(object.NdisHandle),
        Some("driver") => None,
        _ => {
            st.violate(
                Rule::BadParameter,
                API,
                caller,
                format!(
                    "NdisHandle {:#x} is not a miniport adapter or driver handle",
                    object.NdisHandle as usize
                ),
            );
            return NDIS_STATUS_INVALID_PARAMETER;
        }
    };
    if st.faults.should_fail(Kind::Configuration, API) {
        return NDIS_STATUS_RESOURCES;
    }
    let handle = crate::memory::raw_alloc(8, 0) as usize;
    st.configs.open.insert(
        handle,
        Open {
            adapter,
            parameters: Vec::new(),
            strings: Vec::new(),
            binaries: Vec::new(),
        },
    );
    st.track(handle, Kind::Configuration, API, 0, 0, None);
    // SAFETY: checked non-null; the driver owns the output variable for the call.
    unsafe { ConfigurationHandle.write(handle as NDIS_HANDLE) };
    NDIS_STATUS_SUCCESS
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE) {
    const API: &str = "NdisCloseConfiguration";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    if !close(&mut st, ConfigurationHandle as usize) {
        st.violate(
            Rule::BadFree,
            API,
            with_thread(|t| t.adapter),
            format!(
                "{:#x} is not an open configuration handle",
                ConfigurationHandle as usize
            ),
        );
    }
}

fn keyword(s: PNDIS_STRING) -> Option<String> {
    // SAFETY: the driver passes a counted string valid for the call (NULL is checked).
    let s = unsafe { s.as_ref() }?;
    if s.Buffer.is_null() {
        return None;
    }
    // SAFETY: `Length` bytes of UTF-16 at `Buffer`.
    let units = unsafe { std::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2) };
    Some(String::from_utf16_lossy(units))
}

/// The adapter config behind an open handle (`None` when it is the driver's, which has no keywords).
fn lookup(st: &State, handle: usize, keyword: &str) -> Result<Option<Value>, ()> {
    let open = st.configs.open.get(&handle).ok_or(())?;
    Ok(open
        .adapter
        .and_then(|a| st.adapters[a].config.get(keyword).cloned()))
}

fn parse_integer(text: &str, hex: bool) -> Option<u32> {
    let t = text.trim();
    if hex {
        u32::from_str_radix(t.trim_start_matches("0x").trim_start_matches("0X"), 16).ok()
    } else {
        t.parse::<u32>()
            .ok()
            .or_else(|| t.parse::<i32>().ok().map(|v| v as u32))
    }
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisReadConfiguration(
    Status: PNDIS_STATUS,
    ParameterValue: *mut PNDIS_CONFIGURATION_PARAMETER,
    ConfigurationHandle: NDIS_HANDLE,
    Keyword: PNDIS_STRING,
    ParameterType: NDIS_PARAMETER_TYPE,
) {
    const API: &str = "NdisReadConfiguration";
    let host = current();
    let set_status = |s: NDIS_STATUS| {
        // SAFETY: the driver passes a status variable valid for the call.
        unsafe { Status.write(s) }
    };
    if !host.check_irql(API) {
        set_status(NDIS_STATUS_FAILURE);
        return;
    }
    let mut st = host.lock();
    let caller = with_thread(|t| t.adapter);
    let Some(name) = keyword(Keyword) else {
        st.violate(Rule::BadParameter, API, caller, "NULL Keyword");
        set_status(NDIS_STATUS_FAILURE);
        return;
    };
    let value = match lookup(&st, ConfigurationHandle as usize, &name) {
        Err(()) => {
            st.violate(
                Rule::BadParameter,
                API,
                caller,
                format!(
                    "{:#x} is not an open configuration handle",
                    ConfigurationHandle as usize
                ),
            );
            set_status(NDIS_STATUS_FAILURE);
            return;
        }
        Ok(None) => {
            set_status(NDIS_STATUS_FAILURE);
            return;
        }
        Ok(Some(v)) => v,
    };
    let open = st
        .configs
        .open
        .get_mut(&(ConfigurationHandle as usize))
        .expect("checked open");
    let mut parameter = Box::new(NDIS_CONFIGURATION_PARAMETER {
        ParameterType: NdisParameterInteger,
        ParameterData: NDIS_CONFIGURATION_PARAMETER_DATA { IntegerData: 0 },
    });
    match (&value, ParameterType) {
        (Value::Dword(v), _) => parameter.ParameterData.IntegerData = *v,
        (Value::String(s), NdisParameterInteger | NdisParameterHexInteger) => {
            let hex = ParameterType == NdisParameterHexInteger;
            // NDIS's conversion of a REG_SZ that is not a number is not documented; the host reports
            // NDIS_STATUS_FAILURE, so drivers fall back to their default.
            let Some(v) = parse_integer(s, hex) else {
                set_status(NDIS_STATUS_FAILURE);
                return;
            };
            parameter.ParameterType = ParameterType;
            parameter.ParameterData.IntegerData = v;
        }
        (Value::String(_), _) | (Value::MultiString(_), NdisParameterString) => {
            let text = match &value {
                Value::MultiString(parts) => parts.join("\0"),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            let mut units: Box<[u16]> = text.encode_utf16().chain([0]).collect();
            let bytes = u16::try_from((units.len() - 1) * 2).unwrap_or(u16::MAX);
            parameter.ParameterType = NdisParameterString;
            parameter.ParameterData.StringData = UNICODE_STRING {
                Length: bytes,
                MaximumLength: bytes + 2,
                Buffer: units.as_mut_ptr(),
            };
            open.strings.push(units);
        }
        (Value::MultiString(parts), _) => {
            let mut units: Box<[u16]> = parts
                .iter()
                .flat_map(|p| p.encode_utf16().chain([0]))
                .chain([0])
                .collect();
            let bytes = u16::try_from(units.len() * 2).unwrap_or(u16::MAX);
            parameter.ParameterType = NdisParameterMultiString;
            parameter.ParameterData.StringData = UNICODE_STRING {
                Length: bytes,
                MaximumLength: bytes,
                Buffer: units.as_mut_ptr(),
            };
            open.strings.push(units);
        }
        (Value::Binary(bytes), _) => {
            let mut data: Box<[u8]> = bytes.clone().into_boxed_slice();
            parameter.ParameterType = NdisParameterBinary;
            parameter.ParameterData.BinaryData = BINARY_DATA {
                Length: u16::try_from(data.len()).unwrap_or(u16::MAX),
                Buffer: data.as_mut_ptr().cast(),
            };
            open.binaries.push(data);
        }
    }
    let pointer: PNDIS_CONFIGURATION_PARAMETER = &raw mut *parameter;
    open.parameters.push(parameter);
    // The driver passes an output variable valid for the call; the parameter lives until the
    // handle is closed, as documented.
    // SAFETY: the driver's out-variable, valid for the call.
    unsafe { ParameterValue.write(pointer) };
    set_status(NDIS_STATUS_SUCCESS);
}

/// Parses the `NetworkAddress` keyword: 12 hex digits, optionally separated by '-' or ':'.
#[must_use]
pub fn parse_network_address(text: &str) -> Option<[u8; 6]> {
    let digits: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
    if digits.len() != 12 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisReadNetworkAddress(
    Status: PNDIS_STATUS,
    NetworkAddress: *mut PVOID,
    NetworkAddressLength: *mut UINT,
    ConfigurationHandle: NDIS_HANDLE,
) {
    const API: &str = "NdisReadNetworkAddress";
    let host = current();
    let set_status = |s: NDIS_STATUS| {
        // SAFETY: the driver passes a status variable valid for the call.
        unsafe { Status.write(s) }
    };
    if !host.check_irql(API) {
        set_status(NDIS_STATUS_FAILURE);
        return;
    }
    let mut st = host.lock();
    let address = match lookup(&st, ConfigurationHandle as usize, "NetworkAddress") {
        Err(()) => {
            st.violate(
                Rule::BadParameter,
                API,
                with_thread(|t| t.adapter),
                format!(
                    "{:#x} is not an open configuration handle",
                    ConfigurationHandle as usize
                ),
            );
            None
        }
        Ok(Some(Value::String(s))) => parse_network_address(&s),
        Ok(_) => None,
    };
    let Some(address) = address else {
        set_status(NDIS_STATUS_FAILURE);
        return;
    };
    let open = st
        .configs
        .open
        .get_mut(&(ConfigurationHandle as usize))
        .expect("checked open");
    let mut bytes: Box<[u8]> = Box::new(address);
    let pointer = bytes.as_mut_ptr();
    open.binaries.push(bytes);
    // SAFETY: the driver passes an output variable valid for the call; the bytes live until close.
    unsafe { NetworkAddress.write(pointer.cast()) };
    // SAFETY: as above.
    unsafe { NetworkAddressLength.write(6) };
    set_status(NDIS_STATUS_SUCCESS);
}
