"""`kiosk run` (the real entry point) to its first idle frame and to serving taps, beside a bare
Kivy window (a Label, nothing of ours: Kivy's own floor on this machine), issue 16.

    python bench/startup.py                          # a store of 0 members, RUNS rounds
    python bench/startup.py --tree /work/wt-main     # also another tree of the project, for a before/after
    python bench/startup.py --data-dir DIR           # an existing store (bench/scale.py passes its 1M one)

Each round starts the bare window, then `kiosk run` in this tree and in each --tree, one after
another, so the machine's load falls on each alike; each figure is the median of the rounds:
  wall s   start of the process to its "idle screen shown" log line (the first frame)
  CPU s    the CPU seconds the process had used by then (read from /proc as the line arrives:
           the process goes on meanwhile, so this errs high)
  ready s  start to its "kiosk ready" line: the session wired behind the idle screen, READY=1 to
           systemd, a tap served from then on (a tree that says READY at the first frame has no
           such line: nan)
The kiosk is configured with the simulated reader and an HQ on a port nobody listens on."""

from __future__ import annotations

import argparse
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICE = "SCALE-1"
RUNS = 5  # rounds: the median of RUNS starts is reported for each command
READY_WAIT_S = 10.0  # how long after the first frame to wait for "kiosk ready"


@dataclass(frozen=True)
class Start:
    """One command's start-up: medians of wall and CPU seconds to the first frame, and of wall
    seconds to "kiosk ready" (nan where never said)."""

    wall_s: float
    cpu_s: float
    ready_s: float


def kiosk_command(data_dir: Path, work: Path) -> list[str]:
    """`kiosk run --config` for a kiosk.toml in `work` on the store in `data_dir`."""
    from kiosk.reader.keys import SiteKeys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    work.mkdir(parents=True, exist_ok=True)
    key = work / "master.key"
    if not key.exists():
        SiteKeys.write_new(key)
    config = work / "kiosk.toml"
    config.write_text(
        f'[device]\nid = "{DEVICE}"\nstore = "S1"\ndata_dir = "{data_dir}"\n'
        f'[reader]\ndriver = "simulated"\nport = "{work / "cards.json"}"\n'
        f'[hq]\nhost = "127.0.0.1"\nport = {closed_port}\n[secrets]\ncard_master_key_file = "{key}"\n'
    )
    return [sys.executable, "-m", "kiosk", "run", "--config", str(config)]


def bare_command(work: Path) -> list[str]:
    return [sys.executable, __file__, "--bare-window", str(work / "kivy")]


def measure(data_dir: Path, work: Path, trees: tuple[Path, ...] = ()) -> dict[str, Start]:
    """Interleaved rounds of: the bare window, `kiosk run` here, `kiosk run` in each of `trees`
    (run from its own root, so its own `kiosk` package is the one imported). Keys: "bare",
    "kiosk", then each tree's path."""
    command = kiosk_command(data_dir, work)
    runs: dict[str, tuple[list[str], Path]] = {"bare": (bare_command(work), ROOT), "kiosk": (command, ROOT)}
    runs.update({str(tree): (command, tree) for tree in trees})
    starts: dict[str, list[Start]] = {name: [] for name in runs}
    for _ in range(RUNS):
        for name, (argv, cwd) in runs.items():
            starts[name].append(one_start(argv, cwd, work))
    return {name: Start(*(median([getattr(s, f) for s in got]) for f in ("wall_s", "cpu_s", "ready_s")))
            for name, got in starts.items()}


def one_start(command: list[str], cwd: Path, work: Path) -> Start:
    """Start `command` and time it to its "idle screen shown" and "kiosk ready" lines."""
    env = dict(os.environ, KIVY_HOME=str(work / "kivy"), SDL_VIDEODRIVER="offscreen")
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    lines: queue.Queue[str | None] = queue.Queue()

    def pipe() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pipe, daemon=True).start()
    wall = cpu = ready = float("nan")
    try:
        deadline = time.monotonic() + 120
        while (line := _next(lines, deadline)) is not None:
            if "idle screen shown" in line and wall != wall:
                wall = time.perf_counter() - start
                try:
                    cpu = cpu_s_of(proc.pid)
                except OSError:  # the bare window exits at its line
                    pass
                deadline = time.monotonic() + READY_WAIT_S
            elif "kiosk ready" in line:
                ready = time.perf_counter() - start
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return Start(wall, cpu, ready)


def _next(lines: queue.Queue, deadline: float) -> str | None:
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        return None


def cpu_s_of(pid: int) -> float:
    """User + system CPU seconds of a running process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float:
    ordered = sorted(values, key=lambda v: (v != v, v))  # nan last
    return ordered[len(ordered) // 2]


def bare_window(kivy_home: str) -> None:
    """Runs in its own process (--bare-window): the floor for the start-up figure."""
    from kiosk.ui.env import prepare_kivy

    prepare_kivy(800, 480, kivy_home=kivy_home)
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.uix.label import Label

    def shown(*_args) -> None:
        print("idle screen shown", flush=True)
        os._exit(0)

    class Bare(App):
        def build(self):
            Window.bind(on_flip=shown)
            return Label(text="Tap your card")

    Bare().run()


def report(found: dict[str, Start]) -> None:
    print(f"{'':>34} {'wall s':>7} {'CPU s':>6} {'ready s':>8}  (medians of {RUNS} interleaved starts)")
    for name, s in found.items():
        label = {"bare": "bare Kivy window", "kiosk": "kiosk run (this tree)"}.get(name, f"kiosk run ({name})")
        print(f"{label:>34} {s.wall_s:>7.2f} {s.cpu_s:>6.2f} {s.ready_s:>8.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="another tree of the project to start `kiosk run` from, interleaved")
    parser.add_argument("--data-dir", type=Path, help="the kiosk's store (default: a new, empty one)")
    parser.add_argument("--bare-window", metavar="KIVY_HOME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_window:
        bare_window(args.bare_window)
        return
    with tempfile.TemporaryDirectory(prefix="kiosk-startup-") as tmp:
        work = Path(tmp)
        report(measure(args.data_dir or work / "data", work / "run", tuple(t.resolve() for t in args.tree)))


if __name__ == "__main__":
    main()
