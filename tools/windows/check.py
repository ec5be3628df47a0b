#!/usr/bin/env python3
"""Checks the Windows-only files without Windows. The PowerShell scripts here (no registry this
project reaches provides PowerShell): each parses with the tree-sitter PowerShell grammar with no
ERROR or MISSING node, and the names they use agree with the INF (hardware id, device description,
advanced-property keywords). The cargo-make packaging (`Makefile.toml`): every task it depends on
exists and runs only on Windows, `package` reaches every WDK step, and the names it builds, copies,
stamps and signs agree with Cargo.toml, tools/cross/build-sys.sh and the INF.

    python3 -m pip install tree-sitter tree-sitter-powershell
    python3 tools/windows/check.py            # the scripts
    python3 tools/windows/check.py --self-test  # proves a broken script is caught

The grammar (tree-sitter-powershell 0.26) rejects one valid form, comma-separated command arguments
without an array (`Format-Table Name, Status`); the scripts write `-Property @('Name', 'Status')`.
"""
import pathlib
import re
import sys
import tomllib

import tree_sitter
import tree_sitter_powershell

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
INF = ROOT / "inf" / "rvnic.inx"
MAKEFILE = ROOT / "Makefile.toml"
# Every step of a test-signed package, in the order windows-drivers-rs's makefile runs them.
PACKAGE_STEPS = ["build-driver", "copy-to-package", "stampinf", "infverif", "generate-certificate",
                 "sign-driver", "inf2cat", "sign-catalog"]
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


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


def inf_names():
    text = INF.read_text(encoding="utf-8")
    keywords = set(re.findall(r"^HKR,\s*Ndi\\params\\([^\\,\s]+)\s*,", text, re.M))
    description = re.search(r'^rvnic\.DeviceDesc\s*=\s*"([^"]+)"', text, re.M).group(1)
    hardware_id = re.search(r"rvnic\.ndi,\s*(\S+)", text).group(1)
    return keywords, description, hardware_id


def consistency(path: pathlib.Path, text: str, keywords, description, hardware_id):
    problems = []
    for used in re.findall(r"-RegistryKeyword\s+'([^']+)'", text):
        if used not in keywords:
            problems.append(f"{path.name}: -RegistryKeyword '{used}' is not a keyword of the INF")
    block = re.search(r"\$properties\s*=\s*\[ordered\]@\{(.*?)\}", text, re.S)
    if block:
        for used in re.findall(r"'([^']+)'\s*=", block.group(1)):
            if used not in keywords:
                problems.append(f"{path.name}: advanced property '{used}' is not a keyword of the INF")
    if "HardwareId = " in text and f"'{hardware_id}'" not in text:
        problems.append(f"{path.name}: hardware id differs from the INF's {hardware_id}")
    if "rvnic Virtual Ethernet Adapter" in text and description != "rvnic Virtual Ethernet Adapter":
        problems.append(f"{path.name}: the INF's device description is now {description!r}")
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


def makefile_problems(makefile: dict, miniport_cargo: dict, root_cargo: dict, build_sys: str, inf: str):
    """What is wrong with the cargo-make packaging, as one line each."""
    problems = []
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
        return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), value) if value else None
    bins = [b["name"] for b in miniport_cargo.get("bin", [])]
    if arg("--bin") not in bins:
        problems.append(f"Makefile.toml: build-driver builds bin {arg('--bin')!r}, miniport/Cargo.toml has {bins}")
    if arg("--features") not in miniport_cargo.get("features", {}):
        problems.append(f"Makefile.toml: build-driver enables feature {arg('--features')!r}, unknown to rvnic")
    if arg("--profile") not in root_cargo.get("profile", {}):
        problems.append(f"Makefile.toml: build-driver uses profile {arg('--profile')!r}, not in Cargo.toml")
    for flag in [a for a in args if a.startswith("-Zbuild-std")]:
        if flag not in build_sys.replace(" \\\n", " ").split():
            problems.append(f"Makefile.toml: {flag} differs from tools/cross/build-sys.sh")

    service = re.search(r"^ServiceBinary\s*=\s*%13%\\(\S+)", inf, re.M)
    catalog = re.search(r"^CatalogFile\s*=\s*(\S+)", inf, re.M)
    image = service.group(1) if service else "?"
    cat = catalog.group(1) if catalog else "?"
    copy = tasks.get("copy-to-package", {}).get("script", "")
    if not re.search(r"\.exe \S+/" + re.escape(image) + r"$", copy, re.M):
        problems.append(f"Makefile.toml: copy-to-package does not copy the image as {image} (the INF's ServiceBinary)")
    if not re.search(r"inf/rvnic\.inx \S+/rvnic\.inf$", copy, re.M):
        problems.append("Makefile.toml: copy-to-package does not copy inf/rvnic.inx as rvnic.inf")
    stamp = tasks.get("stampinf", {}).get("args", [])
    if "-c" not in stamp or stamp[stamp.index("-c") + 1] != cat:
        problems.append(f"Makefile.toml: stampinf does not name the INF's catalog {cat}")
    for task, wanted in (("sign-driver", image), ("sign-catalog", cat)):
        signed = tasks.get(task, {}).get("args", [""])[-1]
        if not signed.endswith("/" + wanted):
            problems.append(f"Makefile.toml: {task} signs {signed!r}, not {wanted}")
    return problems


def check_makefile():
    return makefile_problems(
        tomllib.loads(MAKEFILE.read_text(encoding="utf-8")),
        tomllib.loads((ROOT / "miniport" / "Cargo.toml").read_text(encoding="utf-8")),
        tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8")),
        (ROOT / "tools" / "cross" / "build-sys.sh").read_text(encoding="utf-8"),
        INF.read_text(encoding="utf-8"),
    )


def makefile_self_test():
    """Each planted mistake in a copy of the real inputs is reported."""
    inputs = [
        tomllib.loads(MAKEFILE.read_text(encoding="utf-8")),
        tomllib.loads((ROOT / "miniport" / "Cargo.toml").read_text(encoding="utf-8")),
        tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8")),
        (ROOT / "tools" / "cross" / "build-sys.sh").read_text(encoding="utf-8"),
        INF.read_text(encoding="utf-8"),
    ]
    assert not makefile_problems(*inputs), makefile_problems(*inputs)

    def planted(change, expect):
        import copy
        changed = copy.deepcopy(inputs)
        change(changed)
        found = makefile_problems(*changed)
        assert any(expect in p for p in found), f"planted mistake not caught ({expect!r}): {found}"

    planted(lambda i: i[0]["tasks"]["inf2cat"].update(dependencies=["sign-drivers"]), "undefined task sign-drivers")
    planted(lambda i: i[0]["tasks"]["infverif"].pop("condition"), "infverif is not limited to Windows")
    planted(lambda i: i[0]["tasks"]["sign-catalog"].update(dependencies=["sign-driver"]), "package does not run inf2cat")
    planted(lambda i: i[0]["env"].update(RVNIC_BIN="rvnic"), "builds bin 'rvnic'")
    planted(lambda i: i[1]["features"].pop("kernel"), "enables feature 'kernel'")
    planted(lambda i: i[2]["profile"].pop("kernel"), "uses profile 'kernel'")
    planted(lambda i: i.__setitem__(3, i[3].replace("compiler-builtins-mem", "compiler-builtins-c")),
            "-Zbuild-std-features=compiler-builtins-mem differs")
    planted(lambda i: i.__setitem__(4, i[4].replace("%13%\\rvnic.sys", "%13%\\rvnic6.sys")), "as rvnic6.sys")
    planted(lambda i: i.__setitem__(4, i[4].replace("CatalogFile = rvnic.cat", "CatalogFile = rv.cat")),
            "stampinf does not name the INF's catalog rv.cat")
    planted(lambda i: i[0]["tasks"]["sign-driver"]["args"].__setitem__(-1, "${RVNIC_PACKAGE_DIR}/rvnic.pdb"),
            "sign-driver signs")


def main():
    if "--self-test" in sys.argv:
        broken = b"param([int] $Count = 2\nif ($Count -gt 1 { Write-Host 'x' }\n"
        good = b"param([int] $Count = 2)\nif ($Count -gt 1) { Write-Host 'x' }\n"
        assert syntax_errors(broken), "a broken script parsed without errors"
        assert not syntax_errors(good), "a good script has errors"
        keywords, description, hardware_id = inf_names()
        bad = consistency(pathlib.Path("x.ps1"), "-RegistryKeyword '*JumboFrames'", keywords, description, hardware_id)
        assert bad, "an unknown keyword was not caught"
        makefile_self_test()
        print("self-test: a broken script, an unknown keyword and ten Makefile.toml mistakes are caught")
        return 0
    keywords, description, hardware_id = inf_names()
    scripts = sorted(HERE.glob("*.ps1"))
    if not scripts:
        print("no PowerShell scripts found", file=sys.stderr)
        return 1
    problems = []
    for path in scripts:
        source = path.read_bytes()
        for line, what in syntax_errors(source):
            problems.append(f"{path.name}:{line}: {what}")
        problems.extend(consistency(path, source.decode("utf-8"), keywords, description, hardware_id))
    problems.extend(check_makefile())
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(scripts)} scripts parse cleanly and agree with the INF ({len(keywords)} keywords); "
          f"Makefile.toml packages what Cargo.toml builds and the INF names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
