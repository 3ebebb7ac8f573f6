"""The store's self-check: everything on disk re-read and compared with the state in memory
(`Store.check`, shown by `kiosk doctor`), and the invariants every ledger state keeps.

Over the member replica the check costs what changed since the last checkpoint, not the chain:
SQLite checks the replica's own integrity (quick_check), the journal is replayed onto the
replica's committed rows, and the rows that replay changed must equal the rows changed in memory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.operations import Ledger
from kiosk.ledger.rows import Rows
from kiosk.ledger.rules import Rules, RulesError, parse_rules
from kiosk.ledger.state import LedgerState, SequenceGap
from kiosk.ledger.txn import TxnFormatError, txn_from_dict
from kiosk.store.journal import JournalCorrupt, read_segment, segment_name
from kiosk.store.replica import Replica
from kiosk.store.snapshot import SnapshotError, read_snapshot

SNAPSHOT = "snapshot.json"


def disk_problems(
    data_dir: Path,
    device_id: str,
    fallback_rules: Rules,
    journal_dir: Path,
    numbers: list[int],
    replay_from: int,
    in_memory: LedgerState,
    replica: Replica,
) -> list[str]:
    """Problems found by rebuilding the state from the replica (or an old whole-state snapshot)
    and the journal segments."""
    problems: list[str] = replica.quick_check()
    try:
        snap = read_snapshot(data_dir / SNAPSHOT)
    except SnapshotError as exc:
        return [*problems, str(exc)]
    over_replica = isinstance(in_memory.accounts, Rows)
    if over_replica:
        state, txns_from = replica.state(), replica.absorbed
    else:
        state, txns_from = (snap.state if snap and snap.state else LedgerState()), replay_from
    rules = fallback_rules
    try:
        if snap and snap.rules_doc is not None:
            rules = parse_rules(snap.rules_doc, "snapshot rules")
    except RulesError as exc:
        problems.append(str(exc))
    rebuilt = Ledger(state, rules, device_id)  # seeds stock exactly as open does
    for number in numbers:
        path = journal_dir / segment_name(number)
        try:
            segment = read_segment(path, number, last=number == numbers[-1])
        except JournalCorrupt as exc:
            problems.append(str(exc))
            continue
        if segment.torn:
            problems.append(f"{path}: torn record at byte {segment.torn.good_end}")
        for index, record in enumerate(segment.records):
            try:
                if record.get("t") == "txn":
                    txn = txn_from_dict(record.get("txn"))
                    if number >= txns_from:
                        state.apply(txn)
                elif record.get("t") == "rules" and number >= replay_from:
                    rebuilt.use_rules(parse_rules(record.get("doc"), "journal rules record"))
            except (TxnFormatError, SequenceGap, RulesError) as exc:
                problems.append(f"{path}: record {index + 1}: {exc}")
    if not problems and _compared(state) != _compared(in_memory):
        problems.append("the state rebuilt from disk differs from the state in memory")
    problems.extend(state_invariant_problems(in_memory))
    prev = data_dir / "snapshot.prev.json"
    try:
        read_snapshot(prev)
    except SnapshotError as exc:
        problems.append(f"the last good copy is not usable: {exc}")
    return problems



def _compared(state: LedgerState) -> object:
    """Over the replica: the rows changed since the checkpoint (the rest is the same file)."""
    if isinstance(state.accounts, Rows):
        return (
            {name: dict(_recent(getattr(state, name))) for name in ("members", "cards", "accounts")},
            dict(state.stock),
            dict(state.last_seq),
        )
    return state_to_dict(state)


def _recent(table: Mapping) -> Mapping:
    return table.changed if isinstance(table, Rows) else table


def state_invariant_problems(state: LedgerState) -> list[str]:
    """Over the replica, the rows changed since the last checkpoint (each was checked so before)."""
    problems = []
    for uid, card in _recent(state.cards).items():
        if card.member_id not in state.members:
            problems.append(f"card {uid} belongs to unknown member {card.member_id}")
    for member_id in _recent(state.members):
        if member_id not in state.accounts:
            problems.append(f"member {member_id} has no account")
    for member_id, account in _recent(state.accounts).items():
        if account.points < 0 or any(lot.points <= 0 for lot in account.lots):
            problems.append(f"account {member_id} has negative or empty points lots")
        if not 0 <= account.bonus_fen <= max(account.balance_fen, 0):
            problems.append(f"account {member_id} bonus {account.bonus_fen} outside 0..balance")
    for reward_id, units in state.stock.items():
        if units < 0:
            problems.append(f"reward {reward_id} stock {units} is negative")
    return problems
