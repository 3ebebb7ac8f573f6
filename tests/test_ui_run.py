"""`kiosk run`: the simulated kiosk starts the real app on the real store, seeded with demo
members; a missing configuration is a usage error (exit 2) with the file named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kiosk.reader.simulated import Wallet
from kiosk.simulate import DEVICE_ID
from kiosk.store.store import Store

ROOT = Path(__file__).resolve().parent.parent


def start(args: list[str], tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, KIVY_HOME=str(tmp_path / "kivy"), KIOSK_CONFIG=str(tmp_path / "absent.toml"),
               SDL_VIDEODRIVER="offscreen")  # no display here: SDL draws offscreen through Mesa
    return subprocess.Popen([sys.executable, "-m", "kiosk", "run", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_simulated_kiosk_starts_the_app_on_a_seeded_store(tmp_path):
    data = tmp_path / "store"
    proc = start(["--simulate", "--data-dir", str(data), "--locale", "en"], tmp_path)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Start application main loop" in line or time.monotonic() > deadline:
                break
        time.sleep(1.5)  # a few frames and session pumps
        assert proc.poll() is None, "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    log = "".join(lines) + out
    assert "Start application main loop" in log
    assert "Traceback" not in log and "ERROR" not in log and "CRITICAL" not in log, log[-3000:]
    assert (data / "card-master.key").stat().st_mode & 0o077 == 0
    wallet = Wallet(data / "cards.json")
    store = Store.open(data / "store", DEVICE_ID)
    try:
        known = sorted(n for n, chip in wallet.cards.items()
                       if store.ledger.state.card_account(chip.uid.hex().upper()) is not None)
        assert known == ["Gold member", "Lost card", "Member card"]
        assert {"New card", "Other card", "Staff card"} <= set(wallet.cards)
    finally:
        store.close()


def test_without_a_configuration_the_real_kiosk_refuses_with_exit_2(tmp_path):
    proc = start([], tmp_path)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 2
    assert "absent.toml" in out and "file not found" in out
