"""`kiosk run`: the simulated kiosk starts the real app on the real store, seeded with demo
members; a missing configuration is a usage error (exit 2) with the file named."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kiosk.app.simulate import DEVICE_ID
from kiosk.reader.keys import SiteKeys
from kiosk.reader.simulated import Wallet
from kiosk.store.store import Store

ROOT = Path(__file__).resolve().parent.parent


def start(args: list[str], tmp_path: Path, **env_changes: str | None) -> subprocess.Popen:
    """`env_changes`: variables to set, or to leave out when None."""
    env = dict(os.environ, KIVY_HOME=str(tmp_path / "kivy"), KIOSK_CONFIG=str(tmp_path / "absent.toml"),
               SDL_VIDEODRIVER="offscreen")  # no display here: SDL draws offscreen through Mesa
    env.update(env_changes)
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.Popen([sys.executable, "-m", "kiosk", "run", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_for_a_moment(proc: subprocess.Popen) -> str:
    """Read until the app's main loop starts, let it run a little, stop it; returns the log."""
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Start application main loop" in line or time.monotonic() > deadline:
                break
        time.sleep(1.5)
        assert proc.poll() is None, "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    return "".join(lines) + out


def write_config(tmp_path: Path) -> tuple[Path, int]:
    """A kiosk.toml for the simulated reader and an HQ on a port nobody listens on; (file, port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    key = tmp_path / "master.key"
    SiteKeys.write_new(key)
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[device]\nid = "k-77"\nstore = "shop1"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[reader]\ndriver = "simulated"\nport = "{tmp_path / "cards.json"}"\n'
        f'[hq]\nhost = "127.0.0.1"\nport = {closed_port}\n'
        f'[secrets]\ncard_master_key_file = "{key}"\n'
    )
    return config, closed_port


def test_configured_kiosk_starts_with_its_reader_and_hq_offline(tmp_path):
    """The real wiring from kiosk.toml: reader factory (the simulated driver here), card keys,
    store, session, sync client towards an HQ that does not answer: the screen comes up anyway."""
    config, closed_port = write_config(tmp_path)
    log = run_for_a_moment(start(["--config", str(config)], tmp_path))
    assert "Start application main loop" in log
    assert "kiosk k-77" in log and "HQ 127.0.0.1" in log
    # the sync client starts after the first frame: no connect (or TLS) work before the screen shows
    assert log.index("idle screen shown") < log.index("kiosk ready") < log.index(f"connect to 127.0.0.1:{closed_port}"), \
        log[-3000:]
    assert "Traceback" not in log and "CRITICAL" not in log, log[-3000:]
    assert (tmp_path / "data" / "journal").is_dir()


# What `kiosk run` wires after the first frame (kiosk/app/startup.py): the state machine library,
# the session, the ledger's transaction kinds and state, the store, the card layer, the MQTT
# messages and client. Importing them before the idle screen was most of start-up (issue 16).
WIRED_AFTER_THE_FIRST_FRAME = (
    "statemachine", "kiosk.session.session", "kiosk.session.machine", "kiosk.ledger.kinds", "kiosk.ledger.state",
    "kiosk.ledger.operations", "kiosk.store.store", "kiosk.reader.card", "kiosk.sync.messages", "kiosk.sync.client",
    "paho.mqtt.client", "kiosk.app.wiring",
)
MODULES_AT_EACH_STEP = """
import json, logging, os, sys
wired = json.loads(sys.argv[2])
class Step(logging.Handler):
    def emit(self, record):
        text = record.getMessage()
        if text == "idle screen shown" or text.startswith("kiosk ready"):
            print("LOADED", text.split(":")[0], json.dumps([m for m in wired if m in sys.modules]), sep="\t", flush=True)
            if text.startswith("kiosk ready"):
                os._exit(0)
logging.getLogger("kiosk.app.startup").addHandler(Step())
from kiosk.app.cli import main
main(["run", "--config", sys.argv[1]])
"""


def test_the_session_and_what_it_needs_are_imported_after_the_first_frame(tmp_path):
    """The idle screen comes before the heavy imports, and they all come before "kiosk ready"
    (READY=1): read from the real `kiosk run`'s sys.modules at its two log lines."""
    import json

    config, _port = write_config(tmp_path)
    env = dict(os.environ, KIVY_HOME=str(tmp_path / "kivy"), SDL_VIDEODRIVER="offscreen")
    out = subprocess.run([sys.executable, "-c", MODULES_AT_EACH_STEP, str(config), json.dumps(WIRED_AFTER_THE_FIRST_FRAME)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    loaded = {line.split("\t")[1]: json.loads(line.split("\t")[2])
              for line in out.stdout.splitlines() if line.startswith("LOADED\t")}
    assert set(loaded) == {"idle screen shown", "kiosk ready"}, out.stdout + out.stderr[-3000:]
    assert loaded["idle screen shown"] == [], "imported before the first frame"
    assert loaded["kiosk ready"] == list(WIRED_AFTER_THE_FIRST_FRAME)


def test_a_store_that_cannot_be_opened_stops_the_kiosk_with_exit_1(tmp_path):
    """The store is opened after the idle screen shows; when it cannot be (here another process
    holds it), the kiosk says why, never says READY, and exits 1 as before."""
    config, _port = write_config(tmp_path)
    holder = Store.open(tmp_path / "data", "k-77")
    try:
        proc = start(["--config", str(config)], tmp_path)
        out = proc.communicate(timeout=60)[0]
    finally:
        holder.close()
    assert proc.returncode == 1, out[-3000:]
    assert f"the store in {tmp_path / 'data'} cannot be opened" in out
    assert "idle screen shown" in out and "kiosk ready" not in out and "Traceback" not in out


def test_simulated_kiosk_starts_the_app_on_a_seeded_store(tmp_path):
    data = tmp_path / "store"
    log = run_for_a_moment(start(["--simulate", "--data-dir", str(data), "--locale", "en"], tmp_path))
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


def test_the_kiosk_writes_nothing_in_the_users_home_and_kivy_logs_no_stale_config(tmp_path):
    """Kivy's own home would be ~/.kivy (config.ini, icons, mods) and a fresh or old config.ini
    logs "Older configuration version detected" at every start: the kiosk keeps Kivy out of $HOME."""
    home = tmp_path / "home"
    home.mkdir()
    log = run_for_a_moment(start(["--simulate", "--data-dir", str(tmp_path / "data")], tmp_path,
                                 HOME=str(home), KIVY_HOME=None, XDG_CACHE_HOME=None, XDG_CONFIG_HOME=None))
    assert "Start application main loop" in log
    assert sorted(p.name for p in home.iterdir()) == []
    assert "Older configuration version" not in log and "Upgrading configuration" not in log, log[-3000:]


def test_without_a_configuration_the_real_kiosk_refuses_with_exit_2(tmp_path):
    proc = start([], tmp_path)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 2
    assert "absent.toml" in out and "file not found" in out


def test_under_systemd_the_kiosk_says_ready_and_keeps_the_watchdog_fed(tmp_path):
    """kiosk.service is Type=notify with WatchdogSec=30: without READY=1 systemd kills the kiosk
    after TimeoutStartSec and restarts it for ever, and without WATCHDOG=1 it does so every 30 s.
    Here a socket plays systemd's side, with a 1 s watchdog (pings every 0.5 s)."""
    from tests.test_systemd_notify import Listener, wait_for

    systemd = Listener(str(tmp_path / "notify.sock"))
    try:
        proc = start(["--simulate", "--data-dir", str(tmp_path / "store"), "--locale", "en"], tmp_path,
                     NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="1000000", WATCHDOG_PID=None)
        try:
            assert wait_for(lambda: any(m.startswith("READY=1") for _, m in systemd.messages), timeout=60)
            ready_at, ready = next((t, m) for t, m in systemd.messages if m.startswith("READY=1"))
            assert "STATUS=serving taps" in ready  # said once the session is wired, not at the first frame
            assert wait_for(lambda: len([t for t in systemd.pings() if t > ready_at]) >= 3, timeout=10)
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=30)[0]
        assert "Traceback" not in out, out[-3000:]
        assert wait_for(lambda: any(m == "STOPPING=1" for _, m in systemd.messages))
    finally:
        systemd.close()
