#!/usr/bin/env python3
"""Checks the PowerShell scripts here without PowerShell (which no registry this project reaches
provides): each parses with the tree-sitter PowerShell grammar with no ERROR or MISSING node, and
the names they use agree with the INF (hardware id, device description, advanced-property keywords).

    python3 -m pip install tree-sitter tree-sitter-powershell
    python3 tools/windows/check.py            # the scripts
    python3 tools/windows/check.py --self-test  # proves a broken script is caught

The grammar (tree-sitter-powershell 0.26) rejects one valid form, comma-separated command arguments
without an array (`Format-Table Name, Status`); the scripts write `-Property @('Name', 'Status')`.
"""
import pathlib
import re
import sys

import tree_sitter
import tree_sitter_powershell

HERE = pathlib.Path(__file__).resolve().parent
INF = HERE.parent.parent / "inf" / "rvnic.inx"
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


def main():
    if "--self-test" in sys.argv:
        broken = b"param([int] $Count = 2\nif ($Count -gt 1 { Write-Host 'x' }\n"
        good = b"param([int] $Count = 2)\nif ($Count -gt 1) { Write-Host 'x' }\n"
        assert syntax_errors(broken), "a broken script parsed without errors"
        assert not syntax_errors(good), "a good script has errors"
        keywords, description, hardware_id = inf_names()
        bad = consistency(pathlib.Path("x.ps1"), "-RegistryKeyword '*JumboFrames'", keywords, description, hardware_id)
        assert bad, "an unknown keyword was not caught"
        print("self-test: a broken script and an unknown keyword are caught")
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
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{len(scripts)} scripts parse cleanly and agree with the INF ({len(keywords)} keywords)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
