"""HQ's own operations: register a member, block (挂失), replace (补卡), exchange (换卡), return (退卡) a card,
publish rules. Each is decided by the same kiosk.ledger.operations.Ledger a kiosk uses, as
HQ's own device ("hq"), and committed like a kiosk event: stored and applied in one SQL
transaction, so HQ's events sit in the same per-device history as every kiosk's. What kiosks
must learn (blocked list, snapshots, rules) is queued in SQL and published after the commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from kiosk.hq.db import Database
from kiosk.hq.home_store import home_store_of_card
from kiosk.hq.ledger import HQ_DEVICE, ApplyReport, apply_txns, lock_progress, now_text, store_rows
from kiosk.hq.publisher import request_snapshots, rules_in_force
from kiosk.hq.report.model import HQ_STORE
from kiosk.hq.rows import load_rows
from kiosk.hq.rules_scopes import CHAIN, highest_version, put_rules, rules_for_store
from kiosk.ledger import vouchers
from kiosk.ledger.kinds import FEE_EXCHANGE, FEE_REPLACEMENT
from kiosk.ledger.operations import Ledger, Refused
from kiosk.ledger.pin import DEFAULT_PARAMS, PinHashParams
from kiosk.ledger.rules import Rules, RulesError, load_rules_json
from kiosk.ledger.sample import default_rules
from kiosk.ledger.txn import Txn
from kiosk.sync.topics import TopicError, check_id

# Called inside the operation's own SQL transaction once the txn is applied (the console writes
# its audit entry there: a change and its audit row commit together or not at all).
Recorder = Callable[[Database, Txn], None]
COUNTER = "counter"  # the payment_ref of a fee paid at HQ's or a store's counter


class AdminError(Exception):
    """An operation HQ refused; `code` is the ledger's refusal code (or HQ's own)."""

    def __init__(self, code: str, detail: str = ""):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}" if detail else code)


def current_rules(db: Database) -> Rules:
    """The chain's rules in force (the built-in ones before any was published)."""
    found = rules_in_force(db)
    return found[1] if found else default_rules()


def rules_at(db: Database, store: str) -> Rules:
    """The rules the kiosks of `store` run: the newer of the chain's document and the store's own
    (kiosk/hq/rules_scopes.py); the chain's for HQ's own members."""
    found = rules_for_store(db, store) if store and store != HQ_STORE else None
    return found[1] if found else current_rules(db)


def _rules_where(db: Database, uids: list[str], store: str | None) -> Rules:
    """HQ's operation on a card charges what the rules of the store where it happens say: the
    store named, else the home store of the first card's member (the console's choice too)."""
    if store is None:
        store = next((s for s in (home_store_of_card(db, u) for u in uids) if s is not None), "")
    return rules_at(db, store)


def _operate(
    db: Database,
    uids: list[str],
    decide: Callable[[Ledger], Txn],
    phone: str = "",
    pepper: bytes = b"",
    pin_params: PinHashParams = DEFAULT_PARAMS,
    snapshots: bool = True,
    record: Recorder | None = None,
    commit: bool = True,
    then: Callable[[Ledger], Txn | None] | None = None,
    store: str | None = None,
) -> Txn:
    """One decision, stored and applied: all or nothing (`_commit`).
    commit=False only decides (a preview: the txn the operation would make), writing nothing.
    `then` decides a second txn after the first (a counter fee): both commit together or neither."""

    def decide_all(ledger: Ledger) -> list[Txn]:
        txn = decide(ledger)
        if not commit:
            raise _Decided(txn)
        if then is None:
            return [txn]
        ledger.apply(txn)
        extra = then(ledger)
        return [txn] if extra is None else [txn, extra]

    recorder = None if record is None else lambda db, txns: record(db, txns[0])
    try:
        return _commit(db, uids, decide_all, phone, pepper, pin_params, snapshots, recorder, store)[0]
    except _Decided as decided:  # a preview: rolled back, nothing written (not even a progress row)
        return decided.txn


def _commit(
    db: Database,
    uids: list[str],
    decide_all: Callable[[Ledger], list[Txn]],
    phone: str = "",
    pepper: bytes = b"",
    pin_params: PinHashParams = DEFAULT_PARAMS,
    snapshots: bool = True,
    record: Callable[[Database, list[Txn]], None] | None = None,
    store: str | None = None,
) -> list[Txn]:
    """Lock HQ's sequence, load what the cards touch, decide, store and apply: all or nothing."""
    rules = _rules_where(db, uids, store)

    def work(db: Database) -> list[Txn]:
        applied = lock_progress(db, HQ_DEVICE)
        members = [r[0] for r in db.all(f"SELECT member_id FROM cards WHERE uid IN {db.in_list(uids)}", uids)]
        loaded = load_rows(db, members, uids, phone=phone)
        loaded.state.last_seq[HQ_DEVICE] = applied
        ledger = Ledger(loaded.state.copy(), rules, HQ_DEVICE, pepper=pepper, pin_params=pin_params)
        try:
            txns = decide_all(ledger)
        except Refused as exc:
            raise AdminError(exc.code, exc.detail) from None
        if txns:
            store_rows(db, txns, now_text())
            apply_txns(db, txns, HQ_DEVICE, applied, ApplyReport())
            if snapshots:
                request_snapshots(db)
        if record is not None:
            record(db, txns)
        return txns

    return db.run(work)


class _Decided(Exception):
    def __init__(self, txn: Txn):
        self.txn = txn


def register_member(
    db: Database,
    uid: str,
    phone: str,
    pin: str,
    name: str = "",
    birthday: date | None = None,
    card_seq: int = 1,
    pepper: bytes = b"",
    pin_params: PinHashParams = DEFAULT_PARAMS,
    now: datetime | None = None,
    staff_id: str = "",
) -> Txn:
    """Sign a member up at the counter: the card is sold here (fee due, the seller's reward). HQ
    writes no card: it waits to be written at the member's first kiosk, behind their PIN."""
    now = now or datetime.now(UTC)
    return _operate(
        db,
        [uid],
        lambda ledger: ledger.sign_up(
            uid, card_seq, phone, pin, now, name=name, birthday=birthday, staff_id=staff_id, awaiting_write=True
        ),
        phone=phone,
        pepper=pepper,
        pin_params=pin_params,
    )


def block_card(
    db: Database, uid: str, reason: str, now: datetime | None = None, record: Recorder | None = None
) -> Txn:
    """挂失: the blocked list (version + 1) reaches every kiosk; the kiosk refuses the card."""
    now = now or datetime.now(UTC)
    return _operate(db, [uid], lambda ledger: ledger.block_card(uid, reason, now), snapshots=False, record=record)


def unblock_card(
    db: Database, uid: str, reason: str, now: datetime | None = None, record: Recorder | None = None
) -> Txn:
    now = now or datetime.now(UTC)
    return _operate(db, [uid], lambda ledger: ledger.unblock_card(uid, reason, now), snapshots=False, record=record)


def replace_card(
    db: Database, old_uid: str, new_uid: str, now: datetime | None = None, record: Recorder | None = None
) -> Txn:
    """补卡: balance and points follow the new card; the old one goes on the blocked list. The
    rules' replacement fee (补卡费) is charged at the counter with it, as its own CARD_FEE."""
    return _new_card(db, Ledger.replace_card, FEE_REPLACEMENT, old_uid, new_uid, now, record)


def exchange_card(
    db: Database, old_uid: str, new_uid: str, now: datetime | None = None, record: Recorder | None = None
) -> Txn:
    """换卡: a damaged card the member brings back is retired and the new one takes over at once
    (no waiting period); the rules' exchange fee (换卡费) is charged with it."""
    return _new_card(db, Ledger.exchange_card, FEE_EXCHANGE, old_uid, new_uid, now, record)


def _new_card(
    db: Database, operation: Callable[..., Txn], fee: str, old_uid: str, new_uid: str, now: datetime | None, record: Recorder | None
) -> Txn:
    now = now or datetime.now(UTC)
    return _operate(
        db,
        [old_uid, new_uid],
        lambda ledger: operation(ledger, old_uid, new_uid, now),
        record=record,
        then=lambda ledger: ledger.counter_fee(new_uid, fee, COUNTER, now),
    )


def return_card(db: Database, uid: str, now: datetime | None = None, record: Recorder | None = None) -> Txn:
    """退卡: refund the paid balance (txn.amount_fen), close the card (and the member when it was
    their last active card)."""
    now = now or datetime.now(UTC)
    return _operate(db, [uid], lambda ledger: ledger.return_card(uid, now), record=record)


def preview_return(db: Database, uid: str, now: datetime | None = None) -> Txn:
    """What 退卡 would do now (the refund is txn.amount_fen: paid value, bonus forfeited as the
    rules say, points closed), decided by the ledger and written nowhere."""
    now = now or datetime.now(UTC)
    return _operate(db, [uid], lambda ledger: ledger.return_card(uid, now), commit=False)


def adjust(
    db: Database,
    uid: str,
    balance_delta_fen: int,
    points_delta: int,
    reason: str,
    now: datetime | None = None,
    record: Recorder | None = None,
) -> Txn:
    """A correction of the member's balance and/or points (after a conflict, a till error...):
    the reason is mandatory and kept in the transaction."""
    now = now or datetime.now(UTC)
    return _operate(
        db, [uid], lambda ledger: ledger.adjust(uid, balance_delta_fen, points_delta, reason, now), record=record
    )


def reset_pin_lock(db: Database, uid: str, now: datetime | None = None, record: Recorder | None = None) -> Txn:
    """PIN reset at the counter, once staff have checked who the member is: the failed-PIN count
    goes to zero and the lockout ends, as after a right PIN at a kiosk (the ledger's PIN_RESET
    kind; kiosks learn it from the snapshot). The PIN itself stays: choosing a new one needs a
    ledger kind that carries a new hash, which the ledger does not have yet."""
    now = now or datetime.now(UTC)

    def decide(ledger: Ledger) -> Txn:
        return ledger.reset_pin_lock(uid, now)

    return _operate(db, [uid], decide, record=record)


def issue_voucher(
    db: Database, uid: str, type_id: str, reason: str, now: datetime | None = None, record: Recorder | None = None
) -> Txn:
    """A voucher for the member of card `uid` (kiosk/ledger/vouchers.py); refused
    voucher_already_given when the member has one given for `reason` (a campaign run twice)."""
    now = now or datetime.now(UTC)

    def decide(ledger: Ledger) -> Txn:
        member_id = ledger.state.cards[uid].member_id
        if reason in ledger.state.accounts[member_id].voucher_reasons:
            raise Refused("voucher_already_given", reason)
        return vouchers.issue(ledger, member_id, type_id, now, reason)

    return _operate(db, [uid], decide, record=record, store=CHAIN)


def issue_vouchers(
    db: Database,
    uids: list[str],
    type_id: str,
    reason: str,
    now: datetime | None = None,
    record: Callable[[Database, list[Txn]], None] | None = None,
) -> list[Txn]:
    """`issue_voucher` for many cards' members in one SQL transaction (a campaign's batch: one
    commit for a few hundred vouchers, not one each). A member already given a voucher for
    `reason`, or refused by the ledger (closed), is passed over; the txns made are returned and
    `record` sees them inside the same transaction."""
    now = now or datetime.now(UTC)

    def decide_all(ledger: Ledger) -> list[Txn]:
        made = []
        for uid in uids:
            member_id = ledger.state.cards[uid].member_id
            if reason in ledger.state.accounts[member_id].voucher_reasons:
                continue
            try:
                txn = vouchers.issue(ledger, member_id, type_id, now, reason)
            except Refused as exc:
                if exc.code == "unknown_voucher_type":
                    raise
                continue
            ledger.apply(txn)
            made.append(txn)
        return made

    return _commit(db, uids, decide_all, record=record, store=CHAIN) if uids else []


def publish_rules(
    db: Database,
    text: str | bytes,
    source: str,
    stores: tuple[str, ...] = (),
    record: Callable[[Database, int, Rules], None] | None = None,
) -> Rules:
    """Validate a rules document and put it in force at HQ for the chain (no stores) or for the
    stores named; `kiosk hq serve` (or the command) publishes it retained. Its version must be
    above every version published anywhere (one counter for the chain and store topics)."""
    try:
        doc, rules = load_rules_json(text, source)
        for store in stores:
            check_id("store", store)
    except RulesError as exc:
        raise AdminError("bad_rules", str(exc)) from None
    except TopicError as exc:
        raise AdminError("bad_store", str(exc)) from None

    def work(db: Database) -> Rules:
        # kiosks start with the built-in rules: a document must be above them too or they ignore it
        highest = max(highest_version(db), default_rules().version)
        if highest >= rules.version:
            raise AdminError("rules_out_of_date", f"version {rules.version} is not above {highest}, the newest published")
        put_rules(db, doc, stores)
        for reward in rules.rewards:
            db.execute(
                "INSERT INTO stock (reward_id, units) VALUES (?, ?) ON CONFLICT (reward_id) DO NOTHING",
                (reward.id, reward.stock),
            )
        if record is not None:
            record(db, highest, rules)
        return rules

    return db.run(work)


def rules_version(db: Database) -> int:
    found = rules_in_force(db)
    return found[1].version if found else 0

