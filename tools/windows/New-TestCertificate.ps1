<#
.SYNOPSIS
    Creates rvnic's self-signed test certificate once, in its own certificate store, and exports it.

.DESCRIPTION
    Makefile.toml's generate-certificate task runs this. The certificate (SHA256, code signing) is
    made with makecert in the current user's store -Store, as windows-drivers-rs's makefile does;
    signtool then signs with it by store and subject name. If the store already holds a certificate
    with the subject, that one is exported again instead of making another. The exported .cer is
    what Install-Rvnic.ps1 imports into a test machine's Root and TrustedPublisher stores.

.EXAMPLE
    powershell -NoProfile -ExecutionPolicy Bypass -File tools\windows\New-TestCertificate.ps1 -Store RvnicTestCertStore -Subject 'rvnic test' -OutFile target\rvnic-package\rvnic-test.cer
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $Store,

    [Parameter(Mandatory = $true)]
    [string] $Subject,

    [Parameter(Mandatory = $true)]
    [string] $OutFile
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$existing = Get-ChildItem -Path "Cert:\CurrentUser\$Store" -ErrorAction SilentlyContinue |
    Where-Object { $_.Subject -eq "CN=$Subject" } | Select-Object -First 1
if ($existing) {
    Export-Certificate -Cert $existing -FilePath $OutFile | Out-Null
    Write-Host "Exported the existing test certificate $($existing.Thumbprint) to $OutFile"
    exit 0
}
$makecert = Get-Command makecert.exe -ErrorAction SilentlyContinue
if (-not $makecert) { throw 'makecert.exe is not on PATH (run through cargo make, whose wdk-tools task finds it)' }
& $makecert.Source -r -pe -a SHA256 -eku 1.3.6.1.5.5.7.3.3 -ss $Store -n "CN=$Subject" $OutFile
if ($LASTEXITCODE -ne 0) { throw "makecert failed with exit code $LASTEXITCODE" }
Write-Host "Created the test certificate CN=$Subject in CurrentUser\$Store and exported it to $OutFile"
