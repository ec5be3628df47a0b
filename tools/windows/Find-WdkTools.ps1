<#
.SYNOPSIS
    Finds the installed WDK's packaging tools and prints the folders that hold them, for PATH.

.DESCRIPTION
    stampinf, infverif, inf2cat, signtool and makecert live in the WDK's versioned bin and Tools
    folders, which a "Developer PowerShell for VS" does not put on PATH. This script finds them the
    way windows-drivers-rs's cargo-make set-up does (wdk-build's detect_wdk_content_root and
    setup_path):

    1. The WDK content root: $env:WDKContentRoot (an eWDK prompt sets it); else
       $env:MicrosoftKitRoot\Windows Kits\<$env:WDKKitVersion, default 10.0>; else the registry
       value KitsRoot10 under HKLM\SOFTWARE\Microsoft\Windows Kits\Installed Roots (or its
       Wow6432Node twin).
    2. The version: $env:Version_Number, else the newest 10.* folder under <root>\Lib.
    3. The folders: <root>\bin\<version>\<host>, <root>\bin\<version>\x86 (inf2cat is only there)
       and <root>\Tools\<version>\<host>, where <host> is x64 or arm64.

    On success it prints the folders that exist, joined by ';', on one line (Makefile.toml's
    wdk-tools task puts them first on PATH). If the WDK or any tool is missing it writes one line
    to standard error naming what is missing and where it looked, and exits 1.

.EXAMPLE
    powershell -NoProfile -ExecutionPolicy Bypass -File tools\windows\Find-WdkTools.ps1
#>
[CmdletBinding()]
param(
    # The tools that must be found (the packaging steps of Makefile.toml).
    [string[]] $Tool = @('stampinf', 'infverif', 'inf2cat', 'signtool', 'makecert')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Stop-WithLine([string] $Line) {
    [Console]::Error.WriteLine("Find-WdkTools: $Line")
    exit 1
}

function Get-KitsRoot {
    if ($env:WDKContentRoot -and (Test-Path -LiteralPath $env:WDKContentRoot -PathType Container)) {
        return $env:WDKContentRoot
    }
    if ($env:MicrosoftKitRoot -and [System.IO.Path]::IsPathRooted($env:MicrosoftKitRoot)) {
        $version = if ($env:WDKKitVersion) { $env:WDKKitVersion } else { '10.0' }
        $candidate = Join-Path (Join-Path $env:MicrosoftKitRoot 'Windows Kits') $version
        if (Test-Path -LiteralPath $candidate -PathType Container) { return $candidate }
    }
    foreach ($key in 'HKLM:\SOFTWARE\Microsoft\Windows Kits\Installed Roots',
                     'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows Kits\Installed Roots') {
        $value = Get-ItemProperty -LiteralPath $key -Name 'KitsRoot10' -ErrorAction SilentlyContinue
        if ($value -and (Test-Path -LiteralPath $value.KitsRoot10 -PathType Container)) {
            return $value.KitsRoot10
        }
    }
    return $null
}

$root = Get-KitsRoot
if (-not $root) {
    Stop-WithLine 'no WDK found (WDKContentRoot, MicrosoftKitRoot and the KitsRoot10 registry value are all unset or missing); install the WDK or run from an eWDK prompt'
}

$version = $env:Version_Number
if (-not $version) {
    $lib = Join-Path $root 'Lib'
    $newest = Get-ChildItem -LiteralPath $lib -Directory -ErrorAction SilentlyContinue |
        Where-Object { $_.Name -like '10.*' } |
        Sort-Object -Property @{ Expression = { [version] $_.Name } } -Descending |
        Select-Object -First 1
    if (-not $newest) { Stop-WithLine "no 10.* version folder under $lib (is the WDK installed completely?)" }
    $version = $newest.Name
}

$hostArch = if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') { 'arm64' } else { 'x64' }
$folders = @(
    (Join-Path $root "bin\$version\$hostArch"),
    (Join-Path $root "bin\$version\x86"),
    (Join-Path $root "Tools\$version\$hostArch")
) | Where-Object { Test-Path -LiteralPath $_ -PathType Container }

$missing = foreach ($name in $Tool) {
    $found = $folders | Where-Object { Test-Path -LiteralPath (Join-Path $_ "$name.exe") -PathType Leaf }
    if (-not $found) { "$name.exe" }
}
if ($missing) {
    Stop-WithLine "WDK $version at $root lacks $($missing -join ', ') (looked in bin\$version\$hostArch, bin\$version\x86, Tools\$version\$hostArch)"
}

Write-Output ($folders -join ';')
