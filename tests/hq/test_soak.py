"""The soak (issue 17 item 4): one kiosk process (tests/sync/kiosk_soak_proc.py: real Store,
Session through the simulated reader, the sync client polled on its thread) serves a pool of
members without pause, top-ups and staff charges with the PIN, syncing through a real Mosquitto
to `kiosk hq serve` on SQLite, while the broker and HQ are SIGKILLed and started again in turns.
The kiosk itself is never killed: the soak watches it age. At the end it drains to HQ, and:

- HQ's SQL ledger holds every transaction of the kiosk exactly once, applied in seq order, with
  the kiosk's balances (tests/sync/kill_campaign.hq_problems);
- the kiosk's resident memory (VmRSS) and open file descriptors, sampled from /proc all along,
  did not grow: the last third of the run is measured against the first (after a warm-up).

Compressed time: the session's clock moves a minute per visit and the sync client's runs
5 times faster than real time, so ack timeouts, resends and heartbeats come as in a longer run.

Default: 30 s, an outage every 7 s. KIOSK_FULL=1: an hour, an outage every 3 minutes
(KIOSK_SOAK_S and KIOSK_SOAK_OUTAGE_S to choose)."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.hq_process import HqProcess
from tests.sync.kill_campaign import DEVICE, ROOT, hq_problems, kiosk_cmd
from tests.sync.support import open_store

FULL = os.environ.get("KIOSK_FULL") == "1"
DURATION_S = float(os.environ.get("KIOSK_SOAK_S", "3600" if FULL else "30"))
OUTAGE_EVERY_S = float(os.environ.get("KIOSK_SOAK_OUTAGE_S", "180" if FULL else "7"))
SAMPLE_EVERY_S = 10.0 if DURATION_S >= 600 else 1.0
WARM_UP = 0.2  # of the run: the first pages of the ledger, paho's buffers and the like
RSS_SLACK_KB, FD_SLACK = 4096, 2


@dataclass
class Soak:
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, VmRSS kB, open fds)
    outages: list[str] = field(default_factory=list)
    last: int = 0
    tally: str = ""
    problems: list[str] = field(default_factory=list)

    def thirds(self) -> tuple[list, list]:
        kept = [s for s in self.samples if s[0] >= self.samples[-1][0] * WARM_UP]
        third = max(1, len(kept) // 3)
        return kept[:third], kept[-third:]

    def growth_problems(self) -> list[str]:
        first, last = self.thirds()
        rss_before, rss_after = max(s[1] for s in first), statistics.median(s[1] for s in last)
        fd_before, fd_after = max(s[2] for s in first), max(s[2] for s in last)
        problems = []
        if rss_after > rss_before * 1.10 + RSS_SLACK_KB:
            problems.append(f"RSS grew: {rss_before} kB at most in the first third, {rss_after} kB in the last")
        if fd_after > fd_before + FD_SLACK:
            problems.append(f"open fds grew: {fd_before} at most in the first third, {fd_after} in the last")
        return problems

    def report(self) -> str:
        first, last = self.thirds()
        rows = [f"{'t (s)':>8} {'RSS kB':>8} {'fds':>4}"]
        step = max(1, len(self.samples) // 12)
        rows += [f"{t:8.0f} {rss:8d} {fds:4d}" for t, rss, fds in self.samples[::step] + self.samples[-1:]]
        return (f"{len(self.outages)} outages ({', '.join(self.outages[:6])}{'...' if len(self.outages) > 6 else ''}); "
                f"kiosk: {self.tally}; {self.last} txns\n"
                f"RSS first third max {max(s[1] for s in first)} kB, last third median "
                f"{statistics.median(s[1] for s in last)} kB; fds {max(s[2] for s in first)} -> "
                f"{max(s[2] for s in last)}\n" + "\n".join(rows))


def usage(pid: int) -> tuple[int, int]:
    """(VmRSS in kB, open file descriptors) of a live process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def soak(broker, hq_url: str, workdir: Path, duration: float, outage_every: float, broken: str = "") -> Soak:
    rng, out = random.Random(20261207), Soak()
    hq = HqProcess(broker, hq_url, workdir).start()
    data = workdir / "kiosk"
    env = dict(os.environ, PYTHONPATH=str(ROOT), KIOSK_BROKEN=broken)
    with open(workdir / "kiosk.log", "wb") as log:
        child = subprocess.Popen(kiosk_cmd(data, broker, 1, "tests.sync.kiosk_soak_proc"), cwd=ROOT, env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    try:
        assert child.stdout.readline() == b"R\n", (workdir / "kiosk.log").read_text()[-2000:]
        began = time.monotonic()
        next_outage, turn = began + outage_every, 0
        while (now := time.monotonic()) - began < duration:
            assert child.poll() is None, (workdir / "kiosk.log").read_text()[-2000:]
            if now >= next_outage:
                out.outages.append(_outage(broker, hq, turn, rng))
                turn, next_outage = turn + 1, next_outage + outage_every
            out.samples.append((time.monotonic() - began, *usage(child.pid)))
            time.sleep(SAMPLE_EVERY_S)
        if not broker.running:
            broker.start()
        if not hq.running:
            hq.start()
        said, _ = child.communicate(b"stop\n", timeout=300)
        end = said.decode().split()
        assert end and end[0] == "E" and end[-1] == "0", f"not drained: {said!r}"
        out.last = int(end[1])
        out.tally = "{} visits, {} top-ups, {} charges, {} declined".format(*end[2:6])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        hq.stop()
    with open_store(data / "store", DEVICE) as store:
        out.problems = hq_problems(hq_url, DEVICE, out.last, dict(store.ledger.state.accounts)) + out.growth_problems()
    return out


def _outage(broker, hq: HqProcess, turn: int, rng: random.Random) -> str:
    """SIGKILL the broker, HQ, or (every third time) both; a few seconds later start them again."""
    victims = ("broker", "hq", "both")[turn % 3]
    if victims in ("broker", "both"):
        broker.kill()
    if victims in ("hq", "both"):
        hq.kill()
    time.sleep(rng.uniform(0.5, 3.0))
    if not broker.running:
        broker.start()
    if not hq.running:
        hq.start()
    return victims


@pytest.mark.parametrize("hq_url", ["sqlite"], indirect=True)
def test_soak_with_broker_and_hq_killed_in_turns(mosquitto, hq_url, tmp_path):
    out = soak(mosquitto, hq_url, tmp_path, DURATION_S, OUTAGE_EVERY_S)
    print(f"\nsoak of {DURATION_S:.0f} s: " + out.report())
    assert out.problems == []
    assert len(out.outages) >= 3 and out.last > 0


@pytest.mark.parametrize("hq_url", ["sqlite"], indirect=True)
def test_the_soak_catches_a_kiosk_that_leaks(mosquitto, hq_url, tmp_path):
    """A short soak against a sync client that keeps an fd and 1 MiB per batch it publishes
    (KIOSK_BROKEN=leak): the RSS and fd watch names both."""
    out = soak(mosquitto, hq_url, tmp_path, 16, 6, broken="leak")
    print("\nleaking kiosk:", *out.problems, sep="\n  ")
    assert any(p.startswith("RSS grew") for p in out.problems), out.report()
    assert any(p.startswith("open fds grew") for p in out.problems), out.report()
