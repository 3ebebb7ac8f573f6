"""Coverage-guided fuzzing (atheris) of every parser of outside bytes: MQTT payloads of every
type, transaction records, rules, config, card images (MIFARE Classic and NTAG), journal
segments and snapshots. Only each parser's typed errors may come out (tests/fuzz/targets.py).

Default: a few thousand inputs per target, in about a minute. KIOSK_FULL=1: 1,000,000 inputs
spread over the targets (issue 17's campaign size); KIOSK_FUZZ_RUNS=N sets the per-target count."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.fuzz.targets import TARGETS

FULL = os.environ.get("KIOSK_FULL") == "1"
RUNS = int(os.environ.get("KIOSK_FUZZ_RUNS", 1_000_000 // len(TARGETS) if FULL else 3000))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_typed_errors_come_out_of_the_parser(name):
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.atheris_run", name, str(RUNS), "20261204"],
        capture_output=True, text=True, timeout=3600 if FULL else 300,
    )
    report = done.stderr[-4000:]
    assert done.returncode == 0, f"{name}: an untyped error escaped the parser:\n{report}"
    ran = re.search(r"Done (\d+) runs", done.stderr)
    assert ran and int(ran.group(1)) >= RUNS, report
    added = re.search(r"new_units_added:\s+(\d+)", done.stderr)
    print(f"{name}: {ran.group(0)}; {added.group(0) if added else ''}")


def test_the_harness_reports_an_untyped_error():
    """The harness itself must be able to fail: a target whose parser raises KeyError."""
    done = subprocess.run(
        [sys.executable, "-c", (
            "import sys, tests.fuzz.targets as t\n"
            "t.TARGETS['txn'] = t.Target('txn', lambda d: {}['x'], (ValueError,), lambda: [b'{}'])\n"
            "import tests.fuzz.atheris_run as r\n"
            "r.TARGETS = t.TARGETS\n"
            "r.main(['fuzz', 'txn', '50'])\n"
        )],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0 and "KeyError" in done.stdout + done.stderr
