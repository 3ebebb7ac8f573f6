"""HQ handles every transaction Kind: a journal with one of each, stored and applied by HQ's SQL
ledger (SQLite and PostgreSQL), gives HQ the kiosk's own members, cards and accounts, with no conflict."""

from __future__ import annotations

from kiosk.hq import ledger as hq
from kiosk.ledger.txn import Kind
from tests.hq.test_hq_ledger_equivalence import _canonical
from tests.kind_helpers import every_kind_journal


def test_hq_applies_every_kind_as_the_kiosk_does(hq_db, monkeypatch):
    # The script makes every kind on one ledger, an adjustment included; HQ applies adjustments
    # only when HQ made them (tests/hq/test_hq_stated_amounts.py), so here it lets this one in.
    monkeypatch.setattr(hq, "HQ_ONLY_KINDS", frozenset())
    ledger, journal = every_kind_journal()
    assert {t.kind for t in journal} == set(Kind)
    hq.store_events(hq_db, journal)
    report = hq.apply_pending(hq_db, {t.device_id for t in journal})
    assert (report.applied, report.conflicts) == (len(journal), [])
    at_hq, at_kiosk = _canonical(hq.load_state(hq_db)), _canonical(ledger.state)
    at_kiosk.pop("stock"), at_hq.pop("stock")  # reward stock is counted per kiosk
    assert at_hq == at_kiosk
