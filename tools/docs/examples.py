#!/usr/bin/env python3
"""Every code example of the documentation, run or checked as CI does (a step of .ci/run).

The examples are the fenced blocks of README.md, docs/*.md and exercises/README.md:

- `sh`: every command is run, from the repository, with target/release on PATH, and must succeed.
  A command .ci/run already runs word for word is not run twice. `sudo` is dropped when running
  as root (CI is) and refused otherwise. Three kinds are run the way the text around them says:
  `rvnic tap` runs in the background for the rest of its block and is then stopped with SIGINT
  (its documented way out); an exercise's test must fail (it fails until the exercise is done);
  `cargo bench` runs criterion's quick mode (RVNIC_BENCH_QUICK=1, as CI's bench step).
  Files a command creates in the repository are removed after it.
- `rust`: must appear word for word in a Rust file of the repository (a test CI compiles and runs).
- `text`: output; the document must be one a test reads and compares a `text` block of.
- `powershell`: Windows only, so parsed (tree-sitter-powershell, as tools/windows/check.py parses
  the scripts), and the scripts and cargo-make tasks it names must exist.
- `mermaid` and untagged blocks are diagrams and the file tree: not code.

Usage: examples.py [--list]. --list prints what would be done and runs nothing.
"""

import glob
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ["README.md"] + sorted(glob.glob("docs/*.md", root_dir=ROOT)) + ["exercises/README.md"]
TIMEOUT = 900
# Commands already run (the same command in two documents runs once).
DONE = set()


def blocks(path):
    """(line, language, text) of each fenced block of a Markdown file."""
    lines = open(os.path.join(ROOT, path), encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if m:
            indent, lang = len(m.group(1)), m.group(2)
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[i + 1 : j]]
            yield i + 1, lang, "\n".join(body)
            i = j
        i += 1


def commands(text):
    """The commands of a shell block: continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.split("\n"):
        line = re.sub(r"(^|\s)#\s.*$", "", line).rstrip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line:
            out.append(line)
    return out


def normalized(command):
    return " ".join(command.split())


def ci_commands():
    """The commands .ci/run runs, normalized, without their output redirections."""
    text = open(os.path.join(ROOT, ".ci/run"), encoding="utf-8").read()
    out = set()
    for command in commands(text):
        command = re.split(r"\s+2>&1|\s+\|\s", command)[0]
        out.add(normalized(command))
    return out


def untracked():
    """Files in the repository that git does not track and does not ignore."""
    result = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return set(filter(None, result.stdout.decode().split("\0")))


class Failure(Exception):
    pass


def run_block(where, cmds, ci, listing):
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, "target", "release") + os.pathsep + env["PATH"]
    background = []
    try:
        for command in cmds:
            shown = f"{where}: {command}"
            if command in DONE:
                print(f"{shown}\n    ran above")
                continue
            DONE.add(command)
            if command.startswith("sudo "):
                if os.geteuid() != 0 and not listing:
                    raise Failure(f"{shown}: needs root")
                command = command[len("sudo ") :]
            if normalized(command) in ci:
                print(f"{shown}\n    run by .ci/run")
                continue
            extra = {}
            expect_failure = False
            if "cargo bench" in command:
                extra["RVNIC_BENCH_QUICK"] = "1"
            if "--test exercises" in command:
                expect_failure = True
            if re.search(r"(^|/)rvnic tap\b", command):
                print(f"{shown}\n    in the background for the rest of the block, then SIGINT")
                if not listing:
                    background.append(start_tap(command, env))
                continue
            how = " (must fail)" if expect_failure else ""
            how += " with RVNIC_BENCH_QUICK=1" if extra else ""
            print(f"{shown}\n    run{how}")
            if listing:
                continue
            before = untracked()
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=ROOT,
                env={**env, **extra},
                timeout=TIMEOUT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for made in untracked() - before:
                os.remove(os.path.join(ROOT, made))
            ok = (result.returncode != 0) if expect_failure else (result.returncode == 0)
            if not ok:
                tail = "\n".join(result.stdout.decode(errors="replace").splitlines()[-25:])
                raise Failure(f"{shown}: exit status {result.returncode}\n{tail}")
    finally:
        for process in background:
            stop_tap(process)


def start_tap(command, env):
    process = subprocess.Popen(
        ["bash", "-c", "exec " + command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Ready when both namespaces have their addresses.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure(f"rvnic tap ended early: {process.stderr.read().decode(errors='replace')}")
        probe = subprocess.run(
            ["ip", "netns", "exec", "rvnic-1", "ip", "-4", "addr", "show"],
            capture_output=True,
        )
        if b"198.18.0.2" in probe.stdout:
            return process
        time.sleep(0.5)
    stop_tap(process)
    raise Failure("rvnic tap did not come up within 120 s")


def stop_tap(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # SIGINT ends the run with status 130 after removing what it created.
    if process.returncode not in (0, 130):
        raise Failure(f"rvnic tap exited with {process.returncode}")


def rust_sources():
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in ("target", ".git")]
        out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".rs")]
    return [open(p, encoding="utf-8").read() for p in out]


def check_rust(where, text, sources):
    if not any(text + "\n" in source for source in sources):
        raise Failure(f"{where}: this Rust example is not, word for word, in a file that is compiled")
    print(f"{where}\n    found word for word in a compiled file")


def check_text(where, doc, sources):
    if not any(doc in source and "```text" in source for source in sources):
        raise Failure(f"{where}: no test reads {doc} and compares its text blocks")
    print(f"{where}\n    compared by a test that reads {doc}")


def check_powershell(where, text):
    try:
        import tree_sitter
        import tree_sitter_powershell
    except ImportError:
        raise Failure("PowerShell examples need tree-sitter and tree-sitter-powershell (pip install)")
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(text.encode())
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            raise Failure(f"{where}: PowerShell syntax error at line {node.start_point[0] + 1}")
        stack.extend(node.children)
    for script in re.findall(r"\.\\(tools\\windows\\[\w-]+\.ps1)", text):
        if not os.path.exists(os.path.join(ROOT, script.replace("\\", "/"))):
            raise Failure(f"{where}: {script} does not exist")
    makefile = open(os.path.join(ROOT, "Makefile.toml"), encoding="utf-8").read()
    for task in re.findall(r"cargo make ([\w-]+)", text):
        if f"[tasks.{task}]" not in makefile:
            raise Failure(f"{where}: Makefile.toml has no task {task}")
    print(f"{where}\n    parsed (Windows only); the scripts and tasks it names exist")


def main():
    listing = "--list" in sys.argv[1:]
    ci = ci_commands()
    sources = rust_sources()
    failures = []
    for doc in DOCS:
        for line, lang, text in blocks(doc):
            where = f"{doc}:{line}"
            try:
                if lang == "sh":
                    run_block(where, commands(text), ci, listing)
                elif lang == "rust":
                    check_rust(where, text, sources)
                elif lang == "text":
                    check_text(where, doc, sources)
                elif lang == "powershell":
                    check_powershell(where, text)
                elif lang in ("mermaid", ""):
                    continue
                else:
                    raise Failure(f"{where}: a `{lang}` block: say how it is checked in tools/docs/examples.py")
            except (Failure, subprocess.TimeoutExpired) as e:
                failures.append(str(e))
                print(f"FAILED {e}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} example(s) failed", file=sys.stderr)
        return 1
    print("every example ran or was checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
