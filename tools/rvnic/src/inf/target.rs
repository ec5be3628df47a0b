//! The INF's target OS against the image's imports: a package must not install on a Windows build
//! whose kernel lacks a function the driver imports (it would install, then fail to load).
//!
//! [`FIRST_BUILD`] is the table: for every function the `ndis` crate can import, the first Windows
//! release whose kernel exports it, from the "Requirements" of the function's documentation page.
//! The models decoration's minimum build (`NT$ARCH$.10.0...19041`) must be at least the highest
//! first build among the image's imports.

use std::fmt;

/// One import and where it first appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstBuild {
    /// The module that exports it.
    pub module: &'static str,
    /// The function.
    pub name: &'static str,
    /// The build number of the release below.
    pub build: u32,
    /// The Windows release of that build.
    pub release: &'static str,
    /// The function's documentation page (its "Requirements" name the release).
    pub page: &'static str,
}

/// The first build of Windows 10 (version 1507), which a `10.0` decoration without a build allows.
const FIRST_WINDOWS_10: u32 = 10240;

/// Windows 2000, XP, Vista, 7 and 10 version 2004, by build number.
const W2000: (u32, &str) = (2195, "Windows 2000");
const XP: (u32, &str) = (2600, "Windows XP");
const VISTA: (u32, &str) = (6000, "Windows Vista (NDIS 6.0)");
const WIN7: (u32, &str) = (7600, "Windows 7");
const WIN10_2004: (u32, &str) = (19041, "Windows 10, version 2004");

const fn row(
    module: &'static str,
    name: &'static str,
    first: (u32, &'static str),
    page: &'static str,
) -> FirstBuild {
    FirstBuild {
        module,
        name,
        build: first.0,
        release: first.1,
        page,
    }
}

const NDIS: &str = "ndis.sys";
const NT: &str = "ntoskrnl.exe";
const HAL: &str = "hal.dll";
/// The documentation folders the macros below cite (a test checks every row against them).
#[cfg(test)]
const NDIS_DOC: &str = "https://learn.microsoft.com/windows-hardware/drivers/ddi/ndis/nf-ndis-";
#[cfg(test)]
const WDM_DOC: &str = "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-";

macro_rules! ndis {
    ($name:literal, $page:literal) => {
        row(
            NDIS,
            $name,
            VISTA,
            concat!(
                "https://learn.microsoft.com/windows-hardware/drivers/ddi/ndis/nf-ndis-",
                $page
            ),
        )
    };
}
macro_rules! wdm {
    ($module:expr, $name:literal, $first:expr, $page:literal) => {
        row(
            $module,
            $name,
            $first,
            concat!(
                "https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-",
                $page
            ),
        )
    };
}

/// Every function `ndis` declares (a test keeps the two in step).
pub const FIRST_BUILD: &[FirstBuild] = &[
    ndis!("NdisMRegisterMiniportDriver", "ndismregisterminiportdriver"),
    ndis!("NdisMDeregisterMiniportDriver", "ndismderegisterminiportdriver"),
    ndis!("NdisMSetMiniportAttributes", "ndismsetminiportattributes"),
    ndis!("NdisAllocateGenericObject", "ndisallocategenericobject"),
    ndis!("NdisFreeGenericObject", "ndisfreegenericobject"),
    ndis!(
        "NdisAllocateMemoryWithTagPriority",
        "ndisallocatememorywithtagpriority"
    ),
    ndis!("NdisFreeMemory", "ndisfreememory"),
    ndis!("NdisAllocateMdl", "ndisallocatemdl"),
    ndis!("NdisFreeMdl", "ndisfreemdl"),
    ndis!("NdisAllocateNetBufferListPool", "ndisallocatenetbufferlistpool"),
    ndis!("NdisFreeNetBufferListPool", "ndisfreenetbufferlistpool"),
    ndis!("NdisAllocateNetBufferPool", "ndisallocatenetbufferpool"),
    ndis!("NdisFreeNetBufferPool", "ndisfreenetbufferpool"),
    ndis!("NdisAllocateNetBufferList", "ndisallocatenetbufferlist"),
    ndis!("NdisFreeNetBufferList", "ndisfreenetbufferlist"),
    ndis!("NdisAllocateNetBuffer", "ndisallocatenetbuffer"),
    ndis!("NdisFreeNetBuffer", "ndisfreenetbuffer"),
    ndis!(
        "NdisAllocateNetBufferAndNetBufferList",
        "ndisallocatenetbufferandnetbufferlist"
    ),
    ndis!("NdisGetDataBuffer", "ndisgetdatabuffer"),
    ndis!(
        "NdisMSendNetBufferListsComplete",
        "ndismsendnetbufferlistscomplete"
    ),
    ndis!(
        "NdisMIndicateReceiveNetBufferLists",
        "ndismindicatereceivenetbufferlists"
    ),
    ndis!("NdisMIndicateStatusEx", "ndismindicatestatusex"),
    ndis!("NdisMOidRequestComplete", "ndismoidrequestcomplete"),
    ndis!("NdisMPauseComplete", "ndismpausecomplete"),
    ndis!("NdisMRestartComplete", "ndismrestartcomplete"),
    ndis!("NdisMResetComplete", "ndismresetcomplete"),
    ndis!("NdisOpenConfigurationEx", "ndisopenconfigurationex"),
    ndis!("NdisCloseConfiguration", "ndiscloseconfiguration"),
    ndis!("NdisReadConfiguration", "ndisreadconfiguration"),
    ndis!("NdisReadNetworkAddress", "ndisreadnetworkaddress"),
    ndis!("NdisAllocateTimerObject", "ndisallocatetimerobject"),
    ndis!("NdisSetTimerObject", "ndissettimerobject"),
    ndis!("NdisCancelTimerObject", "ndiscanceltimerobject"),
    ndis!("NdisFreeTimerObject", "ndisfreetimerobject"),
    ndis!("NdisAllocateSpinLock", "ndisallocatespinlock"),
    ndis!("NdisFreeSpinLock", "ndisfreespinlock"),
    ndis!("NdisAcquireSpinLock", "ndisacquirespinlock"),
    ndis!("NdisReleaseSpinLock", "ndisreleasespinlock"),
    ndis!("NdisDprAcquireSpinLock", "ndisdpracquirespinlock"),
    ndis!("NdisDprReleaseSpinLock", "ndisdprreleasespinlock"),
    ndis!("NdisInitializeEvent", "ndisinitializeevent"),
    ndis!("NdisSetEvent", "ndissetevent"),
    ndis!("NdisResetEvent", "ndisresetevent"),
    ndis!("NdisWaitEvent", "ndiswaitevent"),
    ndis!("NdisMSleep", "ndismsleep"),
    wdm!(NT, "ExAllocatePool2", WIN10_2004, "exallocatepool2"),
    wdm!(NT, "ExFreePoolWithTag", W2000, "exfreepoolwithtag"),
    wdm!(NT, "KeBugCheckEx", W2000, "kebugcheckex"),
    wdm!(NT, "KeGetCurrentIrql", W2000, "kegetcurrentirql"),
    wdm!(NT, "KeRaiseIrqlToDpcLevel", W2000, "keraiseirqltodpclevel"),
    wdm!(NT, "KeLowerIrql", W2000, "kelowerirql"),
    wdm!(
        NT,
        "KeGetCurrentProcessorNumberEx",
        WIN7,
        "kegetcurrentprocessornumberex"
    ),
    wdm!(
        NT,
        "KeQueryActiveProcessorCountEx",
        WIN7,
        "kequeryactiveprocessorcountex"
    ),
    wdm!(
        NT,
        "KeAcquireSpinLockRaiseToDpc",
        XP,
        "keacquirespinlockraisetodpc"
    ),
    wdm!(NT, "KeReleaseSpinLock", W2000, "kereleasespinlock"),
    wdm!(
        NT,
        "KeAcquireSpinLockAtDpcLevel",
        W2000,
        "keacquirespinlockatdpclevel"
    ),
    wdm!(
        NT,
        "KeReleaseSpinLockFromDpcLevel",
        W2000,
        "kereleasespinlockfromdpclevel"
    ),
    wdm!(NT, "KeFlushQueuedDpcs", XP, "keflushqueueddpcs"),
    wdm!(NT, "KeInitializeDpc", W2000, "keinitializedpc"),
    wdm!(NT, "KeSetTargetProcessorDpcEx", WIN7, "kesettargetprocessordpcex"),
    wdm!(NT, "KeInsertQueueDpc", W2000, "keinsertqueuedpc"),
    wdm!(NT, "KeRemoveQueueDpc", W2000, "keremovequeuedpc"),
    wdm!(
        NT,
        "KeGetProcessorIndexFromNumber",
        WIN7,
        "kegetprocessorindexfromnumber"
    ),
    wdm!(
        NT,
        "MmMapLockedPagesSpecifyCache",
        W2000,
        "mmmaplockedpagesspecifycache"
    ),
    wdm!(NT, "DbgPrint", W2000, "dbgprint"),
    wdm!(
        HAL,
        "KeStallExecutionProcessor",
        W2000,
        "kestallexecutionprocessor"
    ),
];

/// The row of `module!name` (module case-insensitive, as the loader compares).
#[must_use]
pub fn first_build(module: &str, name: &str) -> Option<&'static FirstBuild> {
    FIRST_BUILD
        .iter()
        .find(|r| r.module.eq_ignore_ascii_case(module) && r.name == name)
}

/// The minimum build of one `[Manufacturer]` decoration (`NTamd64.10.0...19041`), if it names one.
/// `None` when the decoration gives no OS version (any Windows) or a version without a build.
#[must_use]
pub fn decoration_build(decoration: &str) -> Option<(u32, u32, Option<u32>)> {
    // NT[Architecture][.[OSMajorVersion][.[OSMinorVersion][.[ProductType][.[SuiteMask][.[BuildNumber]]]]]]
    let mut parts = decoration.split('.');
    let _arch = parts.next()?;
    let major = parts.next()?.trim().parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| {
        if m.trim().is_empty() {
            Some(0)
        } else {
            m.trim().parse().ok()
        }
    })?;
    let _product = parts.next();
    let _suite = parts.next();
    let build = parts.next().and_then(|b| b.trim().parse().ok());
    Some((major, minor, build))
}

/// Why a decoration allows a Windows build that lacks an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooOld {
    /// The `[Manufacturer]` decoration, as written.
    pub decoration: String,
    /// What the decoration allows (`None`: every build of its version, or every version).
    pub allows: Option<u32>,
    /// The import that needs a later build.
    pub needs: &'static FirstBuild,
}

impl fmt::Display for TooOld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allows = self
            .allows
            .map_or_else(|| "any build".to_string(), |b| format!("builds from {b}"));
        write!(
            f,
            "[Manufacturer] decoration {} allows {allows}, but the driver imports {}!{}, first in {} (build {}, {}): use {}...{}",
            self.decoration,
            self.needs.module,
            self.needs.name,
            self.needs.release,
            self.needs.build,
            self.needs.page,
            self.decoration.split("...").next().unwrap_or("NT$ARCH$.10.0"),
            self.needs.build
        )
    }
}

/// Checks every decoration against the newest of `imports` (`module!name` pairs). Errors: one per
/// decoration that allows an older build, and one per import the table does not know.
pub fn check<'a>(
    decorations: &[String],
    imports: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut newest: Option<&'static FirstBuild> = None;
    for (module, name) in imports {
        match first_build(module, name) {
            Some(row) => {
                if newest.is_none_or(|n| row.build > n.build) {
                    newest = Some(row);
                }
            }
            None => problems.push(format!(
                "the driver imports {module}!{name}, which the target-OS table (tools/rvnic/src/inf/target.rs) does not list"
            )),
        }
    }
    let Some(needs) = newest else {
        return problems;
    };
    if decorations.is_empty() {
        problems.push(format!(
            "[Manufacturer] has no target-OS decoration, so the package installs on any Windows; the driver needs build {} ({})",
            needs.build, needs.release
        ));
    }
    for decoration in decorations {
        let allows = match decoration_build(decoration) {
            // Windows 10 and later are NT 10.0, from build 10240 (version 1507); an older major
            // version allows older kernels still.
            Some((10, 0, build)) => Some(build.unwrap_or(FIRST_WINDOWS_10)),
            Some((major, _, _)) if major > 10 => continue,
            _ => None,
        };
        if allows.is_none_or(|b| b < needs.build) {
            problems.push(
                TooOld {
                    decoration: decoration.clone(),
                    allows,
                    needs,
                }
                .to_string(),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decorations_parse_as_the_inf_reference_spells_them() {
        assert_eq!(
            decoration_build("NT$ARCH$.10.0...19041"),
            Some((10, 0, Some(19041)))
        );
        assert_eq!(
            decoration_build("NTamd64.10.0...16299"),
            Some((10, 0, Some(16299)))
        );
        assert_eq!(decoration_build("NTamd64.10.0"), Some((10, 0, None)));
        assert_eq!(decoration_build("NTamd64.6.1"), Some((6, 1, None)));
        assert_eq!(decoration_build("NTamd64"), None);
    }

    #[test]
    fn a_decoration_older_than_an_import_is_refused_naming_the_import() {
        let imports = [
            ("ntoskrnl.exe", "ExAllocatePool2"),
            ("ndis.sys", "NdisMPauseComplete"),
        ];
        let refused = check(&["NT$ARCH$.10.0...16299".to_string()], imports);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].contains("ExAllocatePool2") && refused[0].contains("19041"),
            "{}",
            refused[0]
        );
        assert!(check(&["NT$ARCH$.10.0...19041".to_string()], imports).is_empty());
        assert!(check(&["NT$ARCH$.10.0...22000".to_string()], imports).is_empty());
        // Without a build, any Windows 10 (from 10240) is allowed: too old.
        assert_eq!(check(&["NTamd64.10.0".to_string()], imports).len(), 1);
        assert_eq!(check(&["NTamd64".to_string()], imports).len(), 1);
        assert_eq!(check(&[], imports).len(), 1);
        // Only NDIS 6.0 imports: any Windows 10 will do.
        assert!(
            check(
                &["NTamd64.10.0".to_string()],
                [("ndis.sys", "NdisMPauseComplete")]
            )
            .is_empty()
        );
    }

    #[test]
    fn an_import_the_table_lacks_is_an_error() {
        let refused = check(
            &["NT$ARCH$.10.0...19041".to_string()],
            [("ndis.sys", "NdisFancyNewThing")],
        );
        assert_eq!(refused.len(), 1);
        assert!(refused[0].contains("NdisFancyNewThing"));
    }

    #[test]
    fn the_table_lists_every_function_the_ndis_crate_declares_and_nothing_else() {
        let source = include_str!("../../../../helpers/ndis/src/functions.rs");
        let declared: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub fn "))
            .map(|rest| rest.split(['(', '<']).next().unwrap_or(rest))
            .collect();
        assert!(declared.len() > 30, "parsed {declared:?}");
        for name in &declared {
            assert!(
                FIRST_BUILD.iter().any(|r| r.name == *name),
                "{name} is declared in ndis but has no row in FIRST_BUILD"
            );
        }
        for row in FIRST_BUILD {
            assert!(
                declared.contains(&row.name),
                "{} has a row but ndis does not declare it",
                row.name
            );
            assert!(
                row.page.starts_with(NDIS_DOC) || row.page.starts_with(WDM_DOC),
                "{}",
                row.page
            );
            assert!(
                row.page.ends_with(&row.name.to_ascii_lowercase()),
                "{} cites {}",
                row.name,
                row.page
            );
        }
    }
}
