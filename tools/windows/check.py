#!/usr/bin/env python3
"""Checks the Windows-only files without Windows.

Nothing here can run PowerShell, the WDK or a Windows loader, so each rule below checks, on Linux, one
thing a Windows user would otherwise find out by failing:

- syntax: every PowerShell script parses with the tree-sitter PowerShell grammar (no ERROR or
  MISSING node), and the names the scripts use agree with the INF (hardware id, device description,
  advanced-property keywords);
- packaging (Makefile.toml): the task graph reaches every WDK step in order, every task is limited to
  Windows, what it builds, copies, stamps and signs agrees with Cargo.toml, build-sys.sh and the INF,
  the PDB it copies has Cargo's name, and (with --build-dir) every file it copies is one the Linux
  cross-build really produced;
- WDK tools: every task that runs a WDK tool runs after the `wdk-tools` set-up task, which runs
  Find-WdkTools.ps1, and that script looks for every such tool;
- execution policy: every PowerShell the makefile or the README starts runs with
  `-ExecutionPolicy Bypass -File`;
- install: Install-Rvnic.ps1 accepts PnPUtil's documented success codes (0, 259, 3010), takes
  -ToolPath and says where devgen comes from, creates root devices (`/bus ROOT`) wherever devgen is
  named (scripts, README, INF), and reads the test-signing state without parsing bcdedit's
  translated output;
- target OS (with --rvnic): `rvnic check-inf` accepts the INF (its decoration covers every import);
- layout test: the bindgen set-up defines what a miniport build defines, and the README names
  libclang;
- throughput: Test-Throughput.ps1 binds its own external switch to an rvnic adapter with the host's
  access removed, and removes everything it creates in a finally block (firewall rule by its
  unique name);
- paths: every repository path named in backticks in the Windows-facing files exists.

    python3 -m pip install tree-sitter tree-sitter-powershell
    python3 tools/windows/check.py [--build-dir DIR] [--rvnic PATH]
    python3 tools/windows/check.py --self-test [--rvnic PATH]   # proves each planted mistake is caught

The grammar (tree-sitter-powershell 0.26) rejects one valid form, comma-separated command arguments
without an array (`Format-Table Name, Status`); the scripts write `-Property @('Name', 'Status')`.
"""
import copy
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib

import tree_sitter
import tree_sitter_powershell

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Every step of a test-signed package, in the order they must run.
PACKAGE_STEPS = ["wdk-tools", "build-driver", "copy-to-package", "stampinf", "infverif",
                 "generate-certificate", "sign-driver", "inf2cat", "sign-catalog"]
WDK_TOOLS = ["stampinf", "infverif", "inf2cat", "signtool", "makecert"]
PNPUTIL_SUCCESS = {0, 259, 3010}
MINIPORT_DEFINES = ["NDIS_MINIPORT_DRIVER", "NDIS630_MINIPORT"]
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
# The text inputs, relative to the repository root; scripts are added by glob.
INPUTS = ["Makefile.toml", "Cargo.toml", "miniport/Cargo.toml", "tools/cross/build-sys.sh",
          "inf/rvnic.inx", "README.md", "miniport/build.rs", "helpers/ndis/wdk-layout/build.rs"]


def read_inputs():
    files = {name: (ROOT / name).read_text(encoding="utf-8") for name in INPUTS}
    for script in sorted(HERE.glob("*.ps1")):
        files[f"tools/windows/{script.name}"] = script.read_text(encoding="utf-8")
    return files


def scripts(files):
    return {name: text for name, text in files.items() if name.endswith(".ps1")}


def syntax_errors(source: bytes):
    """(line, what) for every ERROR or MISSING node."""
    found = []
    stack = [PARSER.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            kind = "missing " + node.type if node.is_missing else "syntax error"
            found.append((node.start_point[0] + 1, kind))
        stack.extend(node.children)
    return sorted(found)


def inf_names(inf):
    keywords = set(re.findall(r"^HKR,\s*Ndi\\params\\([^\\,\s]+)\s*,", inf, re.M))
    description = re.search(r'^rvnic\.DeviceDesc\s*=\s*"([^"]+)"', inf, re.M).group(1)
    hardware_id = re.search(r"rvnic\.ndi,\s*(\S+)", inf).group(1)
    return keywords, description, hardware_id


# Keywords the driver reads that "must not be specified in the INF file" (Standardized INF
# Keywords for VMQ): scripts create them with New-NetAdapterAdvancedProperty.
HIDDEN_KEYWORDS = {"*RssOrVmqPreference"}


def script_problems(files):
    problems = []
    keywords, description, hardware_id = inf_names(files["inf/rvnic.inx"])
    for name, text in scripts(files).items():
        short = pathlib.Path(name).name
        for line, what in syntax_errors(text.encode("utf-8")):
            problems.append(f"{short}:{line}: {what}")
        for used in re.findall(r"-RegistryKeyword\s+'([^']+)'", text):
            if used in HIDDEN_KEYWORDS:
                if used in keywords:
                    problems.append(f"inf/rvnic.inx: {used} is hidden: the INF must not declare it")
            elif used not in keywords:
                problems.append(f"{short}: -RegistryKeyword '{used}' is not a keyword of the INF")
        for used in re.findall(r"Set-NetAdapterAdvancedProperty[^\n]*-RegistryKeyword\s+'([^']+)'", text):
            if used in HIDDEN_KEYWORDS:
                problems.append(f"{short}: {used} is hidden: create it (New-NetAdapterAdvancedProperty), it cannot be set")
        block = re.search(r"\$properties\s*=\s*\[ordered\]@\{(.*?)\}", text, re.S)
        if block:
            for used in re.findall(r"'([^']+)'\s*=", block.group(1)):
                if used not in keywords:
                    problems.append(f"{short}: advanced property '{used}' is not a keyword of the INF")
        if "HardwareId = " in text and f"'{hardware_id}'" not in text:
            problems.append(f"{short}: hardware id differs from the INF's {hardware_id}")
        if "rvnic Virtual Ethernet Adapter" in text and description != "rvnic Virtual Ethernet Adapter":
            problems.append(f"{short}: the INF's device description is now {description!r}")
    return problems


def reached(tasks, name, seen=None):
    """Every task `name` depends on, transitively, itself included."""
    seen = set() if seen is None else seen
    if name in seen or name not in tasks:
        return seen
    seen.add(name)
    for dep in tasks[name].get("dependencies", []):
        reached(tasks, dep, seen)
    return seen


def expand(text, env):
    """`${VAR}` replaced from `env`, repeatedly (values name other variables); unknown ones stay."""
    for _ in range(10):
        expanded = re.sub(r"\$\{(\w+)\}", lambda m: str(env.get(m.group(1), m.group(0))), text)
        if expanded == text:
            break
        text = expanded
    return text


def copies(makefile):
    """(source, destination) of every `cp` in copy-to-package, env variables expanded."""
    env = makefile.get("env", {})
    script = makefile.get("tasks", {}).get("copy-to-package", {}).get("script", "")
    return [(expand(a, env), expand(b, env)) for a, b in re.findall(r"^\s*cp\s+(\S+)\s+(\S+)\s*$", script, re.M)]


def makefile_problems(files, build_listing=None):
    """What is wrong with the cargo-make packaging, as one line each."""
    problems = []
    makefile = tomllib.loads(files["Makefile.toml"])
    miniport_cargo = tomllib.loads(files["miniport/Cargo.toml"])
    root_cargo = tomllib.loads(files["Cargo.toml"])
    build_sys, inf = files["tools/cross/build-sys.sh"], files["inf/rvnic.inx"]
    tasks = makefile.get("tasks", {})
    env = makefile.get("env", {})
    for name, task in tasks.items():
        for dep in task.get("dependencies", []):
            if dep not in tasks:
                problems.append(f"Makefile.toml: task {name} depends on undefined task {dep}")
        if "alias" not in task and task.get("condition", {}).get("platforms") != ["windows"]:
            problems.append(f"Makefile.toml: task {name} is not limited to Windows (condition platforms)")
    missing = [step for step in PACKAGE_STEPS if step not in reached(tasks, "package")]
    if missing:
        problems.append(f"Makefile.toml: package does not run {', '.join(missing)}")
    order = [step for step in PACKAGE_STEPS if step in tasks]
    for before, after in zip(order, order[1:]):
        if before not in reached(tasks, after):
            problems.append(f"Makefile.toml: {after} does not run after {before}")

    args = tasks.get("build-driver", {}).get("args", [])

    def arg(flag):
        value = args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None
        return expand(value, env) if value else None
    bins = [b["name"] for b in miniport_cargo.get("bin", [])]
    binary = arg("--bin")
    if binary not in bins:
        problems.append(f"Makefile.toml: build-driver builds bin {binary!r}, miniport/Cargo.toml has {bins}")
    if arg("--features") not in miniport_cargo.get("features", {}):
        problems.append(f"Makefile.toml: build-driver enables feature {arg('--features')!r}, unknown to rvnic")
    if arg("--profile") not in root_cargo.get("profile", {}):
        problems.append(f"Makefile.toml: build-driver uses profile {arg('--profile')!r}, not in Cargo.toml")
    for flag in [a for a in args if a.startswith("-Zbuild-std")]:
        if flag not in build_sys.replace(" \\\n", " ").split():
            problems.append(f"Makefile.toml: {flag} differs from tools/cross/build-sys.sh")

    # What copy-to-package copies must be what Cargo produces: the binary as <bin>.exe and its
    # symbols as <bin with underscores>.pdb (Cargo's naming of an MSVC binary's PDB).
    service = re.search(r"^ServiceBinary\s*=\s*%13%\\(\S+)", inf, re.M)
    catalog = re.search(r"^CatalogFile\s*=\s*(\S+)", inf, re.M)
    image = service.group(1) if service else "?"
    cat = catalog.group(1) if catalog else "?"
    build_dir = env.get("RVNIC_BUILD_DIR", "")
    copied = copies(makefile)
    from_build = [pathlib.PurePosixPath(src).name for src, _ in copied if src.startswith(expand(build_dir, env))]
    if binary:
        for wanted in (f"{binary}.exe", f"{binary.replace('-', '_')}.pdb"):
            if wanted not in from_build:
                problems.append(f"Makefile.toml: copy-to-package does not copy {wanted} (what Cargo names the "
                                f"binary and its PDB); it copies {from_build}")
    for name in from_build:
        if binary and name.endswith(".pdb") and name != f"{binary.replace('-', '_')}.pdb":
            problems.append(f"Makefile.toml: copy-to-package copies {name}, but Cargo names the PDB "
                            f"{binary.replace('-', '_')}.pdb")
        if build_listing is not None and name not in build_listing:
            problems.append(f"Makefile.toml: copy-to-package copies {name}, which the cross-build did not "
                            f"produce (it made {sorted(build_listing)})")
    if not any(src.endswith(".exe") and dst.endswith("/" + image) for src, dst in copied):
        problems.append(f"Makefile.toml: copy-to-package does not copy the image as {image} (the INF's ServiceBinary)")
    if not any(src.endswith("inf/rvnic.inx") and dst.endswith("/rvnic.inf") for src, dst in copied):
        problems.append("Makefile.toml: copy-to-package does not copy inf/rvnic.inx as rvnic.inf")
    stamp = tasks.get("stampinf", {}).get("args", [])
    if "-c" not in stamp or stamp[stamp.index("-c") + 1] != cat:
        problems.append(f"Makefile.toml: stampinf does not name the INF's catalog {cat}")
    for task, wanted in (("sign-driver", image), ("sign-catalog", cat)):
        signed = tasks.get(task, {}).get("args", [""])[-1]
        if not signed.endswith("/" + wanted):
            problems.append(f"Makefile.toml: {task} signs {signed!r}, not {wanted}")
    return problems


def wdk_tool_problems(files):
    """Every task that runs a WDK tool runs after wdk-tools, which finds every such tool."""
    problems = []
    tasks = tomllib.loads(files["Makefile.toml"]).get("tasks", {})
    setup = tasks.get("wdk-tools")
    if setup is None:
        return ["Makefile.toml: no wdk-tools task finds the WDK's tools (they are not on PATH)"]
    if "Find-WdkTools.ps1" not in setup.get("script", "") or "set_env PATH" not in setup.get("script", ""):
        problems.append("Makefile.toml: wdk-tools does not run Find-WdkTools.ps1 and put its folders on PATH")
    finder = files.get("tools/windows/Find-WdkTools.ps1", "")
    listed = re.search(r"\[string\[\]\]\s*\$Tool\s*=\s*@\(([^)]*)\)", finder)
    searched = set(re.findall(r"'(\w+)'", listed.group(1))) if listed else set()
    for name, task in tasks.items():
        command = task.get("command", "")
        runs = [t for t in WDK_TOOLS if command == t or t in task.get("args", [])
                or (name == "generate-certificate" and t == "makecert")]
        for tool in runs:
            if "wdk-tools" not in reached(tasks, name) - {name}:
                problems.append(f"Makefile.toml: task {name} runs {tool} without depending on wdk-tools")
            if tool not in searched:
                problems.append(f"Find-WdkTools.ps1: does not look for {tool}, which task {name} runs")
    for tool in WDK_TOOLS:
        if tool not in searched:
            problems.append(f"Find-WdkTools.ps1: does not look for {tool}")
    for folder in (r"bin\$version\$hostArch", r"bin\$version\x86", r"Tools\$version\$hostArch"):
        if f'(Join-Path $root "{folder}")' not in finder:
            problems.append(f"Find-WdkTools.ps1: does not search {folder} (where windows-drivers-rs finds the tools)")
    if "KitsRoot10" not in finder or "WDKContentRoot" not in finder:
        problems.append("Find-WdkTools.ps1: does not find the WDK by WDKContentRoot and the KitsRoot10 registry value")
    return problems


BYPASS = re.compile(r"-ExecutionPolicy\s+Bypass\s+-File\b", re.I)


def policy_problems(files):
    """Every PowerShell the makefile or the README starts runs under an explicit Bypass policy."""
    problems = []
    tasks = tomllib.loads(files["Makefile.toml"]).get("tasks", {})
    for name, task in tasks.items():
        if task.get("command", "").lower() in ("powershell", "pwsh"):
            if not BYPASS.search(" ".join(task.get("args", []))):
                problems.append(f"Makefile.toml: task {name} starts PowerShell without -ExecutionPolicy Bypass -File")
        if task.get("script_runner", "").lower() in ("powershell", "pwsh"):
            if not BYPASS.search(" ".join(task.get("script_runner_args", []))):
                problems.append(f"Makefile.toml: task {name}'s PowerShell script runs without "
                                "script_runner_args -ExecutionPolicy Bypass -File")
        for line in task.get("script", "").splitlines():
            if re.search(r"\b(powershell|pwsh)\b", line, re.I) and not BYPASS.search(line):
                problems.append(f"Makefile.toml: task {name} runs {line.strip()!r} without -ExecutionPolicy Bypass -File")
    readme = files["README.md"]
    for block in re.findall(r"```powershell\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            if re.search(r"\.ps1\b", line) and not BYPASS.search(line):
                problems.append(f"README.md: {line.strip()!r} runs a script without -ExecutionPolicy Bypass -File")
    for line in readme.splitlines():
        for call in re.findall(r"`([^`]*\.ps1[^`]*)`", line):
            if re.match(r"\s*(\.\\|powershell|pwsh|tools\\)", call) and " " in call.strip() and not BYPASS.search(call):
                problems.append(f"README.md: `{call}` runs a script without -ExecutionPolicy Bypass -File")
    return problems


def install_problems(files):
    problems = []
    install = files.get("tools/windows/Install-Rvnic.ps1", "")
    codes = re.search(r"\$PnpUtilSuccess\s*=\s*@\(([^)]*)\)", install)
    accepted = {int(c) for c in re.findall(r"\d+", codes.group(1))} if codes else set()
    if accepted != PNPUTIL_SUCCESS:
        problems.append(f"Install-Rvnic.ps1: accepts pnputil exit codes {sorted(accepted)}, documented success is "
                        f"{sorted(PNPUTIL_SUCCESS)} (0, 259 no matching device yet, 3010 reboot needed)")
    if not re.search(r"pnputil /add-driver[^\n]*\n[^\n]*\$pnputilExit = \$LASTEXITCODE", install):
        problems.append("Install-Rvnic.ps1: does not judge pnputil /add-driver by its exit code")
    if not re.search(r"\[string\]\s*\$ToolPath", install):
        problems.append("Install-Rvnic.ps1: takes no -ToolPath for devgen/devcon (they are not in a guest)")
    if r"Windows Kits\10\Tools" not in install:
        problems.append("Install-Rvnic.ps1: does not say where to copy devgen from")
    if re.search(r"bcdedit\s+/enum", install, re.I):
        problems.append("Install-Rvnic.ps1: reads test signing from bcdedit's output, which Windows translates")
    if "SystemStartOptions" not in install:
        problems.append("Install-Rvnic.ps1: does not read whether the system booted with test signing")
    for name, text in [*scripts(files).items(), ("README.md", files["README.md"]), ("inf/rvnic.inx", files["inf/rvnic.inx"])]:
        for line in text.splitlines():
            # Each devgen /add command, up to the end of its backtick span, comment or line.
            for command in re.findall(r"(?:devgen(?:\.exe)?|\$devgen)\s+/add\b[^`;|)\n]*", line, re.I):
                if not re.search(r"/bus\s+ROOT\b", command):
                    problems.append(f"{pathlib.Path(name).name}: {command.strip()!r} creates a software device, "
                                    "which disappears at reboot (use /bus ROOT)")
    return problems


def layout_problems(files):
    problems = []
    build = files["helpers/ndis/wdk-layout/build.rs"]
    for define in MINIPORT_DEFINES:
        if f"#define {define} 1" not in build:
            problems.append(f"wdk-layout/build.rs: bindgen does not define {define}, which a miniport build defines")
    if "LIBCLANG_PATH" not in files["README.md"]:
        problems.append("README.md: does not name libclang (LIBCLANG_PATH), which the WDK layout test's bindgen needs")
    return problems


# What Test-Throughput.ps1 creates, and how it must remove it.
THROUGHPUT_TEARDOWN = [
    ("New-VMSwitch", r"Remove-VMSwitch"),
    ("Add-VMNetworkAdapter", r"Remove-VMNetworkAdapter"),
    ("New-NetIPAddress -InterfaceIndex $b", r"Remove-NetIPAddress"),
    ("New-NetFirewallRule", r"Remove-NetFirewallRule -Name \$created\.Firewall"),
    ("Start-Process", r"Stop-Process -Id \$created\.Server\.Id"),
]


def throughput_problems(files):
    problems = []
    text = files.get("tools/windows/Test-Throughput.ps1", "")
    if not re.search(r"New-VMSwitch\b[^\n]*-NetAdapterName\s+\$a\.Name\b[^\n]*-AllowManagementOS\s+\$false", text):
        problems.append("Test-Throughput.ps1: does not bind an external switch to rvnic adapter A with "
                        "-AllowManagementOS $false (traffic would stay inside the host's stack)")
    teardown = text.split("} finally {", 1)[1] if "} finally {" in text else ""
    if not teardown:
        problems.append("Test-Throughput.ps1: has no finally block to remove what it created")
    for created, removal in THROUGHPUT_TEARDOWN:
        if created in text and not re.search(removal, teardown):
            problems.append(f"Test-Throughput.ps1: creates with {created} but its finally block does not remove it ({removal})")
    if re.search(r"Remove-NetFirewallRule\s+-DisplayName", text):
        problems.append("Test-Throughput.ps1: removes firewall rules by display name, which may match rules it did not create")
    if re.search(r"-Role\b|compartment", text):
        problems.append("Test-Throughput.ps1: still describes the unimplemented network-compartment set-up")
    return problems


def path_problems(files, root=ROOT):
    """Repository paths named in backticks in the Windows-facing files exist (relative to the
    repository, or to the naming file's own crate)."""
    problems = []
    checked = ["miniport/build.rs", "Makefile.toml", "helpers/ndis/wdk-layout/build.rs", *scripts(files)]
    for name in checked:
        for path in re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:toml|rs|sh|ps1|inx|md|py))`", files[name]):
            if not (root / path).exists() and not (root / pathlib.PurePosixPath(name).parent / path).exists():
                problems.append(f"{pathlib.Path(name).name}: names `{path}`, which does not exist")
    return problems


def target_problems(files, rvnic):
    """`rvnic check-inf` on the INF as given (its target OS against every import)."""
    if rvnic is None:
        return []
    with tempfile.NamedTemporaryFile("w", suffix=".inx", delete=False, encoding="utf-8", newline="") as f:
        f.write(files["inf/rvnic.inx"])
        path = f.name
    try:
        run = subprocess.run([rvnic, "check-inf", path], capture_output=True, text=True, check=False)
    finally:
        os.unlink(path)
    if run.returncode == 0:
        return []
    return [f"rvnic check-inf: {line.split(': ', 1)[-1]}" for line in (run.stdout + run.stderr).splitlines() if line]


def all_problems(files, build_listing=None, rvnic=None):
    return (script_problems(files) + makefile_problems(files, build_listing) + wdk_tool_problems(files)
            + policy_problems(files) + install_problems(files) + layout_problems(files)
            + throughput_problems(files) + path_problems(files) + target_problems(files, rvnic))


def self_test(rvnic):
    """Each planted mistake, in a copy of the real inputs, is reported."""
    files = read_inputs()
    listing = {"rvnic-sys.exe", "rvnic_sys.pdb", "rvnic.sys"}
    clean = all_problems(files, listing, rvnic)
    assert not clean, clean
    caught = 0

    def planted(name, before, after, expect, listing=listing):
        nonlocal caught
        changed = copy.deepcopy(files)
        assert before in changed[name], f"{name} has no {before!r} to plant a mistake in"
        changed[name] = changed[name].replace(before, after)
        found = all_problems(changed, listing, rvnic)
        assert any(expect in p for p in found), f"planted mistake not caught ({expect!r}): {found}"
        caught += 1

    assert syntax_errors(b"param([int] $Count = 2\nif ($Count -gt 1 { Write-Host 'x' }\n")
    planted("tools/windows/Install-Rvnic.ps1", "[ValidateRange(1, 8)]", "[ValidateRange(1, 8)", "Install-Rvnic.ps1:58: missing")
    planted("tools/windows/Install-Rvnic.ps1", "New-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword '*RssOrVmqPreference'",
            "Set-NetAdapterAdvancedProperty -Name $adapter.Name -RegistryKeyword '*RssOrVmqPreference'", "it cannot be set")
    planted("tools/windows/Install-Rvnic.ps1", "'*JumboPacket' = $JumboPacket", "'*JumboFrames' = $JumboPacket",
            "advanced property '*JumboFrames'")
    # The makefile's task graph and names.
    mk = "Makefile.toml"
    planted(mk, 'dependencies = ["sign-driver"]', 'dependencies = ["sign-drivers"]', "undefined task sign-drivers")
    planted(mk, '[tasks.infverif]\ndescription = "The INF rules Windows applies (/w: the Windows Driver rules, isolation included)."\ncondition = { platforms = ["windows"] }',
            '[tasks.infverif]\ndescription = "x"', "infverif is not limited to Windows")
    planted(mk, 'dependencies = ["inf2cat"]', 'dependencies = ["sign-driver"]', "package does not run inf2cat")
    planted(mk, 'RVNIC_BIN = "rvnic-sys"', 'RVNIC_BIN = "rvnic"', "builds bin 'rvnic'")
    planted("miniport/Cargo.toml", "kernel = [", "kernel2 = [", "enables feature 'kernel'")
    planted("Cargo.toml", "[profile.kernel]", "[profile.kernel2]", "uses profile 'kernel'")
    planted("tools/cross/build-sys.sh", "compiler-builtins-mem", "compiler-builtins-c", "-Zbuild-std-features=compiler-builtins-mem differs")
    planted("inf/rvnic.inx", "%13%\\rvnic.sys", "%13%\\rvnic6.sys", "as rvnic6.sys")
    planted("inf/rvnic.inx", "CatalogFile = rvnic.cat", "CatalogFile = rv.cat", "stampinf does not name the INF's catalog rv.cat")
    planted(mk, '"${RVNIC_PACKAGE_DIR}/rvnic.sys"]', '"${RVNIC_PACKAGE_DIR}/rvnic.pdb"]', "sign-driver signs")
    # 1. The PDB: Cargo's name, and what the cross-build produced.
    planted(mk, "cp ${RVNIC_BUILD_DIR}/${RVNIC_PDB}.pdb", "cp ${RVNIC_BUILD_DIR}/${RVNIC_BIN}.pdb", "Cargo names the PDB rvnic_sys.pdb")
    planted(mk, 'RVNIC_PDB = "rvnic_sys"', 'RVNIC_PDB = "rvnic_sys"', "which the cross-build did not produce",
            listing={"rvnic-sys.exe", "rvnic.sys"})
    # 2. The WDK's tools.
    planted(mk, '# The WDK\'s tools are looked for first, so a missing one stops the run before the build.\ndependencies = ["wdk-tools"]',
            "", "without depending on wdk-tools")
    planted("tools/windows/Find-WdkTools.ps1", "'signtool', ", "", "does not look for signtool")
    planted("tools/windows/Find-WdkTools.ps1", r'(Join-Path $root "bin\$version\x86"),', "", r"does not search bin\$version\x86")
    planted(mk, "set_env PATH", "echo PATH", "wdk-tools does not run Find-WdkTools.ps1")
    # 3. Execution policy.
    planted(mk, '"-NoProfile", "-ExecutionPolicy", "Bypass", "-File",', '"-NoProfile", "-File",', "without -ExecutionPolicy Bypass -File")
    planted(mk, "exec powershell -NoProfile -ExecutionPolicy Bypass -File", "exec powershell -NoProfile -File",
            "without -ExecutionPolicy Bypass -File")
    planted("README.md", "powershell -NoProfile -ExecutionPolicy Bypass -File .\\tools\\windows\\Install-Rvnic.ps1",
            ".\\tools\\windows\\Install-Rvnic.ps1", "runs a script without -ExecutionPolicy Bypass")
    # 4. The install script.
    planted("tools/windows/Install-Rvnic.ps1", "@(0, 259, 3010)", "@(0)", "accepts pnputil exit codes [0]")
    planted("tools/windows/Install-Rvnic.ps1", "[string] $ToolPath", "[string] $ToolDir", "takes no -ToolPath")
    planted("tools/windows/Install-Rvnic.ps1", "& $devgen /add /bus ROOT /hardwareid", "& $devgen /add /hardwareid",
            "creates a software device")
    planted("README.md", "`devgen /add /bus ROOT /hardwareid root\\rvnic`", "`devgen /add /hardwareid root\\rvnic`",
            "creates a software device")
    planted("inf/rvnic.inx", "devgen /add /bus ROOT /hardwareid", "devgen /add /hardwareid", "creates a software device")
    planted("tools/windows/Install-Rvnic.ps1",
            "$startOptions = (Get-ItemProperty -LiteralPath 'HKLM:\\SYSTEM\\CurrentControlSet\\Control' -Name SystemStartOptions).SystemStartOptions",
            "$startOptions = (bcdedit /enum '{current}') -join ' '", "translates")
    # 5. The target OS (needs the rvnic binary).
    if rvnic is not None:
        planted("inf/rvnic.inx", "NT$ARCH$.10.0...19041", "NT$ARCH$.10.0...16299", "ExAllocatePool2")
    # 6. The layout test's set-up.
    planted("helpers/ndis/wdk-layout/build.rs", "#define NDIS_MINIPORT_DRIVER 1\\n", "", "does not define NDIS_MINIPORT_DRIVER")
    planted("README.md", "LIBCLANG_PATH", "LIBCLANG", "does not name libclang")
    # 7. Throughput: a real crossing, and a complete tear-down.
    planted("tools/windows/Test-Throughput.ps1", "-AllowManagementOS $false", "-AllowManagementOS $true", "-AllowManagementOS $false")
    planted("tools/windows/Test-Throughput.ps1", "    if ($created.VMAdapter) { Remove-VMNetworkAdapter", "    if ($created.VMAdapter) { Write-Host",
            "creates with Add-VMNetworkAdapter but its finally block does not remove it")
    planted("tools/windows/Test-Throughput.ps1", "Remove-NetFirewallRule -Name $created.Firewall", "Remove-NetFirewallRule -DisplayName $Name",
            "removes firewall rules by display name")
    # 8. Paths named in the files exist.
    planted("miniport/build.rs", "the workspace's `Makefile.toml`", "`miniport/Makefile.toml`", "names `miniport/Makefile.toml`")
    return caught


def main():
    args = sys.argv[1:]
    rvnic = args[args.index("--rvnic") + 1] if "--rvnic" in args else None
    if "--self-test" in args:
        caught = self_test(rvnic)
        extra = "" if rvnic else " (without --rvnic: the target-OS case is not planted)"
        print(f"self-test: {caught} planted mistakes caught{extra}")
        return 0
    build_listing = None
    if "--build-dir" in args:
        build_dir = pathlib.Path(args[args.index("--build-dir") + 1])
        build_listing = {p.name for p in build_dir.iterdir() if p.is_file()}
    files = read_inputs()
    problems = all_problems(files, build_listing, rvnic)
    for p in problems:
        print(p)
    if problems:
        return 1
    keywords, _, _ = inf_names(files["inf/rvnic.inx"])
    print(f"{len(scripts(files))} scripts parse cleanly and agree with the INF ({len(keywords)} keywords); "
          f"Makefile.toml packages what Cargo builds"
          f"{' and the cross-build produced' if build_listing is not None else ''}, with the WDK's tools found "
          f"and every PowerShell under -ExecutionPolicy Bypass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
