"""From a fresh clone to a serving API: the README's run command, timed step by step.

    uv run python benchmarks/bench_demo.py [--workdir DIR] [--keep]

Clones this repository's HEAD into a temporary folder and runs the README's run command
there as a new user would, in a pseudo-terminal (so progress bars draw as they would for
them): first ``bash scripts/install.sh`` with an empty uv cache (``UV_CACHE_DIR`` in the
temporary folder, so every package is downloaded), then ``uv run sponsorwatch demo``
(12,000 sponsors, great-expectations and plots included), polling ``/readyz`` until the
service answers, then stopping it. Records the seconds of the install and of each demo
stage until ready (target: 10 minutes in all), and for each step the longest time the
terminal stayed silent: a step of more than ``LONG_STEP_S`` seconds needs a live progress
display, i.e. no silence above ``SILENCE_LIMIT_S``. Results go to
benchmarks/results/demo.json; the terminal log stays in the work folder with ``--keep``.

The main job needs no system package (the browser is only for the tests, with
``install.sh --with-browser``), so the install step is also checked to touch apt not at
all: every apt-get, apt or dpkg it runs is logged by a wrapper put first on its PATH
(the call still goes through), and the installed Debian packages (``dpkg-query -W``)
are compared before and after it (another process installing packages meanwhile would
show there too).

Not fresh on this machine: Python 3.11, git and (if installed) Chromium are already there.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "demo.json"
INSTALL_COMMAND = ["bash", "scripts/install.sh"]
DEMO_COMMAND = ["uv", "run", "sponsorwatch", "demo"]
#: The README's run command, checked to be there so this measures what users are told.
README_COMMAND = f"{' '.join(INSTALL_COMMAND)} && {' '.join(DEMO_COMMAND)}"
#: Debian's package tools, wrapped during the install step to log each call.
APT_TOOLS = ("apt-get", "apt", "dpkg")
DEMO_PORT = 8000
TARGET_SECONDS = 600.0
LONG_STEP_S = 10.0
#: rich redraws a live display ten times a second; seconds without a byte mean none drew.
SILENCE_LIMIT_S = 3.0
#: Text that opens each step of the demo in its terminal output, in order.
DEMO_STEPS = (("start-up", None), ("simulate", "simulate:"), ("ingest", "ingest:"),
              ("features", "features:"), ("train", "train:"), ("promote", "promote:"),
              ("score", "score:"), ("serve start-up", "Where to look"))
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]")
#: Characters of a progress bar or spinner (rich's and uv's).
_PROGRESS_GLYPHS = re.compile("[━╸╺█▉▊▋▌▍▎▏░⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]")


@dataclass
class TerminalRun:
    """A command running in a pseudo-terminal, its output kept with arrival times."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    columns: int = 120
    chunks: list[tuple[float, str]] = field(default_factory=list)

    def start(self) -> TerminalRun:
        primary, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, self.columns, 0, 0))
        self.started = time.monotonic()
        # Its own session: stopping the demo signals uv, python and uvicorn together.
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=secondary,
                                        stdout=secondary, stderr=secondary,
                                        start_new_session=True)
        os.close(secondary)
        self._reader = threading.Thread(target=self._read, args=(primary,), daemon=True)
        self._reader.start()
        return self

    def _read(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            self.chunks.append((time.monotonic(), data.decode("utf-8", "replace")))
        os.close(fd)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stop(self) -> None:
        """Ctrl-C to the whole command, as a user stops the demo; kill if it hangs."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.wait(timeout=30)

    def text(self) -> str:
        return "".join(text for _, text in self.chunks)


def plain(text: str) -> str:
    return _ANSI.sub("", text).replace("\r", "\n")


def clone(workdir: Path) -> tuple[Path, str]:
    """A clone of this repository's HEAD (committed work only) and its commit."""
    target = workdir / "sponsorwatch"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=target, check=True,
                            capture_output=True, text=True).stdout.strip()
    return target, commit


def fresh_env(workdir: Path) -> dict[str, str]:
    """This environment without our venv or project settings, with an empty uv cache."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UV_", "SPONSORWATCH_", "VIRTUAL_ENV", "MLFLOW_"))}
    cache = workdir / "uv-cache"
    cache.mkdir()
    env.update(UV_CACHE_DIR=str(cache), TERM="xterm-256color", COLUMNS="120", LINES="40")
    return env


def port_to_use() -> tuple[int, list[str]]:
    """The demo's default port, or a free one (named on the command) when it is taken."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", DEMO_PORT)) != 0:
            return DEMO_PORT, []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return port, ["--port", str(port)]


def wait_ready(url: str, run: TerminalRun, timeout: float) -> float | None:
    """Monotonic time /readyz first answered 200, None if the demo died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return None


def marker_times(run: TerminalRun, markers: list[str]) -> dict[str, float]:
    """When each marker first appeared in the output (monotonic)."""
    found: dict[str, float] = {}
    seen = ""
    for moment, text in run.chunks:
        seen = seen[-200:] + plain(text)
        for marker in markers:
            if marker not in found and marker in seen:
                found[marker] = moment
    return found


def step_report(run: TerminalRun, name: str, start: float, end: float) -> dict[str, Any]:
    """Duration of one step, its longest silence and whether it drew a progress display."""
    inside = [(t, text) for t, text in run.chunks if start <= t < end]
    moments = [start, *(t for t, _ in inside), end]
    silence = max(b - a for a, b in zip(moments, moments[1:], strict=False))
    seconds = end - start
    glyphs = bool(_PROGRESS_GLYPHS.search("".join(text for _, text in inside)))
    return {"step": name, "seconds": round(seconds, 1), "longest_silence_s": round(silence, 1),
            "progress_glyphs": glyphs,
            "progress_ok": seconds < LONG_STEP_S or (glyphs and silence <= SILENCE_LIMIT_S)}


def demo_steps(run: TerminalRun, ready_at: float) -> list[dict[str, Any]]:
    """The demo's steps from its start to readiness, split where each one's text appears."""
    found = marker_times(run, [m for _, m in DEMO_STEPS if m])
    starts = [(name, run.started if marker is None else found.get(marker))
              for name, marker in DEMO_STEPS]
    present = [(name, t) for name, t in starts if t is not None]
    ends = [t for _, t in present[1:]] + [ready_at]
    return [step_report(run, name, start, end)
            for (name, start), end in zip(present, ends, strict=True)]


class LoadSampler:
    """The 1-minute load average every few seconds while the benchmark runs."""

    def __init__(self, every: float = 10.0) -> None:
        self.samples: list[float] = [round(os.getloadavg()[0], 2)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(round(os.getloadavg()[0], 2))

    def summary(self) -> dict[str, float]:
        self._stop.set()
        self.samples.append(round(os.getloadavg()[0], 2))
        return {"start": self.samples[0], "end": self.samples[-1], "min": min(self.samples),
                "max": max(self.samples),
                "mean": round(sum(self.samples) / len(self.samples), 2)}


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def snapshot_sponsors(base: str) -> int | None:
    """Sponsors in the served snapshot, from the service's own metrics."""
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    match = re.search(r"^sponsorwatch_snapshot_sponsors\S* (\S+)$", text, re.MULTILINE)
    return int(float(match.group(1))) if match else None


def debian_packages() -> set[str] | None:
    """Installed Debian packages as ``name:arch version``; None without dpkg-query."""
    if shutil.which("dpkg-query") is None:
        return None
    listing = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${binary:Package} ${Version}\n"],
        check=True, capture_output=True, text=True).stdout
    return {line[3:].strip() for line in listing.splitlines() if line.startswith("ii")}


def apt_logging_path(folder: Path, env: dict[str, str]) -> tuple[str, Path]:
    """A PATH whose first folder wraps apt-get, apt and dpkg: each call is appended to the
    returned log file, then goes to the real tool (or fails as it would, when absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    log.touch()
    for tool in APT_TOOLS:
        real = shutil.which(tool, path=env.get("PATH"))
        wrapper = folder / tool
        wrapper.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "{tool} $*" >> "{log}"\n'
            + (f'exec "{real}" "$@"\n' if real else f'echo "{tool}: not found" >&2; exit 127\n'))
        wrapper.chmod(0o755)
    return f"{folder}{os.pathsep}{env.get('PATH', '')}", log


def apt_report(before: set[str] | None, after: set[str] | None, log: Path) -> dict[str, Any]:
    """What the install step did with apt: its calls and the packages it changed."""
    calls = log.read_text(encoding="utf-8").splitlines()
    if before is None or after is None:
        return {"calls": calls, "dpkg": "not available"}
    return {"calls": calls, "packages_before": len(before), "packages_after": len(after),
            "packages_added_or_changed": sorted(after - before),
            "packages_removed_or_changed": sorted(before - after)}


def run_install(checkout: Path, env: dict[str, str]) -> tuple[TerminalRun, dict[str, Any]]:
    path, log = apt_logging_path(checkout.parent / "apt-wrappers", env)
    packages_before = debian_packages()
    cpu = children_cpu_seconds()
    install = TerminalRun(INSTALL_COMMAND, checkout, {**env, "PATH": path}).start()
    code = install.wait(timeout=3600)
    done = time.monotonic()
    report = step_report(install, "install", install.started, done)
    report.update(exit_code=code, cpu_s=round(children_cpu_seconds() - cpu, 1),
                  command=" ".join(INSTALL_COMMAND),
                  apt=apt_report(packages_before, debian_packages(), log))
    return install, report


def run_demo(checkout: Path, env: dict[str, str], budget: float
             ) -> tuple[TerminalRun, dict[str, Any]]:
    port, port_args = port_to_use()
    base = f"http://127.0.0.1:{port}"
    cpu = children_cpu_seconds()
    demo = TerminalRun([*DEMO_COMMAND, *port_args], checkout, env).start()
    try:
        ready_at = wait_ready(f"{base}/readyz", demo, timeout=budget)
        sponsors = snapshot_sponsors(base) if ready_at else None
    finally:
        demo.stop()
    end = ready_at or time.monotonic()
    report = {"command": " ".join([*DEMO_COMMAND, *port_args]), "ready": ready_at is not None,
              "seconds_to_ready": round(end - demo.started, 1),
              "sponsors_in_snapshot": sponsors,
              "steps": demo_steps(demo, end),
              "cpu_s_until_stopped": round(children_cpu_seconds() - cpu, 1)}
    return demo, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="Folder for the clone (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="Keep the clone and terminal logs")
    args = parser.parse_args()
    if README_COMMAND not in (ROOT / "README.md").read_text(encoding="utf-8"):
        raise SystemExit(f"the README no longer says `{README_COMMAND}`; update this script")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load = LoadSampler()
    began = time.monotonic()
    checkout, commit = clone(workdir)
    env = fresh_env(workdir)
    print(f"clone of {commit[:10]} in {checkout}; installing with an empty uv cache", flush=True)
    install, install_report = run_install(checkout, env)
    print("install:", install_report, flush=True)
    if install_report["exit_code"] != 0:
        raise SystemExit(plain(install.text())[-3000:])
    demo, demo_report = run_demo(checkout, env, TARGET_SECONDS * 3)
    total = round(demo.started - began + demo_report["seconds_to_ready"], 1)
    for name, run in (("install", install), ("demo", demo)):
        (workdir / f"{name}.terminal.log").write_text(run.text(), encoding="utf-8")
    steps = [install_report, *demo_report["steps"]]
    apt = install_report["apt"]
    results = {
        "command": README_COMMAND, "commit": commit, "cores": os.cpu_count(),
        "uv_cache_mb_after": round(sum(f.stat().st_size for f in Path(env["UV_CACHE_DIR"])
                                       .rglob("*") if f.is_file()) / 2**20),
        "install": install_report, "demo": demo_report,
        "seconds_clone_to_ready": total,
        "targets": {"ready_within_10_minutes": demo_report["ready"] and total <= TARGET_SECONDS,
                    "progress_on_every_long_step": all(s["progress_ok"] for s in steps),
                    "install_runs_no_apt": not apt["calls"],
                    "install_adds_no_apt_package": not apt.get("packages_added_or_changed")
                    and not apt.get("packages_removed_or_changed")},
        "steps_without_progress": [s["step"] for s in steps if not s["progress_ok"]],
        "load_average_1m": load.summary(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {RESULTS}")
    if args.keep:
        print(f"clone and terminal logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
