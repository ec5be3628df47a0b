#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Removes every rvnic adapter and the rvnic driver package, leaving nothing behind.

.DESCRIPTION
    Removes each device whose hardware id is root\rvnic (pnputil /remove-device), then deletes every
    driver-store package whose original name is rvnic.inf (pnputil /delete-driver /uninstall), and
    turns Driver Verifier off for rvnic.sys if it was on. Test signing and imported certificates are
    left as they are (other test drivers may need them); -RemoveCertificate removes the certificate
    with the given thumbprint from Root and TrustedPublisher.

    Run it from an elevated PowerShell:
        powershell -NoProfile -ExecutionPolicy Bypass -File .\Uninstall-Rvnic.ps1

.EXAMPLE
    powershell -NoProfile -ExecutionPolicy Bypass -File .\Uninstall-Rvnic.ps1
#>
[CmdletBinding()]
param(
    # Thumbprint of the test certificate to remove from Root and TrustedPublisher.
    [string] $RemoveCertificate
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$HardwareId = 'root\rvnic'

# The devices.
$devices = @(Get-PnpDevice -ErrorAction SilentlyContinue |
        Where-Object { $_.HardwareID -contains $HardwareId })
foreach ($device in $devices) {
    pnputil /remove-device $device.InstanceId | Out-Host
    # PnPUtil return values: 0 success, 3010 success with a reboot needed.
    if (@(0, 3010) -notcontains $LASTEXITCODE) { throw "pnputil /remove-device $($device.InstanceId) failed ($LASTEXITCODE)" }
}
Write-Host "Removed $($devices.Count) rvnic device(s)."

# The driver packages (oemNN.inf whose original name is rvnic.inf).
$packages = @(Get-WindowsDriver -Online -All |
        Where-Object { $_.OriginalFileName -like '*\rvnic.inf' } |
        ForEach-Object { $_.Driver })
foreach ($package in $packages) {
    pnputil /delete-driver $package /uninstall /force | Out-Host
    if (@(0, 3010) -notcontains $LASTEXITCODE) { throw "pnputil /delete-driver $package failed ($LASTEXITCODE)" }
}
Write-Host "Deleted $($packages.Count) driver package(s)."

# Driver Verifier, if this driver was being verified.
$verified = (verifier /querysettings) -join "`n"
if ($verified -match 'rvnic\.sys') {
    verifier /reset | Out-Null
    Write-Warning 'Driver Verifier settings were reset; reboot for it to take effect.'
}

if ($RemoveCertificate) {
    foreach ($store in 'Root', 'TrustedPublisher') {
        $path = "Cert:\LocalMachine\$store\$RemoveCertificate"
        if (Test-Path $path) {
            Remove-Item $path
            Write-Host "Removed certificate $RemoveCertificate from LocalMachine\$store"
        }
    }
}

$left = @(Get-PnpDevice -ErrorAction SilentlyContinue | Where-Object { $_.HardwareID -contains $HardwareId })
if ($left.Count -gt 0) { throw "$($left.Count) rvnic device(s) are still present" }
