"""`kiosk hq settings`, run as HQ staff run it (a subprocess, both engines): the retention settings
listed with their defaults, a value kept at each end of its range, one past either end (or not a
whole number) refused with nothing changed, --default forgetting the stored value, and what it
keeps is what the pruning reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.hq.db import open_database
from kiosk.hq.delta_retention import Retention, retention
from kiosk.hq.publisher import put_setting
from kiosk.hq.store_snapshots import seen_text
from tests.hq.test_hq_commands import hq_cli


def _listed(db_url: str) -> dict[str, dict]:
    out = hq_cli("settings", "--json", db=db_url)
    assert out.returncode == 0, out.stderr
    return {row["key"]: row for row in json.loads(out.stdout)}


def _init(url: str) -> None:
    assert hq_cli("init", db=url).returncode == 0


def test_the_settings_are_listed_with_their_defaults(hq_url):
    _init(hq_url)
    listed = _listed(hq_url)
    assert {k: (v["value"], v["default"]) for k, v in listed.items()} == {
        "store_delta_keep_days": (7, True), "store_delta_keep_count": (10_000, True),
        "replica_seen_days": (90, True), "snapshot_chunk_bytes": (768 * 1024, True)}
    out = hq_cli("settings", db=hq_url)
    assert "store_delta_keep_days\t7\tdefault" in out.stdout


@pytest.mark.parametrize(("key", "good", "bad"), [
    ("store_delta_keep_days", ("1", "3650"), ("0", "3651", "7.5", "seven")),
    ("store_delta_keep_count", ("1", "10000000"), ("0", "10000001", "-3")),
    ("replica_seen_days", ("1", "3650"), ("0", "3651")),
    ("snapshot_chunk_bytes", ("1024", str(768 * 1024)), ("1023", str(768 * 1024 + 1))),
])
def test_a_value_is_kept_at_its_bounds_and_refused_past_them(hq_url, key, good, bad):
    _init(hq_url)
    for value in good:
        out = hq_cli("settings", key, value, db=hq_url)
        assert out.returncode == 0, out.stderr
        assert _listed(hq_url)[key]["value"] == int(value)
    for value in bad:
        out = hq_cli("settings", key, "--", value, db=hq_url)
        assert out.returncode == 2 and key in out.stderr, (value, out.stderr)
        assert _listed(hq_url)[key]["value"] == int(good[-1])  # nothing changed


def test_what_it_keeps_is_what_the_pruning_reads_and_default_forgets_it(hq_url):
    _init(hq_url)
    assert hq_cli("settings", "store_delta_keep_days", "14", db=hq_url).returncode == 0
    db = open_database(hq_url, create=False)
    try:
        assert retention(db) == Retention(days=14)
        assert hq_cli("settings", "store_delta_keep_days", "--default", db=hq_url).returncode == 0
        assert retention(db) == Retention()
        db.run(lambda db: put_setting(db, "store_delta_keep_count", "lots"))  # written by hand, unchecked
    finally:
        db.close()
    row = _listed(hq_url)["store_delta_keep_count"]
    assert (row["value"], row["default"], row["stored"]) == (10_000, True, "lots")  # as the pruning reads it
    assert hq_cli("settings", "store_delta_keep_days", "3", "--default", db=hq_url).returncode == 2
    assert hq_cli("settings", "store_delta_keep_days", db=hq_url).returncode == 2


def test_a_bad_stored_value_is_read_as_the_default_where_it_is_used(hq_db, caplog):
    """Written by hand before this command knew them, a bad replica_seen_days or chunk size
    raised in the middle of building a store's snapshot; now the default, and a warning naming
    the setting and the command that fixes it."""
    from kiosk.hq.store_snapshots import chunk_budget, seen_cutoff
    from kiosk.hq.tunables import CHUNK_BUDGET

    hq_db.run(lambda db: (put_setting(db, "replica_seen_days", "ninety"), put_setting(db, "snapshot_chunk_bytes", "0")))
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert seen_cutoff(hq_db, now) == seen_text(now - timedelta(days=90))
    assert chunk_budget(hq_db) == CHUNK_BUDGET
    assert "kiosk hq settings replica_seen_days" in caplog.text and "kiosk hq settings snapshot_chunk_bytes" in caplog.text
    hq_db.run(lambda db: put_setting(db, "replica_seen_days", "30"))
    assert seen_cutoff(hq_db, now) == seen_text(now - timedelta(days=30))
