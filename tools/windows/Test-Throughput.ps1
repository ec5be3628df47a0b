<#
.SYNOPSIS
    iperf3 through two rvnic adapters, in the one topology where the traffic really crosses the NIC.

.DESCRIPTION
    rvnic's wire lives inside the driver, so the two ends of a test are two rvnic adapters of one
    machine (a pair: Install-Rvnic.ps1 -Count 2 -Topology Pair). But when both addresses belong to
    one TCP/IP stack, Windows delivers the traffic inside the stack (its loopback fast path) and no
    frame ever reaches either adapter. The client must therefore run in a different network stack
    from the server: a second network compartment (for example a Windows container with process
    isolation, whose compartment owns adapter B) while the server listens on adapter A's address in
    the default compartment. Frames then leave through B's send path, cross rvnic's wire, and
    arrive through A's receive path. Run this script with -Role Server in the default compartment
    and with -Role Client inside the other one.

    The script runs the server or the client side for TCP (1 and 4 streams) and UDP with 1472-byte
    datagrams, and prints iperf3's figures. iperf3.exe must be on PATH.

.EXAMPLE
    .\Test-Throughput.ps1 -Role Server -Address 198.18.0.1
    .\Test-Throughput.ps1 -Role Client -Address 198.18.0.1 -Seconds 10
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('Server', 'Client')]
    [string] $Role,

    # The server's address on its rvnic adapter.
    [Parameter(Mandatory = $true)]
    [ipaddress] $Address,

    [ValidateRange(1, 600)]
    [int] $Seconds = 10
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$iperf = Get-Command iperf3.exe -ErrorAction SilentlyContinue
if (-not $iperf) { throw 'iperf3.exe is not on PATH' }

$rvnic = @(Get-NetAdapter | Where-Object { $_.InterfaceDescription -like 'rvnic Virtual Ethernet Adapter*' })
if ($rvnic.Count -eq 0) { throw 'no rvnic adapter is installed (run Install-Rvnic.ps1 first)' }

if ($Role -eq 'Server') {
    $owner = Get-NetIPAddress -IPAddress $Address.IPAddressToString -ErrorAction SilentlyContinue
    if (-not $owner -or ($rvnic.ifIndex -notcontains $owner.InterfaceIndex)) {
        throw "$Address is not an address of an rvnic adapter in this compartment"
    }
    Write-Host "iperf3 server on $Address (Ctrl-C stops)"
    & $iperf.Source -s -B $Address.IPAddressToString
    exit $LASTEXITCODE
}

$tests = [ordered]@{
    'TCP, 1 stream'  = @('-t', $Seconds)
    'TCP, 4 streams' = @('-t', $Seconds, '-P', 4)
    'UDP, 1472 B'    = @('-t', $Seconds, '-u', '-l', 1472, '-b', '0')
}
$results = foreach ($name in $tests.Keys) {
    $json = & $iperf.Source -c $Address.IPAddressToString -J @($tests[$name]) | Out-String | ConvertFrom-Json
    $sum = if ($json.end.PSObject.Properties.Name -contains 'sum_received') { $json.end.sum_received } else { $json.end.sum }
    [pscustomobject]@{ Test = $name; 'Mbit/s' = [math]::Round($sum.bits_per_second / 1e6) }
}
$results | Format-Table -AutoSize
