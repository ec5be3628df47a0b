#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Installs the rvnic driver package in a Windows test machine (a Hyper-V guest) and creates rvnic
    adapters.

.DESCRIPTION
    1. Turns on test signing (bcdedit) if the running system did not boot with it, then stops:
       reboot and run the script again. Whether it is in effect is read from the boot options of
       the running system (HKLM\SYSTEM\CurrentControlSet\Control\SystemStartOptions holds
       TESTSIGNING), not from bcdedit's output, which is translated on non-English systems.
    2. Imports the test certificate that signed the package into the machine's Root and
       TrustedPublisher stores.
    3. Adds the driver package to the driver store (pnputil /add-driver ... /install). PnPUtil's
       documented success codes are 0, 259 (ERROR_NO_MORE_ITEMS: no device matches yet, which is
       the case before step 4) and 3010 (ERROR_SUCCESS_REBOOT_REQUIRED); see
       https://learn.microsoft.com/windows-hardware/drivers/devtest/pnputil-return-values
    4. Creates -Count root-enumerated instances (hardware id root\rvnic) with devgen
       (/bus ROOT: a root-enumerated device persists across reboots, a software device, devgen's
       default, does not), or with devcon. Neither tool is part of Windows: they come with the WDK,
       in C:\Program Files (x86)\Windows Kits\10\Tools\<version>\x64 on the machine where it is
       installed. Copy devgen.exe (or devcon.exe) from there into the guest and pass its folder as
       -ToolPath.
    5. Sets the adapters' advanced properties (the keywords of rvnic's INF) and, with
       -EnableVerifier, turns on Driver Verifier with the NDIS/WIFI option for rvnic.sys (reboot).
       -ReceiveScaling chooses RSS (the default, for adapters bound to TCP/IP) or VMQ (for an
       adapter a Hyper-V virtual switch is bound to) through the hidden *RssOrVmqPreference
       keyword, which the INF must not declare: it is created on each adapter, not set.
       With VMQ, a switch bound to the adapter (New-VMSwitch -NetAdapterName) allocates a queue per
       VM network adapter (Get-NetAdapterVmqQueue lists them) with a filter on that adapter's MAC
       address (and VLAN, with -VmqVlanFiltering 1); rvnic indicates the frames each filter takes
       on its queue, from receive buffers of the queue's own, with the queue's identifier on the
       NBL, on the first processor of the queue's affinity, and the rest on the default queue. Up
       to four queues at once.
    6. Prints Get-NetAdapter for the rvnic adapters.

    Run it from an elevated PowerShell with an explicit execution policy, so the default policy
    (Restricted on Windows clients) does not stop it:
        powershell -NoProfile -ExecutionPolicy Bypass -File .\Install-Rvnic.ps1 ...

.EXAMPLE
    powershell -NoProfile -ExecutionPolicy Bypass -File .\Install-Rvnic.ps1 -PackageDir C:\rvnic -CertificatePath C:\rvnic\rvnic-test.cer -ToolPath C:\rvnic\tools -Count 2 -Topology Pair
#>
[CmdletBinding()]
param(
    # Folder with rvnic.inf, rvnic.sys and rvnic.cat (the signed package).
    [Parameter(Mandatory = $true)]
    [ValidateScript({ Test-Path (Join-Path $_ 'rvnic.inf') })]
    [string] $PackageDir,

    # The test certificate (.cer) the package was signed with.
    [string] $CertificatePath,

    # Folder holding devgen.exe or devcon.exe (copied from a machine with the WDK, see step 4).
    # Without it, PATH is searched.
    [string] $ToolPath,

    [ValidateRange(1, 8)]
    [int] $Count = 2,

    [ValidateSet('Loopback', 'Pair', 'Hub')]
    [string] $Topology = 'Pair',

    [ValidateSet(1514, 4088, 9014)]
    [int] $JumboPacket = 1514,

    [ValidateRange(1, 100)]
    [int] $LinkSpeedGbps = 10,

    [ValidateRange(0, 255)]
    [int] $SegmentId = 0,

    # 802.1Q: 0 none, 1 priority, 2 VLAN, 3 both (*PriorityVLANTag), and the adapters' VLAN (0: none).
    [ValidateRange(0, 3)]
    [int] $PriorityVlanTag = 3,

    [ValidateRange(0, 4094)]
    [int] $VlanId = 0,

    # Receive-side scaling: on (1) or off (0), its queues, and the processors they may use.
    [ValidateRange(0, 1)]
    [int] $Rss = 1,

    [ValidateRange(1, 16)]
    [int] $NumRssQueues = 4,

    [ValidateRange(1, 2048)]
    [int] $MaxRssProcessors = 8,

    # NDIS QoS (Data Center Bridging): on (1) or off (0); on also turns packet priority on.
    [ValidateRange(0, 1)]
    [int] $Qos = 1,

    # RSS or VMQ (*RssOrVmqPreference), VMQ on (1) or off (0), and VMQ filters on VLANs.
    [ValidateSet('Rss', 'Vmq')]
    [string] $ReceiveScaling = 'Rss',

    [ValidateRange(0, 1)]
    [int] $Vmq = 1,

    [ValidateRange(0, 1)]
    [int] $VmqVlanFiltering = 1,

    [switch] $EnableVerifier
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$HardwareId = 'root\rvnic'
$Description = 'rvnic Virtual Ethernet Adapter'

function Get-RvnicAdapter {
    Get-NetAdapter -IncludeHidden -ErrorAction SilentlyContinue |
        Where-Object { $_.InterfaceDescription -like "$Description*" }
}

# 1. Test signing: a test-signed driver loads only when the system booted with it on.
$startOptions = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name SystemStartOptions).SystemStartOptions
if ($startOptions -notmatch '(^|\s)TESTSIGNING(\s|$)') {
    $secureBoot = $false
    try { $secureBoot = Confirm-SecureBootUEFI } catch { $secureBoot = $false }  # not UEFI, or not supported
    if ($secureBoot) {
        throw 'Secure Boot is on, so test signing cannot be turned on: turn Secure Boot off in the VM settings (Security), then run this script again'
    }
    bcdedit /set testsigning on | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "bcdedit /set testsigning on failed with exit code $LASTEXITCODE" }
    Write-Warning 'Test signing is now on for the next boot. Reboot the machine, then run this script again.'
    exit 3
}

# The tool that creates root-enumerated devices (before anything is installed, so a missing tool
# changes nothing on the machine).
function Find-DeviceTool([string] $Name) {
    if ($ToolPath) {
        $candidate = Join-Path $ToolPath $Name
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { return $candidate }
        return $null
    }
    $command = Get-Command $Name -ErrorAction SilentlyContinue
    if ($command) { return $command.Source }
    return $null
}
$devgen = Find-DeviceTool 'devgen.exe'
$devcon = Find-DeviceTool 'devcon.exe'
if (-not $devgen -and -not $devcon) {
    $where = if ($ToolPath) { "in -ToolPath $ToolPath" } else { 'on PATH (and no -ToolPath was given)' }
    throw "Neither devgen.exe nor devcon.exe is $where. They are WDK tools: copy devgen.exe from C:\Program Files (x86)\Windows Kits\10\Tools\<version>\x64 on a machine with the WDK into this machine, and pass its folder as -ToolPath."
}

# 2. Trust the test certificate.
if ($CertificatePath) {
    foreach ($store in 'Root', 'TrustedPublisher') {
        Import-Certificate -FilePath $CertificatePath -CertStoreLocation "Cert:\LocalMachine\$store" | Out-Null
        Write-Host "Imported $CertificatePath into LocalMachine\$store"
    }
}

# 3. The driver package.
$inf = Join-Path $PackageDir 'rvnic.inf'
# PnPUtil return values: 0 success, 259 no matching device yet, 3010 success with a reboot needed.
$PnpUtilSuccess = @(0, 259, 3010)
pnputil /add-driver $inf /install
$pnputilExit = $LASTEXITCODE
if ($PnpUtilSuccess -notcontains $pnputilExit) { throw "pnputil /add-driver $inf /install failed with exit code $pnputilExit" }
if ($pnputilExit -eq 3010) { Write-Warning 'pnputil: the driver package was added; Windows asks for a reboot to finish.' }

# 4. Root-enumerated instances.
$before = @(Get-RvnicAdapter).Count
for ($i = 0; $i -lt $Count; $i++) {
    if ($devgen) {
        & $devgen /add /bus ROOT /hardwareid $HardwareId | Out-Host
        $ok = $LASTEXITCODE -eq 0
    } else {
        # devcon: 0 success, 1 success with a reboot needed.
        & $devcon install $inf $HardwareId | Out-Host
        $ok = $LASTEXITCODE -in @(0, 1)
    }
    if (-not $ok) { throw "creating instance $i failed with exit code $LASTEXITCODE" }
}
$deadline = (Get-Date).AddSeconds(30)
while (@(Get-RvnicAdapter).Count -lt $before + $Count) {
    if ((Get-Date) -gt $deadline) { throw 'the new rvnic adapters did not appear within 30 seconds' }
    Start-Sleep -Milliseconds 500
}

# 5. Advanced properties: the registry keywords the driver reads (inf/rvnic.inx).
$topologyValue = @{ Loopback = 0; Pair = 1; Hub = 2 }[$Topology]
foreach ($adapter in Get-RvnicAdapter) {
    $properties = [ordered]@{
        'Topology'     = $topologyValue
        'SegmentId'    = $SegmentId
        '*JumboPacket' = $JumboPacket
        'LinkSpeed'    = $LinkSpeedGbps
        '*PriorityVLANTag' = $PriorityVlanTag
        'VlanId'       = $VlanId
        '*RSS'         = $Rss
        '*NumRSSQueues' = $NumRssQueues
        '*MaxRssProcessors' = $MaxRssProcessors
        '*QOS'         = $Qos
        '*VMQ'         = $Vmq
        '*VMQVlanFiltering' = $VmqVlanFiltering
    }
    foreach ($keyword in $properties.Keys) {
        Set-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword $keyword `
            -RegistryValue $properties[$keyword] -NoRestart
    }
    # Hidden (not in the INF): created on the adapter this script made, replacing its own value.
    $preference = @{ Rss = 0; Vmq = 1 }[$ReceiveScaling]
    Remove-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword '*RssOrVmqPreference' `
        -NoRestart -ErrorAction SilentlyContinue
    New-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword '*RssOrVmqPreference' `
        -RegistryValue $preference -NoRestart | Out-Null
    Restart-NetAdapter -Name $adapter.Name
}

if ($EnableVerifier) {
    # Standard checks (0x209BB) plus NDIS/WIFI verification (0x00200000), for rvnic.sys only.
    verifier /flags 0x2209BB /driver rvnic.sys
    if ($LASTEXITCODE -ne 0) { throw "verifier failed with exit code $LASTEXITCODE" }
    Write-Warning 'Driver Verifier is set for rvnic.sys; it takes effect after a reboot (verifier /reset undoes it).'
}

# 6. What was installed.
Get-RvnicAdapter | Format-Table -AutoSize -Property @('Name', 'InterfaceDescription', 'Status', 'LinkSpeed', 'MacAddress')
