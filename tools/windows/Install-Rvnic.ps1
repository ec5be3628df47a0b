#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Installs the rvnic driver package in a Windows test machine (a Hyper-V guest) and creates rvnic
    adapters.

.DESCRIPTION
    1. Turns on test signing (bcdedit) if it is off, then stops: reboot and run the script again.
    2. Imports the test certificate that signed the package into the machine's Root and
       TrustedPublisher stores.
    3. Adds the driver package to the driver store (pnputil /add-driver ... /install).
    4. Creates -Count root-enumerated instances (hardware id root\rvnic) with devgen, or devcon if
       devgen is not available.
    5. Sets the adapters' advanced properties (the keywords of rvnic's INF) and, with
       -EnableVerifier, turns on Driver Verifier with the NDIS/WIFI option for rvnic.sys (reboot).
    6. Prints Get-NetAdapter for the rvnic adapters.

.EXAMPLE
    .\Install-Rvnic.ps1 -PackageDir C:\rvnic -CertificatePath C:\rvnic\rvnic-test.cer -Count 2 -Topology Pair
#>
[CmdletBinding()]
param(
    # Folder with rvnic.inf, rvnic.sys and rvnic.cat (the signed package).
    [Parameter(Mandatory = $true)]
    [ValidateScript({ Test-Path (Join-Path $_ 'rvnic.inf') })]
    [string] $PackageDir,

    # The test certificate (.cer) the package was signed with.
    [string] $CertificatePath,

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

# 1. Test signing: a test-signed driver loads only with it on, and it takes effect after a reboot.
$bootEntry = (bcdedit /enum '{current}') -join "`n"
if ($bootEntry -notmatch 'testsigning\s+Yes') {
    bcdedit /set testsigning on | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "bcdedit /set testsigning on failed (Secure Boot must be off in the VM settings)" }
    Write-Warning 'Test signing is now on. Reboot the machine, then run this script again.'
    exit 3
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
pnputil /add-driver $inf /install
if ($LASTEXITCODE -ne 0) { throw "pnputil /add-driver $inf failed with exit code $LASTEXITCODE" }

# 4. Root-enumerated instances.
$before = @(Get-RvnicAdapter).Count
$devgen = Get-Command devgen.exe -ErrorAction SilentlyContinue
$devcon = Get-Command devcon.exe -ErrorAction SilentlyContinue
for ($i = 0; $i -lt $Count; $i++) {
    if ($devgen) {
        & $devgen.Source /add /bus ROOT /hardwareid $HardwareId | Out-Host
    } elseif ($devcon) {
        & $devcon.Source install $inf $HardwareId | Out-Host
    } else {
        throw 'Neither devgen.exe nor devcon.exe is on PATH (both come with the WDK tools).'
    }
    if ($LASTEXITCODE -ne 0) { throw "creating instance $i failed with exit code $LASTEXITCODE" }
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
    }
    foreach ($keyword in $properties.Keys) {
        Set-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword $keyword `
            -RegistryValue $properties[$keyword] -NoRestart
    }
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
