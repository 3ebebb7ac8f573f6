"""`kiosk hq` as an operator runs it: real processes, exit codes, what they print, and each
change reaching a kiosk over a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from kiosk.hq import admin
from kiosk.hq import ledger as hq
from kiosk.hq.db import open_database
from kiosk.hq.devices import record_status
from kiosk.hq.embedded import start_receiver
from kiosk.ledger.model import CardStatus
from kiosk.sync import messages as m
from kiosk.sync.topics import DeviceTopics, chain_topic
from tests.fixtures.histories import many_top_ups

ROOT = Path(__file__).resolve().parents[2]


def hq_cli(*args: str, db: str, stdin: str = "", broker=None, tmp_path: Path | None = None):
    extra: list[str] = []
    if broker is not None:
        password = tmp_path / "hq.password"
        password.write_text(broker.password("hq"))
        password.chmod(0o600)
        extra = ["--broker", f"{broker.host}:{broker.port}", "--password-file", str(password)]
    return subprocess.run(
        [sys.executable, "-m", "kiosk.hq", "--db", db, *extra, *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_help_documents_every_command():
    out = subprocess.run([sys.executable, "-m", "kiosk.hq", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0
    for word in ("serve", "register-member", "block-card", "replace-card", "return-card", "publish-rules",
                 "devices", "conflicts", "exit status", "挂失", "补卡", "退卡"):
        assert word in out.stdout


def test_card_life_at_hq_register_block_replace_return(hq_url):
    assert hq_cli("init", db=hq_url).returncode == 0
    reg = hq_cli("register-member", "04A1B2C3", "--phone", "13800000001", "--pin-stdin", "--name", "张三",
                 db=hq_url, stdin="246810\n")
    assert reg.returncode == 0, reg.stderr
    assert "M-hq-1" in reg.stdout
    again = hq_cli("register-member", "04A1B2C3", "--phone", "13800000002", "--pin-stdin", db=hq_url, stdin="246810\n")
    assert again.returncode == 1 and "card_in_use" in again.stderr
    assert hq_cli("block-card", "04A1B2C3", db=hq_url).returncode == 0
    blocked_twice = hq_cli("block-card", "04A1B2C3", db=hq_url)
    assert blocked_twice.returncode == 1 and "card_blocked" in blocked_twice.stderr
    rep = hq_cli("replace-card", "04A1B2C3", "04D4E5F6", db=hq_url)
    assert rep.returncode == 0 and "04D4E5F6" in rep.stdout, rep.stderr
    ret = hq_cli("return-card", "04D4E5F6", db=hq_url)
    assert ret.returncode == 0 and "¥0.00" in ret.stdout
    unknown = hq_cli("block-card", "04FFFFFF", db=hq_url)
    assert unknown.returncode == 1 and "unknown_card" in unknown.stderr

    db = open_database(hq_url)
    state = hq.load_state(db)
    assert state.cards["04A1B2C3"].status is CardStatus.REPLACED
    assert state.cards["04D4E5F6"].status is CardStatus.RETURNED
    assert state.members["M-hq-1"].status == "closed"
    assert hq.event_counts(db)["hq"] == (4, 4, 4)
    status = hq_cli("status", db=hq_url)
    assert "hq" in status.stdout and "applied        4" in status.stdout
    db.close()


def test_devices_and_conflicts_listing(hq_db, hq_url):
    with hq_db.transaction():
        record_status(hq_db, "D7", "S3", True, 17, "kiosk 0.1.0", "", "2026-11-23T10:00:00Z")
    out = hq_cli("devices", "--json", db=hq_url)
    assert out.returncode == 0
    (row,) = json.loads(out.stdout)
    assert (row["device_id"], row["store"], row["outbox_depth"], row["online"]) == ("D7", "S3", 17, True)
    assert "0 conflict(s)" in hq_cli("conflicts", db=hq_url).stdout
    bad = hq_cli("conflicts", "--resolve", "nonsense", db=hq_url)
    assert bad.returncode == 2


def test_publish_rules_checks_and_reaches_kiosks(mosquitto, hq_url, tmp_path):
    doc = json.loads((ROOT / "kiosk/data/rules.default.json").read_text())
    doc["version"] = 7
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(doc, ensure_ascii=False))
    assert hq_cli("init", db=hq_url).returncode == 0
    got: list[m.RulesUpdate] = []
    seen = threading.Event()
    kiosk = mosquitto.client("D1")
    kiosk.on_message = lambda c, u, msg: (got.append(m.decode(msg.payload, "rules")), seen.set())
    kiosk.subscribe(chain_topic("rules"), qos=1)
    out = hq_cli("publish-rules", str(rules_file), db=hq_url, broker=mosquitto, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert seen.wait(10) and got[-1].version == 7
    stale = hq_cli("publish-rules", str(rules_file), db=hq_url)
    assert stale.returncode == 1 and "rules_out_of_date" in stale.stderr
    doc["tiers"] = "gold"
    rules_file.write_text(json.dumps(doc))
    broken = hq_cli("publish-rules", str(rules_file), db=hq_url)
    assert broken.returncode == 1 and "bad_rules" in broken.stderr and "tiers" in broken.stderr
    kiosk.disconnect()


def test_replaced_card_reaches_kiosks_in_a_snapshot(mosquitto, hq_url, tmp_path):
    txns = many_top_ups("D1", 4, members=2)
    old_uid = txns[0].card_uid
    snapshots: list[m.Snapshot] = []
    arrived = threading.Event()
    kiosk = mosquitto.client("D1", client_id="D1-snap")
    kiosk.on_message = lambda c, u, msg: (snapshots.append(m.decode(msg.payload, "snapshot")), arrived.set())
    kiosk.subscribe(DeviceTopics("S1", "D1").topic("snapshot"), qos=1)
    with start_receiver(hq_url, mosquitto.host, mosquitto.port, "hq", mosquitto.password("hq")) as receiver:
        from tests.fixtures.kiosk_sender import KioskSender

        sender = KioskSender(mosquitto, "S1", "D1", txns)
        assert sender.drain(30)
        sender.close()
        admin.replace_card(receiver.admin_db, old_uid, "04C0FFEE")
        assert arrived.wait(10)
    snap = snapshots[-1]
    assert snap.own_high_water == 4
    assert snap.state.cards["04C0FFEE"].member_id == snap.state.cards[old_uid].member_id
    assert snap.state.cards[old_uid].status is CardStatus.REPLACED
    kiosk.disconnect()


def test_postgres_fixture_runs_as_an_unprivileged_user(postgres_server):
    import psycopg

    with psycopg.connect(postgres_server.dsn()) as conn:
        port = conn.execute("SHOW port").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    assert int(port) == postgres_server.port != 5432
    assert listen == ""  # unix socket only: never reachable from the network
    owner = os.stat(data_dir).st_uid
    assert owner != 0 or os.geteuid() != 0


def test_admin_refuses_before_anything_is_written(hq_db):
    try:
        admin.block_card(hq_db, "04000000", "lost")
    except admin.AdminError as exc:
        assert exc.code == "unknown_card"
    else:
        raise AssertionError("blocking an unknown card must be refused")
    assert hq.event_counts(hq_db) == {}


READING_COMMANDS = [("report",), ("devices",), ("status",), ("conflicts",), ("incidents",),
                    ("block-card", "04A1B2C3"), ("publish-rules", "rules.json")]


def test_a_missing_database_is_an_error_and_nothing_is_created(tmp_path):
    """A mistyped --db (or none on a machine without HQ) must not leave an empty database behind
    and print an all-zero report as if the chain had sold nothing."""
    (tmp_path / "rules.json").write_text('{"version": -1}')  # refused anyway: no database to refuse it in
    missing = tmp_path / "no" / "such" / "hq.sqlite3"
    for args in READING_COMMANDS:
        out = subprocess.run([sys.executable, "-m", "kiosk", "hq", "--db", str(missing), *args],
                             capture_output=True, text=True, cwd=tmp_path, timeout=60,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert f"no HQ database at {missing}" in out.stderr and "kiosk hq init" in out.stderr, out.stderr
        assert out.stdout == ""
    assert list(tmp_path.iterdir()) == [tmp_path / "rules.json"]  # not even the folders


def test_init_creates_the_database_once_and_the_commands_then_read_it(tmp_path):
    db = tmp_path / "new" / "hq.sqlite3"
    first = hq_cli("init", db=str(db))
    assert first.returncode == 0 and f"HQ database ready at {db}" in first.stdout, first.stderr
    assert hq_cli("init", db=str(db)).returncode == 0  # again: nothing to do, nothing lost
    devices = hq_cli("devices", db=str(db))
    assert devices.returncode == 0 and "store" in devices.stdout


def test_a_database_without_hq_tables_is_refused_not_filled(hq_url):
    """An existing file or PostgreSQL database that is not HQ's (--db pointing at the wrong one)."""
    out = hq_cli("devices", db=hq_url)
    assert out.returncode == 2, out.stderr
    assert "kiosk hq init" in out.stderr
    if not hq_url.endswith(".sqlite3"):  # PostgreSQL: the server's database is there, without tables
        assert "is not an HQ database" in out.stderr
        db = open_database(hq_url)
        assert db.one("SELECT to_regclass('settings')") == (None,)  # no table was created
        db.close()
    else:
        import sqlite3

        sqlite3.connect(hq_url).execute("CREATE TABLE other (x)").connection.close()
        again = hq_cli("devices", db=hq_url)
        assert again.returncode == 2 and "is not an HQ database" in again.stderr
        names = sqlite3.connect(hq_url).execute("SELECT name FROM sqlite_master").fetchall()
        assert names == [("other",)]


def test_publish_rules_with_a_lone_surrogate_is_refused_cleanly(hq_url, hq_db, tmp_path):
    doc = json.loads((ROOT / "kiosk/data/rules.default.json").read_text(encoding="utf-8"))
    doc["version"] = 3
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(doc).replace('"Gold"', '"Gold\\ud800"', 1))
    out = hq_cli("publish-rules", str(rules_file), db=hq_url)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert "bad_rules" in out.stderr and "tiers[2].name.en" in out.stderr and str(rules_file) in out.stderr
    assert admin.rules_in_force(open_database(hq_url)) is None
