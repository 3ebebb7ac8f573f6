"""Run every benchmark one after another (`make bench`); `--full` for the issue-sized runs.

Each script prints its own table with ratios against a baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# script, arguments for the quick run (the default), arguments for --full
BENCHES = [
    ("commit.py", ["--quick"], []),
    ("wear.py", [], ["--full"]),
    ("cards.py", [], []),
    ("read.py", ["--taps", "10"], []),
    ("session_tap.py", ["--members", "2000", "--taps", "100"], []),
    ("tap.py", ["--members", "2000", "--taps", "50"], []),
    ("sync.py", [], []),
    ("hq_ingest.py", [], []),
    ("report.py", ["--quick"], []),
    ("receipt.py", [], ["--runs", "200"]),
    ("pos.py", [], ["--full"]),
    ("startup.py", [], []),
    ("scale.py", [], ["--full"]),
    ("snapshot_build.py", [], ["--full"]),
]


def main(argv: list[str]) -> int:
    full = "--full" in argv
    failed = []
    for script, quick, full_args in BENCHES:
        args = full_args if full else quick
        print(f"\n=== bench/{script} {' '.join(args)}", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE.parent)
        print(f"=== bench/{script}: exit {done.returncode} after {time.monotonic() - started:.0f} s", flush=True)
        if done.returncode:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
