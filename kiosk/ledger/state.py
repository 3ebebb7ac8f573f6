"""The ledger's state and the one function that changes it: `LedgerState.apply(txn)`.

State = an HQ snapshot plus every transaction applied since, in per-device order. Applying
is idempotent (a txn at or below its device's high-water mark is a no-op) and never consults
the rules, so replaying a journal rebuilds exactly the same state."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from kiosk.ledger.card_write import card_written_problem
from kiosk.ledger.evolve import evolve
from kiosk.ledger.kinds import FEE_SIGN_UP, SILENT, VISITS, carried_problem, stated_amounts_problem
from kiosk.ledger.model import (
    RECENT_ACTIVITIES,
    Account,
    Activity,
    Card,
    CardStatus,
    Member,
    MemberStatus,
    TopUpRecord,
    lots_added,
    lots_taken,
    referral_code_of,
)
from kiosk.ledger.orders import bonus_back, order_problem, with_order
from kiosk.ledger.points_cash import lots_after_cash
from kiosk.ledger.profile import profile_problem
from kiosk.ledger.rows import find
from kiosk.ledger.txn import Kind, Txn
from kiosk.ledger.voucher_state import use_conflict, use_problem, voucher_changes

TIER_WINDOW = timedelta(days=366)  # rolling 12 months, with a day's slack for leap years

# The questions that would otherwise scan a whole table; an on-disk replica answers them from an index.
MEMBER_INDEXES = {"phone": lambda m: m.phone, "referral": lambda m: referral_code_of(m.member_id)}
CARD_INDEXES = {"member_id": lambda c: c.member_id}
ACCOUNT_INDEXES = {"order": lambda a: tuple(o.key for o in a.orders)}  # the till orders it keeps


class SequenceGap(Exception):
    """A device's txn arrived before an earlier one; the caller must deliver in order."""

    def __init__(self, device_id: str, expected: int, got: int):
        self.device_id, self.expected, self.got = device_id, expected, got
        super().__init__(f"device {device_id}: expected seq {expected}, got {got}")


@dataclass(frozen=True)
class ApplyResult:
    applied: bool  # False: a duplicate, nothing changed
    conflict: str = ""  # e.g. the txn's "before" amounts differ from this state's (offline spending at two kiosks)
    refused: bool = False  # the txn contradicts itself: its seq is used up, nothing else changed


@dataclass
class LedgerState:
    """The rows are plain dicts, or `Rows` read on demand from the kiosk's replica on disk."""

    members: MutableMapping[str, Member] = field(default_factory=dict)
    cards: MutableMapping[str, Card] = field(default_factory=dict)
    accounts: MutableMapping[str, Account] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)  # reward id -> units left here
    last_seq: dict[str, int] = field(default_factory=dict)  # device id -> highest applied seq

    def next_seq(self, device_id: str) -> int:
        return self.last_seq.get(device_id, 0) + 1

    def cards_of(self, member_id: str) -> list[Card]:
        return find(self.cards, "member_id", member_id, CARD_INDEXES["member_id"])

    def members_with_phone(self, phone: str) -> list[Member]:
        return find(self.members, "phone", phone, MEMBER_INDEXES["phone"])

    def members_with_referral_code(self, code: str) -> list[Member]:
        return find(self.members, "referral", code, MEMBER_INDEXES["referral"])

    def accounts_with_order(self, key: str) -> list[Account]:
        """The accounts keeping a till order under `key` (one, unless two kiosks' tills share a name):
        asked for every till charge, refund and void, so never a scan of the chain's accounts."""
        return find(self.accounts, "order", key, ACCOUNT_INDEXES["order"])

    def card_account(self, uid: str) -> tuple[Card, Member, Account] | None:
        card = self.cards.get(uid)
        if card is None:
            return None
        return card, self.members[card.member_id], self.accounts[card.member_id]

    def apply(self, txn: Txn) -> ApplyResult:
        last = self.last_seq.get(txn.device_id, 0)
        if txn.seq <= last:
            return ApplyResult(applied=False)
        if txn.seq != last + 1:
            raise SequenceGap(txn.device_id, last + 1, txn.seq)
        account = self.accounts.get(txn.member_id)
        problem = (
            carried_problem(txn)
            or stated_amounts_problem(txn)
            or order_problem(account, txn)
            or use_problem(account, txn)
            or profile_problem(self.members.get(txn.member_id), account, txn)
            or card_written_problem(self.cards.get(txn.card_uid), txn)
        )
        conflict = f"not applied: {problem}" if problem else self._apply(txn)
        self.last_seq[txn.device_id] = txn.seq  # even when refused: the device's later txns must not wait on it
        return ApplyResult(applied=True, conflict=conflict, refused=bool(problem))

    def _apply(self, txn: Txn) -> str:
        if txn.kind is Kind.SIGN_UP:
            if txn.member_id in self.members or txn.card_uid in self.cards:
                return f"sign-up of {txn.member_id} with a card or member id already known"
            self.members[txn.member_id] = Member(
                member_id=txn.member_id,
                name=txn.name,
                phone=txn.phone,
                birthday=txn.birthday,
                joined_at=txn.at,
                pin_hash=txn.pin_hash,
                referred_by=txn.referrer_id,
                notes_consent=txn.notes_consent,
            )
            self.cards[txn.card_uid] = Card(
                txn.card_uid, txn.member_id, txn.card_seq or 1, awaiting_write=txn.awaiting_write
            )
            self.accounts[txn.member_id] = Account(txn.member_id, last_visit=txn.at, card_fee_due_fen=txn.amount_fen)
            return ""

        account = self.accounts.get(txn.member_id)
        if account is None:
            return f"{txn.kind} for unknown member {txn.member_id}"
        conflicts = [self._note_card_counter(txn), use_conflict(account, txn)]
        moves = txn.balance_delta_fen or txn.points_delta  # a record that moves nothing cannot clash
        if moves and (account.balance_fen, account.points) != (txn.balance_before_fen, txn.points_before):
            conflicts.append(
                f"{txn.kind} expected balance {txn.balance_before_fen} / points {txn.points_before}, "
                f"found {account.balance_fen} / {account.points}"
            )
        if txn.kind is Kind.CARD_FEE and txn.reason == FEE_SIGN_UP and not account.card_fee_due_fen:
            # two kiosks, out of touch, each took the sign-up fee: applied (the money was taken), flagged
            conflicts.append(f"card fee of {txn.amount_fen} fen settled again: it was already paid or waived")
        self.accounts[txn.member_id] = self._account_after(account, txn)
        self._cards_and_member_after(txn)
        return "; ".join(c for c in conflicts if c)

    def _note_card_counter(self, txn: Txn) -> str:
        """Keep the highest counter seen on the card. A lower one means the txn was made
        with an older copy of the card (a clone or a replayed image) at a kiosk that had not
        heard of the newer state yet: it stays applied, and the conflict says so."""
        card = self.cards.get(txn.card_uid)
        if not txn.card_counter or card is None:
            return ""
        if txn.card_counter < card.card_counter:
            return (
                f"card {card.uid} showed counter {txn.card_counter}, "
                f"below {card.card_counter} already seen: a copy of the card?"
            )
        self.cards[card.uid] = replace(card, card_counter=txn.card_counter)
        return ""

    def _account_after(self, account: Account, txn: Txn) -> Account:
        """The account after `txn`, built with one evolve (HQ applies thousands a second: a
        dataclasses.replace cost more than the arithmetic)."""
        a = account
        balance_delta = txn.balance_delta_fen
        points_delta = txn.points_delta
        lots = a.lots
        if txn.kind is Kind.POINTS_EXPIRY and txn.expire_before is not None:
            lots = tuple(lot for lot in lots if lot.expires_on >= txn.expire_before)
        elif txn.points_cash and txn.kind is Kind.SPEND:  # paid with the oldest, earned ones added after
            lots = lots_after_cash(lots, txn.points_cash, points_delta + txn.points_cash, txn.points_expire_on)
        elif txn.points_cash:  # a refund or void: earned points taken back, paid ones given back
            lots = lots_after_cash(lots, txn.points_cash - points_delta, txn.points_cash, txn.points_expire_on)
        elif points_delta > 0:
            lots = lots_added(lots, points_delta, txn.points_expire_on)
        elif points_delta < 0:
            lots = lots_taken(lots, -points_delta)

        bonus = a.bonus_fen
        if txn.kind is Kind.CARD_RETURN:
            lots = ()
            bonus = 0
        elif txn.kind in (Kind.REFUND, Kind.VOID):
            order = account.order(txn.payment_ref)
            bonus += bonus_back(order, txn.amount_fen) if order else 0
        elif balance_delta < 0:
            # Spending draws on paid money first; bonus credit goes last (and is forfeited on return).
            principal = a.balance_fen - a.bonus_fen
            bonus -= max(0, -balance_delta - max(principal, 0))
        bonus = max(0, bonus + txn.bonus_fen)
        bonus_drawn = max(0, account.bonus_fen - bonus) if txn.kind is Kind.SPEND else 0
        balance = a.balance_fen + balance_delta
        changes: dict = {"lots": lots, "balance_fen": balance, "bonus_fen": min(bonus, max(balance, 0))}
        changes.update(voucher_changes(a, txn))

        if txn.kind is Kind.TOP_UP:
            since = txn.at - TIER_WINDOW
            recent = tuple([t for t in a.recent_topups if t.at > since])
            changes["lifetime_topup_fen"] = a.lifetime_topup_fen + txn.amount_fen
            changes["recent_topups"] = recent + (TopUpRecord(txn.at, txn.amount_fen),)
        elif txn.kind is Kind.SPEND:
            changes["lifetime_spend_fen"] = a.lifetime_spend_fen + txn.amount_fen
        elif txn.kind in (Kind.REFUND, Kind.VOID):
            changes["lifetime_spend_fen"] = max(0, a.lifetime_spend_fen - txn.amount_fen)
        elif txn.kind is Kind.BIRTHDAY_GIFT:
            changes["birthday_gift_years"] = a.birthday_gift_years + (txn.gift_year,)
        elif txn.kind is Kind.NEW_MEMBER_GIFT:
            changes["new_member_gift_given"] = True
        elif txn.kind is Kind.PROFILE_UPDATE and points_delta > 0:
            changes["profile_rewarded"] = True
        elif txn.kind is Kind.CARD_FEE and txn.reason == FEE_SIGN_UP:
            changes["card_fee_due_fen"] = 0
        elif txn.kind is Kind.CHECK_IN and txn.local_day is not None:
            consecutive = a.last_checkin_on is not None and (txn.local_day - a.last_checkin_on).days == 1
            changes["last_checkin_on"] = txn.local_day
            changes["checkin_streak"] = a.checkin_streak + 1 if consecutive else 1
        if txn.kind in VISITS:
            changes["last_visit"] = txn.at
        if txn.kind not in SILENT:
            line = Activity(txn.at, str(txn.kind), balance_delta, points_delta, txn.reward_id)
            changes["recent"] = ((line,) + a.recent)[:RECENT_ACTIVITIES]
        return with_order(account, evolve(a, **changes), txn, bonus_drawn)  # only a charge, refund or void changes orders

    def _cards_and_member_after(self, txn: Txn) -> None:
        member = self.members[txn.member_id]
        card = self.cards.get(txn.card_uid)
        if txn.kind is Kind.REDEMPTION and txn.reward_id in self.stock:
            self.stock[txn.reward_id] = max(0, self.stock[txn.reward_id] - txn.quantity)
        elif txn.kind is Kind.CARD_BLOCKED and card:
            self.cards[card.uid] = replace(card, status=CardStatus.BLOCKED)
        elif txn.kind is Kind.CARD_UNBLOCKED and card and card.status is CardStatus.BLOCKED:
            self.cards[card.uid] = replace(card, status=CardStatus.ACTIVE)
        elif txn.kind in (Kind.CARD_REPLACEMENT, Kind.CARD_EXCHANGE):
            if card:
                self.cards[card.uid] = replace(card, status=CardStatus.REPLACED)
            self.cards[txn.new_card_uid] = Card(
                txn.new_card_uid, member.member_id, txn.card_seq, awaiting_write=txn.awaiting_write
            )
        elif txn.kind is Kind.CARD_WRITTEN and card:
            self.cards[card.uid] = replace(card, awaiting_write=False)
        elif txn.kind is Kind.CARD_RETURN:
            if card:
                self.cards[card.uid] = replace(card, status=CardStatus.RETURNED)
            still_active = any(c.status is CardStatus.ACTIVE for c in self.cards_of(member.member_id))
            if not still_active:
                self.members[member.member_id] = replace(member, status=MemberStatus.CLOSED)
        elif txn.kind is Kind.PIN_FAILED:
            self.members[member.member_id] = replace(
                member, pin_failures=member.pin_failures + 1, pin_locked_until=txn.pin_locked_until
            )
        elif txn.kind is Kind.REFERRAL_REWARD and txn.referee_id in self.accounts:
            referee = self.accounts[txn.referee_id]
            flag = "referee_rewarded" if txn.member_id == txn.referee_id else "referrer_rewarded"
            self.accounts[txn.referee_id] = replace(referee, **{flag: True})
        elif txn.kind is Kind.PROFILE_UPDATE:
            self.members[member.member_id] = replace(
                member,
                name=txn.name or member.name,
                phone=txn.phone or member.phone,
                birthday=txn.birthday or member.birthday,
                birthday_edited=member.birthday_edited or txn.birthday is not None,
            )
        elif txn.kind is Kind.PIN_RESET:
            self.members[member.member_id] = replace(member, pin_failures=0, pin_locked_until=None)
        elif txn.kind is Kind.PIN_CHANGED:
            self.members[member.member_id] = replace(member, pin_hash=txn.pin_hash, pin_failures=0, pin_locked_until=None)

    def copy(self) -> LedgerState:
        return LedgerState(
            dict(self.members), dict(self.cards), dict(self.accounts), dict(self.stock), dict(self.last_seq)
        )


def is_locked(member: Member, now: datetime, longest: timedelta | None = None) -> bool:
    """Is the member's PIN locked at `now`? A lock with more than `longest` (the policy's whole
    lockout) still to run was set by a clock that has since gone back (NTP stepped it, or it was
    set before a boot at 1970 and the clock has not caught up): it no longer counts, or a member
    would be locked out of their money for a day, or for decades. The failure count stays, so
    the next wrong PIN locks again."""
    until = member.pin_locked_until
    if until is None or now >= until:
        return False
    return longest is None or until - now <= longest
