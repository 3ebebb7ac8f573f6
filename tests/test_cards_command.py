"""`kiosk cards` over the real card layer (kiosk/reader, branch `cards`) and its simulated
reader: a staff member lays cards on the reader one after another."""

from __future__ import annotations

import io
import json
import os
from datetime import date
from pathlib import Path

import pytest

from kiosk.app.config import parse_config
from kiosk.provisioning.cards import build_operation, run_batch

WHY = "the card layer (branch cards) is not merged"
card_layer = pytest.importorskip("kiosk.reader.card", reason=WHY)
CardFormatError = pytest.importorskip("kiosk.reader.card_format", reason=WHY).CardFormatError
new_classic = pytest.importorskip("kiosk.reader.chips", reason=WHY).new_classic
SiteKeys = pytest.importorskip("kiosk.reader.keys", reason=WHY).SiteKeys
SimulatedReader = pytest.importorskip("kiosk.reader.simulated", reason=WHY).SimulatedReader

MASTER = bytes.fromhex("8f3a1c2d4e5f60718293a4b5c6d7e8f9")
NEW_MASTER = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")


class StaffAtTheReader(SimulatedReader):
    """Lays the next card of a pile on the reader when asked, takes it away when told."""

    def __init__(self, pile):
        super().__init__()
        self.pile = list(pile)

    def wait_for_card(self, timeout):
        if self.chip is None and self.pile:
            self.place(self.pile.pop(0))
        return super().wait_for_card(min(timeout, 0.05))

    def wait_for_removal(self, timeout):
        self.remove()
        return True


def key_file(path: Path, key: bytes, mode: int = 0o600) -> Path:
    path.write_text(key.hex() + "\n")
    path.chmod(mode)
    return path


@pytest.fixture
def config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    return parse_config({
        "device": {"id": "K-1", "store": "S-1", "data_dir": str(data)},
        "secrets": {"card_master_key_file": str(key_file(tmp_path / "master.key", MASTER)),
                    "card_system_id": "test-chain"},
    })


SITE = SiteKeys(MASTER, b"test-chain")


def test_issue_a_pile_with_one_foreign_card(config, tmp_path):
    foreign = new_classic()
    other = SiteKeys(NEW_MASTER, b"test-chain")
    reader = SimulatedReader()
    reader.place(foreign)
    card_layer.issue_card(reader, reader.wait_for_card(0), other, "M-x-1", 1, date(2026, 1, 1))
    reader.remove()

    blanks = [new_classic() for _ in range(3)]
    staff = StaffAtTheReader([blanks[0], foreign, blanks[1], blanks[2]])
    out = io.StringIO()
    summary = run_batch(staff, build_operation("issue", config, today=date(2026, 11, 23)), 4,
                        1.0, out)
    assert summary.done == ["M-K-1-P1", "M-K-1-P2", "M-K-1-P3"]
    assert sum(summary.failed.values()) == 1
    for chip, member in zip(blanks, summary.done, strict=True):
        staff.place(chip)
        read = card_layer.read_member_card(staff, staff.wait_for_card(0), SITE)
        assert (read.member_id, read.card_seq, read.issued_on) == (member, 1, date(2026, 11, 23))
    log = Path(config.device.data_dir) / "issued_cards.jsonl"
    assert os.stat(log).st_mode & 0o777 == 0o600
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["member_id"] for e in entries] == summary.done
    assert all(e["device_id"] == "K-1" and "registered" not in e for e in entries)  # nothing registers them
    assert MASTER.hex() not in out.getvalue()


def test_rekey_then_wipe(config, tmp_path):
    chip = new_classic()
    staff = StaffAtTheReader([chip])
    assert run_batch(staff, build_operation("issue", config), 1, 1.0, io.StringIO()).done
    new_key = key_file(tmp_path / "new.key", NEW_MASTER)
    staff.pile = [chip]
    summary = run_batch(staff, build_operation("rekey", config, new_key), 1, 1.0, io.StringIO())
    assert summary.done == ["M-K-1-P1"], summary.failed
    staff.place(chip)
    info = staff.wait_for_card(0)
    assert card_layer.read_member_card(staff, info, SiteKeys(NEW_MASTER, b"test-chain"))
    with pytest.raises(CardFormatError):
        card_layer.read_member_card(staff, staff.wait_for_card(0), SITE)
    staff.remove()

    new_config = parse_config({
        "device": {"id": "K-1", "store": "S-1", "data_dir": str(config.device.data_dir)},
        "secrets": {"card_master_key_file": str(new_key), "card_system_id": "test-chain"}})
    staff.pile = [chip]
    summary = run_batch(staff, build_operation("wipe", new_config), 1, 1.0, io.StringIO())
    assert summary.done == ["blank"], summary.failed
    staff.place(chip)
    with pytest.raises(CardFormatError):
        card_layer.read_member_card(staff, staff.wait_for_card(0),
                                    SiteKeys(NEW_MASTER, b"test-chain"))


def test_a_key_file_others_can_read_is_refused(config, tmp_path):
    loose = key_file(tmp_path / "loose.key", MASTER, 0o644)
    bad = parse_config({"device": {"id": "K-1", "store": "S-1", "data_dir": str(tmp_path)},
                        "secrets": {"card_master_key_file": str(loose)}})
    with pytest.raises(Exception, match="mode 600") as exc:
        build_operation("issue", bad)
    assert MASTER.hex() not in str(exc.value)


@pytest.fixture
def doctor_root(tmp_path, monkeypatch):
    """A kiosk root whose reader factory hands out one simulated reader (the readers branch's
    factory builds the same thing from `driver = "simulated"`)."""
    import sys
    import types

    root = tmp_path / "root"
    (root / "etc/kiosk").mkdir(parents=True)
    key_file(root / "etc/kiosk/card_master.key", MASTER)
    (root / "etc/kiosk/kiosk.toml").write_text(
        '[device]\nid = "K-1"\nstore = "S-1"\ndata_dir = "/var/lib/kiosk"\n'
        '[reader]\ndriver = "simulated"\n'
        '[secrets]\ncard_master_key_file = "/etc/kiosk/card_master.key"\n'
        'card_system_id = "test-chain"\n')
    reader = SimulatedReader()
    factory = types.ModuleType("kiosk.reader.factory")
    factory.open_reader = lambda config: reader
    monkeypatch.setitem(sys.modules, "kiosk.reader.factory", factory)
    monkeypatch.setattr("kiosk.doctor.integrations._live", lambda ctx: True)
    return root, reader


def card_read_result(root):
    from kiosk.doctor.checks import Context
    from kiosk.doctor.integrations import check_card_read

    return check_card_read(Context(root=root, ntp_server=None, card_wait_s=0.05))


def test_doctor_reads_and_verifies_a_card_on_the_reader(doctor_root):
    from kiosk.app.logging_setup import hash_uid
    from kiosk.doctor.checks import Status

    root, reader = doctor_root
    assert card_read_result(root).status == Status.SKIP  # no card: said so, not a pass
    chip = new_classic()
    reader.place(chip)
    card_layer.issue_card(reader, reader.wait_for_card(0), SITE, "M-K-1-7", 2, date(2026, 5, 1))
    r = card_read_result(root)
    assert r.status == Status.OK, r
    assert "member M-K-1-7, card 2, issued 2026-05-01" in r.detail
    assert hash_uid(chip.uid) in r.detail and chip.uid.hex() not in r.detail.lower()
    foreign = new_classic()
    reader.place(foreign)
    card_layer.issue_card(reader, reader.wait_for_card(0), SiteKeys(NEW_MASTER, b"test-chain"),
                          "M-x-1", 1, date(2026, 5, 1))
    r = card_read_result(root)
    assert r.status == Status.FAIL and "reading the card failed" in r.detail


def test_the_doctor_hashes_a_uid_as_the_service_logs_it(doctor_root):
    """The doctor keys its UID hash with the install's salt in the data dir, so the card it
    reads can be found in the service's log."""
    from kiosk.app import logging_setup

    root, reader = doctor_root
    data_dir = root / "var/lib/kiosk"
    data_dir.mkdir(parents=True)
    service_salt = logging_setup.load_or_create_salt(data_dir / logging_setup.SALT_FILE)
    logging_setup.set_uid_salt(service_salt)
    chip = new_classic()
    expected = logging_setup.hash_uid(chip.uid)
    logging_setup.set_uid_salt(b"another process" + b"!")  # the doctor is its own process
    reader.place(chip)
    card_layer.issue_card(reader, reader.wait_for_card(0), SITE, "M-K-1-8", 1, date(2026, 5, 1))
    r = card_read_result(root)
    assert expected in r.detail, r


def test_the_texts_say_how_a_pre_issued_card_is_sold_not_that_hq_registers_it():
    """Nothing sends issued_cards.jsonl to HQ: the help, the epilog and the module say so, and name
    the two ways a pre-issued card is sold (a sign-up at a kiosk, register-member at HQ)."""
    import argparse

    from kiosk.provisioning import cards

    parser = argparse.ArgumentParser(prog="kiosk cards", epilog=cards.EPILOG)
    cards.add_arguments(parser)
    issue = next(a for a in parser._subparsers._group_actions if a.dest == "action").choices["issue"]
    texts = (issue.format_help(), parser.format_help(), cards.DESCRIPTION, cards.__doc__)
    for text in texts:
        flat = " ".join(text.split())
        assert "registered at HQ when" not in flat and "sync client" not in flat and "HQ registration" not in flat
    assert "register-member" in " ".join(cards.EPILOG.split()) and "sign-up" in " ".join(issue.format_help().split())
