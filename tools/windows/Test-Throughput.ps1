#Requires -RunAsAdministrator
<#
.SYNOPSIS
    iperf3 across rvnic's wire on one Windows machine: from a Hyper-V VM, through a virtual switch
    bound to one adapter of an rvnic pair, to the host's TCP/IP stack on the other adapter.

.DESCRIPTION
    Two addresses of one TCP/IP stack never exchange frames through a NIC: Windows delivers such
    traffic inside the stack. So the two ends of a test must be two stacks. On a Hyper-V host (or a
    guest with nested virtualization) this script makes them:

      VM (iperf3 client) -> its synthetic NIC -> Hyper-V external switch bound to rvnic adapter A
        -> A's MiniportSendNetBufferLists -> rvnic's wire -> adapter B's receive indication
        -> the host's TCP/IP stack (iperf3 server on B's address)

    and, with iperf3 -R, the same path the other way. An external switch can be bound to any
    Ethernet adapter (New-VMSwitch -NetAdapterName; AllowManagementOS $false takes adapter A away
    from the host's stack, so the host reaches the VM only through adapter B and the wire).

    What is measured is the whole path: the VM's synthetic NIC and VMBus, the switch, and rvnic's
    send, wire and receive. The figures are therefore a lower bound for rvnic itself.

    Set-up (everything is created by this run and removed again in its finally block, whatever
    happens; nothing that existed before is changed):
      1. an external switch 'rvnic-throughput' bound to adapter A (refused if A already has a
         switch, or a switch of that name exists);
      2. a network adapter 'rvnic-throughput' added to the running VM on that switch (its other
         adapters are left as they are);
      3. -HostAddress on adapter B, -GuestAddress on the VM's new adapter (PowerShell Direct);
      4. an inbound firewall rule for the host's iperf3 server, and the server process itself.
    Then the VM runs iperf3 against the host: TCP 1 and 4 streams, UDP 1472-byte datagrams, each
    VM-to-host and host-to-VM (-R).

    Needs: Hyper-V (the Hyper-V PowerShell module), a running Windows VM with iperf3.exe at
    -GuestIperf and credentials for PowerShell Direct, iperf3.exe on the host's PATH, and two rvnic
    adapters of one pair (Install-Rvnic.ps1 -Count 2 -Topology Pair).

    Run it elevated, with an explicit execution policy:
        powershell -NoProfile -ExecutionPolicy Bypass -File .\Test-Throughput.ps1 ...

.EXAMPLE
    $cred = Get-Credential
    powershell -NoProfile -ExecutionPolicy Bypass -File .\Test-Throughput.ps1 -VMName guest1 -Credential $cred -GuestIperf C:\iperf3\iperf3.exe
#>
[CmdletBinding()]
param(
    # A running Windows VM that has iperf3.exe.
    [Parameter(Mandatory = $true)]
    [string] $VMName,

    # An account of the VM, for PowerShell Direct (Invoke-Command -VMName).
    [Parameter(Mandatory = $true)]
    [pscredential] $Credential,

    # Where iperf3.exe is inside the VM.
    [Parameter(Mandatory = $true)]
    [string] $GuestIperf,

    # Adapter A (the switch's) and adapter B (the host's): names as Get-NetAdapter shows them.
    # Default: the first two rvnic adapters of the pair topology on one segment.
    [string] $SwitchAdapter,
    [string] $HostAdapter,

    [ipaddress] $HostAddress = '198.18.0.1',
    [ipaddress] $GuestAddress = '198.18.0.2',

    [ValidateRange(8, 30)]
    [int] $PrefixLength = 24,

    [ValidateRange(1, 600)]
    [int] $Seconds = 10
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$Description = 'rvnic Virtual Ethernet Adapter'
$Name = 'rvnic-throughput'

# ---- Checks: nothing is created until every one passes. ----
if (-not (Get-Command New-VMSwitch -ErrorAction SilentlyContinue)) {
    throw 'the Hyper-V PowerShell module is not available (enable Hyper-V: this test needs a VM on this machine)'
}
$iperf = Get-Command iperf3.exe -ErrorAction SilentlyContinue
if (-not $iperf) { throw 'iperf3.exe is not on the host PATH' }
$vm = Get-VM -Name $VMName -ErrorAction SilentlyContinue
if (-not $vm) { throw "no VM named $VMName" }
if ($vm.State -ne 'Running') { throw "VM $VMName is $($vm.State); start it first" }
if ($HostAddress -eq $GuestAddress) { throw 'the host and guest addresses are the same' }

$rvnic = @(Get-NetAdapter | Where-Object { $_.InterfaceDescription -like "$Description*" })
function Get-Keyword($adapter, [string] $keyword) {
    (Get-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword $keyword).RegistryValue[0]
}
if (-not $SwitchAdapter -or -not $HostAdapter) {
    $pairs = @($rvnic | Where-Object { (Get-Keyword $_ 'Topology') -eq '1' } |
            Group-Object -Property { Get-Keyword $_ 'SegmentId' } | Where-Object { $_.Count -ge 2 })
    if (-not $pairs) { throw 'no two rvnic adapters share a pair segment (Install-Rvnic.ps1 -Count 2 -Topology Pair)' }
    $SwitchAdapter = $pairs[0].Group[0].Name
    $HostAdapter = $pairs[0].Group[1].Name
}
$a = $rvnic | Where-Object { $_.Name -eq $SwitchAdapter }
$b = $rvnic | Where-Object { $_.Name -eq $HostAdapter }
if (-not $a -or -not $b) { throw "$SwitchAdapter and $HostAdapter must both be rvnic adapters" }
if ($a.Name -eq $b.Name) { throw 'the switch adapter and the host adapter must differ' }
foreach ($keyword in 'Topology', 'SegmentId') {
    if ((Get-Keyword $a $keyword) -ne (Get-Keyword $b $keyword)) { throw "$($a.Name) and $($b.Name) differ in $keyword: they are not on one wire" }
}
if ((Get-Keyword $a 'Topology') -ne '1') { throw "$($a.Name) is not in the pair topology" }
if ($b.Status -ne 'Up') { throw "$($b.Name) is $($b.Status): its pair has no other end" }
$taken = Get-VMSwitch | Where-Object { $_.NetAdapterInterfaceDescription -eq $a.InterfaceDescription -or $_.Name -eq $Name }
if ($taken) { throw "a virtual switch already uses $($a.Name) or the name $Name ($($taken.Name -join ', ')); this script creates its own" }
if (Get-VMNetworkAdapter -VMName $VMName | Where-Object { $_.Name -eq $Name }) {
    throw "VM $VMName already has a network adapter named $Name; this script adds and removes its own"
}
if (Get-NetIPAddress -IPAddress $HostAddress.IPAddressToString -ErrorAction SilentlyContinue) {
    throw "$HostAddress is already an address of this machine"
}

# ---- Set-up and measurement; the finally block removes exactly what was created. ----
$created = [ordered]@{ Switch = $false; VMAdapter = $false; HostAddress = $false; Firewall = $null; Server = $null }
try {
    New-VMSwitch -Name $Name -NetAdapterName $a.Name -AllowManagementOS $false | Out-Null
    $created.Switch = $true
    Add-VMNetworkAdapter -VMName $VMName -SwitchName $Name -Name $Name
    $created.VMAdapter = $true
    New-NetIPAddress -InterfaceIndex $b.ifIndex -IPAddress $HostAddress.IPAddressToString -PrefixLength $PrefixLength | Out-Null
    $created.HostAddress = $true
    # Removed by its unique Name (a GUID), never by display name, so no other rule can be touched.
    $created.Firewall = (New-NetFirewallRule -DisplayName $Name -Direction Inbound -Action Allow -Program $iperf.Source `
        -LocalAddress $HostAddress.IPAddressToString).Name

    # The VM's new adapter: found by its MAC address, which Hyper-V assigns when it is added.
    $deadline = (Get-Date).AddSeconds(30)
    do {
        Start-Sleep -Milliseconds 500
        $mac = (Get-VMNetworkAdapter -VMName $VMName -Name $Name).MacAddress
    } while ($mac -eq '000000000000' -and (Get-Date) -lt $deadline)
    Invoke-Command -VMName $VMName -Credential $Credential -ArgumentList $mac, $GuestAddress.IPAddressToString, $PrefixLength -ScriptBlock {
        param($mac, $address, $prefix)
        $dashed = ($mac -replace '(..)(?!$)', '$1-')
        $deadline = (Get-Date).AddSeconds(30)
        do {
            $nic = Get-NetAdapter | Where-Object { $_.MacAddress -eq $dashed }
            if (-not $nic) { Start-Sleep -Milliseconds 500 }
        } while (-not $nic -and (Get-Date) -lt $deadline)
        if (-not $nic) { throw "the guest has no adapter with MAC $dashed" }
        New-NetIPAddress -InterfaceIndex $nic.ifIndex -IPAddress $address -PrefixLength $prefix | Out-Null
    }

    $created.Server = Start-Process -FilePath $iperf.Source -ArgumentList @('-s', '-B', $HostAddress.IPAddressToString) `
        -WindowStyle Hidden -PassThru
    Start-Sleep -Seconds 1

    $tests = [ordered]@{
        'TCP, 1 stream'  = @('-t', $Seconds)
        'TCP, 4 streams' = @('-t', $Seconds, '-P', 4)
        'UDP, 1472 B'    = @('-t', $Seconds, '-u', '-l', 1472, '-b', '0')
    }
    $results = foreach ($test in $tests.Keys) {
        foreach ($direction in 'VM to host', 'host to VM') {
            $arguments = @('-c', $HostAddress.IPAddressToString, '-J') + $tests[$test]
            if ($direction -eq 'host to VM') { $arguments += '-R' }
            $json = Invoke-Command -VMName $VMName -Credential $Credential -ArgumentList $GuestIperf, $arguments -ScriptBlock {
                param($exe, $arguments)
                & $exe @arguments | Out-String
            } | ConvertFrom-Json
            $sum = if ($json.end.PSObject.Properties.Name -contains 'sum_received') { $json.end.sum_received } else { $json.end.sum }
            [pscustomobject]@{ Test = $test; Direction = $direction; 'Mbit/s' = [math]::Round($sum.bits_per_second / 1e6) }
        }
    }
    $results | Format-Table -AutoSize -Property @('Test', 'Direction', 'Mbit/s')
} finally {
    if ($created.Server) { Stop-Process -Id $created.Server.Id -ErrorAction SilentlyContinue }
    if ($created.Firewall) { Remove-NetFirewallRule -Name $created.Firewall -ErrorAction SilentlyContinue }
    if ($created.HostAddress) {
        Remove-NetIPAddress -IPAddress $HostAddress.IPAddressToString -Confirm:$false -ErrorAction SilentlyContinue
    }
    if ($created.VMAdapter) { Remove-VMNetworkAdapter -VMName $VMName -Name $Name -ErrorAction SilentlyContinue }
    if ($created.Switch) { Remove-VMSwitch -Name $Name -Force -ErrorAction SilentlyContinue }
}
