"""The purse hint on the card: the ledger's amounts written back to a card after money moved,
and the card's new counter recorded once the reader thread has written it. A mixin of `Session`,
kept apart so session.py stays the plumbing."""

from __future__ import annotations

import logging

from kiosk.ledger.operations import Refused
from kiosk.session.inputs import PurseWritten

log = logging.getLogger("kiosk.session.session")


class PurseHint:
    """Mixed into Session (which provides `visit`, `ledger`, `card_writer`, `commit` and `now`)."""

    def _write_purse(self) -> None:
        """Ask the reader thread to write the ledger's amounts into the card's hint; with the
        card lifted (cash confirmed by staff) that waits until it is back on the reader."""
        visit = self.visit
        found = self.ledger.state.card_account(visit.uid)
        if self.card_writer is None or found is None:
            return
        visit.purse_due = not visit.card_present
        if visit.card_present:
            self.card_writer.request_purse(visit.uid, found[2].balance_fen, found[2].points)

    def _purse_written(self, result: PurseWritten) -> None:
        """The card now holds a higher counter: recorded (whatever the session is doing by now),
        so the copy it was before is refused from here on. A write that failed changes nothing:
        the card kept its old state, which the ledger already knows."""
        if result.problem:
            log.info("purse hint of card %s not written: %s", result.uid, result.problem)
            return
        try:
            txn = self.ledger.purse_written(result.uid, result.counter, self.now())
        except Refused:
            return
        if txn is not None and self.commit(txn) and result.uid == self.visit.uid:
            self.visit.card_counter = result.counter
