"""HQ's own operations: register a member, block (挂失), replace (补卡), exchange (换卡), return (退卡) a card,
publish rules. Each is decided by the same kiosk.ledger.operations.Ledger a kiosk uses, as
HQ's own device ("hq"), and committed like a kiosk event: stored and applied in one SQL
transaction, so HQ's events sit in the same per-device history as every kiosk's. What kiosks
must learn (blocked list, snapshots, rules) is queued in SQL and published after the commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from kiosk.hq.db import Database
from kiosk.hq.ledger import HQ_DEVICE, ApplyReport, apply_txns, lock_progress, now_text, store_rows
from kiosk.hq.publisher import request_snapshots, rules_in_force
from kiosk.hq.rows import load_rows
from kiosk.hq.rules_scopes import highest_version, put_rules
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
    found = rules_in_force(db)
    return found[1] if found else default_rules()


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
) -> Txn:
    """Lock HQ's sequence, load what the cards touch, decide, store and apply: all or nothing.
    commit=False only decides (a preview: the txn the operation would make), writing nothing.
    `then` decides a second txn after the first (a counter fee): both commit together or neither."""
    rules = current_rules(db)

    def work(db: Database) -> Txn:
        applied = lock_progress(db, HQ_DEVICE)
        members = [r[0] for r in db.all(f"SELECT member_id FROM cards WHERE uid IN {db.in_list(uids)}", uids)]
        loaded = load_rows(db, members, uids, phone=phone)
        loaded.state.last_seq[HQ_DEVICE] = applied
        ledger = Ledger(loaded.state.copy(), rules, HQ_DEVICE, pepper=pepper, pin_params=pin_params)
        try:
            txn = decide(ledger)
        except Refused as exc:
            raise AdminError(exc.code, exc.detail) from None
        if not commit:
            raise _Decided(txn)
        txns = [txn]
        if then is not None:
            ledger.apply(txn)
            try:
                txns += [t for t in (then(ledger),) if t is not None]
            except Refused as exc:
                raise AdminError(exc.code, exc.detail) from None
        store_rows(db, txns, now_text())
        apply_txns(db, txns, HQ_DEVICE, applied, ApplyReport())
        if snapshots:
            request_snapshots(db)
        if record is not None:
            record(db, txn)
        return txn

    try:
        return db.run(work)
    except _Decided as decided:  # a preview: rolled back, nothing written (not even a progress row)
        return decided.txn


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
    """Sign a member up at the counter: the card is sold here (fee due, the seller's reward)."""
    now = now or datetime.now(UTC)
    return _operate(
        db,
        [uid],
        lambda ledger: ledger.sign_up(uid, card_seq, phone, pin, now, name=name, birthday=birthday, staff_id=staff_id),
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

