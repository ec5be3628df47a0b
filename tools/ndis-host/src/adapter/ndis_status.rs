//! Status indications and completions: `NdisMIndicateStatusEx`, `NdisMPauseComplete`,
//! `NdisMRestartComplete`, `NdisMResetComplete` and `NdisMOidRequestComplete`.

use super::*;

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMIndicateStatusEx(
    MiniportAdapterHandle: NDIS_HANDLE,
    StatusIndication: PNDIS_STATUS_INDICATION,
) {
    const API: &str = "NdisMIndicateStatusEx";
    let host = current();
    if !host.check_irql(API) {
        return;
    }
    let mut st = host.lock();
    let Some(adapter) = adapter_for(&mut st, API, MiniportAdapterHandle) else {
        return;
    };
    // NdisMIndicateStatusEx's page: the driver may indicate "after setting its registration
    // attributes even if the driver is still in the context of" MiniportInitializeEx, and "must not
    // call NdisMIndicateStatusEx after it returns from" MiniportHaltEx.
    let slot = &st.adapters[adapter];
    let too_early = slot.phase == Phase::Initializing && !slot.registered;
    if too_early || matches!(slot.phase, Phase::Halted | Phase::Failed) {
        let when = if too_early {
            "before the registration attributes were set"
        } else {
            "after MiniportHaltEx returned (or initialize failed)"
        };
        st.violate(
            Rule::StatusOutsideLifetime,
            API,
            Some(adapter),
            format!("status indication {when}"),
        );
        return;
    }
    // SAFETY: the driver passes a status indication valid for the call.
    let ind = unsafe { &*StatusIndication };
    if !st.check_header(
        API,
        ind.Header,
        NDIS_OBJECT_TYPE_STATUS_INDICATION,
        NDIS_STATUS_INDICATION_REVISION_1,
        NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
    ) {
        return;
    }
    if ind.SourceHandle != MiniportAdapterHandle {
        st.violate(
            Rule::BadParameter,
            API,
            Some(adapter),
            "SourceHandle is not the miniport adapter handle",
        );
        return;
    }
    let buffer = if ind.StatusBuffer.is_null() {
        Vec::new()
    } else {
        // SAFETY: the driver's status buffer of StatusBufferSize bytes, valid for the call.
        unsafe { std::slice::from_raw_parts(ind.StatusBuffer.cast::<u8>(), ind.StatusBufferSize as usize) }
            .to_vec()
    };
    if ind.StatusCode == NDIS_STATUS_LINK_STATE {
        let ok = buffer.len() == size_of::<NDIS_LINK_STATE>()
            && buffer[0] == NDIS_OBJECT_TYPE_DEFAULT
            && buffer[1] >= NDIS_LINK_STATE_REVISION_1
            && u16::from_le_bytes([buffer[2], buffer[3]]) >= NDIS_SIZEOF_LINK_STATE_REVISION_1;
        if !ok {
            st.violate(
                Rule::BadParameter,
                API,
                Some(adapter),
                format!(
                    "NDIS_STATUS_LINK_STATE with a {}-byte buffer that is not an NDIS_LINK_STATE",
                    buffer.len()
                ),
            );
            return;
        }
    }
    if ind.StatusCode == NDIS_STATUS_RECEIVE_QUEUE_STATE
        && let Err(why) = crate::vmq::queue_state(&mut st.adapters[adapter].vmq, &buffer)
    {
        st.violate(Rule::ReceiveQueue, API, Some(adapter), why);
        return;
    }
    if ind.StatusCode == NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG {
        let minor = minor_version(&st);
        if let Err(why) = crate::offload::current_config(&mut st.adapters[adapter].offload, &buffer, minor) {
            st.violate(Rule::OffloadConfig, API, Some(adapter), why);
        }
    }
    st.adapters[adapter].status.push(StatusIndication {
        code: ind.StatusCode,
        buffer,
    });
}

pub(super) fn complete<T>(
    api: &'static str,
    handle: NDIS_HANDLE,
    what: &str,
    apply: impl FnOnce(&mut State, usize) -> Result<T, ()>,
) {
    let host = current();
    if !host.check_irql(api) {
        return;
    }
    let mut st = host.lock();
    let Some(adapter) = adapter_for(&mut st, api, handle) else {
        return;
    };
    if apply(&mut st, adapter).is_err() {
        st.violate(
            Rule::UnexpectedCompletion,
            api,
            Some(adapter),
            format!("no {what} is pending"),
        );
    }
    drop(st);
    host.notify();
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE) {
    const API: &str = "NdisMPauseComplete";
    complete(API, MiniportAdapterHandle, "pause", |st, a| {
        if !st.adapters[a].pending.pause {
            return Err(());
        }
        complete_pause(st, a, API);
        Ok(())
    });
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMRestartComplete(MiniportAdapterHandle: NDIS_HANDLE, Status: NDIS_STATUS) {
    complete(
        "NdisMRestartComplete",
        MiniportAdapterHandle,
        "restart",
        |st, a| match &mut st.adapters[a].pending.restart {
            Some(slot @ None) => {
                *slot = Some(Status);
                Ok(())
            }
            _ => Err(()),
        },
    );
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMResetComplete(
    MiniportAdapterHandle: NDIS_HANDLE,
    Status: NDIS_STATUS,
    AddressingReset: BOOLEAN,
) {
    complete(
        "NdisMResetComplete",
        MiniportAdapterHandle,
        "reset",
        |st, a| match &mut st.adapters[a].pending.reset {
            Some(slot @ None) => {
                *slot = Some((Status, AddressingReset != 0));
                check_reset_sends(st, a, "NdisMResetComplete");
                Ok(())
            }
            _ => Err(()),
        },
    );
}

#[unsafe(no_mangle)]
#[ndis::kernel_abi(host)]
pub extern "system" fn NdisMOidRequestComplete(
    MiniportAdapterHandle: NDIS_HANDLE,
    OidRequest: PNDIS_OID_REQUEST,
    Status: NDIS_STATUS,
) {
    complete(
        "NdisMOidRequestComplete",
        MiniportAdapterHandle,
        "OID request",
        |st, a| match &mut st.adapters[a].pending.oid {
            Some((request, slot @ None)) if *request == OidRequest as usize => {
                *slot = Some(Status);
                Ok(())
            }
            _ => Err(()),
        },
    );
}
