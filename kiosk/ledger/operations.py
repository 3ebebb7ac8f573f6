"""What a member (or HQ, or staff) may do, decided against the state and the rules.

Each operation checks everything, then returns the Txn it would make, without changing state.
The caller commits the Txn durably and only then applies it (`Ledger.apply`), so a refused or
crashed operation changes nothing. Refusals carry a stable code the screens translate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from kiosk.ledger.card_ops import CardOps
from kiosk.ledger.engagement import EngagementOps
from kiosk.ledger.fees import FeeOps
from kiosk.ledger.model import (  # noqa: F401 - referral_code_of re-exported
    Account,
    Card,
    CardStatus,
    Member,
    MemberStatus,
    points_expiry,
    referral_code_of,
)
from kiosk.ledger.pin import DEFAULT_PARAMS, PinHashParams, hash_pin, verify_pin
from kiosk.ledger.profile import NAME_MAX, OLDEST_BIRTHDAY, PHONE, ProfileOps
from kiosk.ledger.refusal import Refused
from kiosk.ledger.rules import MAX_FEN, Reward, Rules, Tier
from kiosk.ledger.state import TIER_WINDOW, ApplyResult, LedgerState, is_locked
from kiosk.ledger.txn import Kind, Txn, check_txn, txn_id_for


@dataclass(frozen=True)
class MemberView:
    """What the member home screen shows, computed once per tap."""

    card: Card
    member: Member
    account: Account
    tier: Tier
    next_tier: Tier | None
    topup_12m_fen: int
    to_next_tier_fen: int
    points_expiring: int  # points that expire by the end of this month
    birthday_gift_due: bool
    new_member_gift_due: bool


class Ledger(EngagementOps, CardOps, FeeOps, ProfileOps):
    """The ledger of one device: its state, the rules in force, and the device's identity."""

    def __init__(
        self,
        state: LedgerState,
        rules: Rules,
        device_id: str,
        pepper: bytes = b"",
        pin_params: PinHashParams = DEFAULT_PARAMS,
    ):
        self.state, self.device_id = state, device_id
        self.pepper, self.pin_params = pepper, pin_params
        self.use_rules(rules)

    def use_rules(self, rules: Rules) -> None:
        """Put new rules in force; a reward new to this kiosk starts with the catalogue's stock."""
        self.rules = rules
        for reward in rules.rewards:
            self.state.stock.setdefault(reward.id, reward.stock)

    # -- reading -----------------------------------------------------------------------------

    def lookup(self, uid: str) -> tuple[Card, Member, Account]:
        """The card's member and account, refusing cards that may not be used."""
        found = self.state.card_account(uid)
        if found is None:
            raise Refused("unknown_card")
        card, member, account = found
        if card.status is not CardStatus.ACTIVE:
            raise Refused(f"card_{card.status}")
        return card, member, account

    def tier_of(self, account: Account, now: datetime) -> Tier:
        return self.rules.tier_for_topups(account.topups_since(now - TIER_WINDOW))

    def view(self, uid: str, now: datetime) -> MemberView:
        card, member, account = self.lookup(uid)
        topup_12m = account.topups_since(now - TIER_WINDOW)
        tier = self.rules.tier_for_topups(topup_12m)
        nxt = self.rules.next_tier(tier)
        today = self.rules.local_date(now)
        month_end = points_expiry(today, 1)
        return MemberView(
            card=card,
            member=member,
            account=account,
            tier=tier,
            next_tier=nxt,
            topup_12m_fen=topup_12m,
            to_next_tier_fen=max(0, nxt.min_topup_12m_fen - topup_12m) if nxt else 0,
            points_expiring=sum(lot.points for lot in account.lots if lot.expires_on <= month_end),
            birthday_gift_due=self._birthday_gift_year(member, account, today) is not None,
            new_member_gift_due=self._new_member_gift_due(account),
        )

    def affordable_rewards(self, uid: str, now: datetime) -> list[Reward]:
        _, _, account = self.lookup(uid)
        return [
            r
            for r in self.rules.rewards
            if r.is_valid_at(now) and self.state.stock.get(r.id, 0) > 0 and r.points_cost <= account.points
        ]

    def pin_required_for_spend(self, amount_fen: int) -> bool:
        return amount_fen > self.rules.pin.spend_threshold_fen

    # -- operations: each returns the Txn to commit ------------------------------------------

    def sign_up(
        self,
        uid: str,
        card_seq: int,
        phone: str,
        pin: str,
        now: datetime,
        name: str = "",
        birthday: date | None = None,
        salt: bytes | None = None,
        referral_code: str = "",
        staff_id: str = "",
        notes_consent: bool = False,
        awaiting_write: bool = False,
    ) -> Txn:
        """A new member on card `uid`. `awaiting_write`: the card is not written here (HQ's counter
        has no card writer); a kiosk writes it later, behind the member's PIN."""
        if uid in self.state.cards:
            raise Refused("card_in_use")
        if not PHONE.match(phone):
            raise Refused("bad_phone")
        if any(m.status is MemberStatus.ACTIVE for m in self.state.members_with_phone(phone)):
            raise Refused("phone_in_use")
        self._check_pin_format(pin)
        if len(name) > NAME_MAX:
            raise Refused("bad_name")
        if birthday is not None and not OLDEST_BIRTHDAY <= birthday <= self.rules.local_date(now):
            raise Refused("bad_birthday")
        referrer_id = self._referrer(referral_code) if referral_code else ""
        seq = self.state.next_seq(self.device_id)
        member_id = f"M-{self.device_id}-{seq}"
        return self._txn(
            Kind.SIGN_UP,
            now,
            member_id,
            uid,
            0,
            0,
            seq=seq,
            card_seq=card_seq,
            name=name.strip(),
            phone=phone,
            birthday=birthday,
            pin_hash=hash_pin(pin, self.pepper, self.pin_params, salt),
            referrer_id=referrer_id,
            notes_consent=notes_consent,
            awaiting_write=awaiting_write,
            **self._signup_sale(now, staff_id),
        )

    def new_member_gift(self, uid: str, now: datetime) -> Txn:
        card, _, account = self.lookup(uid)
        if not self._new_member_gift_due(account):
            raise Refused("gift_already_given")
        gift = self.rules.new_member
        return self._gift(Kind.NEW_MEMBER_GIFT, card, account, gift.points, gift.balance_fen, now)

    def birthday_gift(self, uid: str, now: datetime) -> Txn:
        card, member, account = self.lookup(uid)
        year = self._birthday_gift_year(member, account, self.rules.local_date(now))
        if year is None:
            raise Refused("no_birthday_gift_due")
        gift = self.rules.birthday.gift
        return self._gift(
            Kind.BIRTHDAY_GIFT, card, account, gift.points, gift.balance_fen, now, gift_year=year
        )

    def top_up(self, uid: str, amount_fen: int, payment_ref: str, now: datetime, staff_id: str = "") -> Txn:
        card, _, account = self.lookup(uid)
        rule = self.rules.topup
        if not rule.min_fen <= amount_fen <= rule.max_fen:
            raise Refused("amount_out_of_range", f"{rule.min_fen}..{rule.max_fen} fen")
        if not payment_ref or len(payment_ref) > 64:
            raise Refused("payment_ref_missing")
        bonus = rule.bonus_for(amount_fen)
        if account.balance_fen + amount_fen + bonus > MAX_FEN:
            raise Refused("balance_limit")
        earned = self._points_for(amount_fen, account, now) if self.rules.points.earn_on_topup else 0
        return self._txn(
            Kind.TOP_UP,
            now,
            card.member_id,
            uid,
            account.balance_fen + amount_fen + bonus,
            account.points + earned,
            account=account,
            amount_fen=amount_fen,
            bonus_fen=bonus,
            payment_ref=payment_ref,
            points_expire_on=self._expiry(now) if earned else None,
            **self._topup_sale(amount_fen, staff_id),
        )

    def spend(
        self,
        uid: str,
        amount_fen: int,
        now: datetime,
        pin_verified: bool = False,
        offline_for: timedelta | None = None,
        offline_spent_fen: int = 0,
    ) -> Txn:
        """Pay from stored value. `offline_for`: how long HQ has been unreachable (None: online);
        `offline_spent_fen`: what this card already spent here since HQ last confirmed."""
        card, member, account = self.lookup(uid)
        if amount_fen <= 0 or amount_fen > MAX_FEN:
            raise Refused("amount_out_of_range")
        if amount_fen > account.balance_fen:
            raise Refused("insufficient_balance")
        if self.pin_required_for_spend(amount_fen):
            self._need_pin(member, pin_verified, now)
        policy = self.rules.offline
        if offline_for is not None and offline_for > timedelta(hours=policy.after_hours):
            if offline_spent_fen + amount_fen > policy.max_spend_fen_per_card:
                raise Refused("offline_limit", f"{policy.max_spend_fen_per_card} fen per card offline")
        earned = self._points_for(amount_fen, account, now) if self.rules.points.earn_on_spend else 0
        return self._txn(
            Kind.SPEND,
            now,
            card.member_id,
            uid,
            account.balance_fen - amount_fen,
            account.points + earned,
            account=account,
            amount_fen=amount_fen,
            points_expire_on=self._expiry(now) if earned else None,
        )

    def redeem(
        self,
        uid: str,
        reward_id: str,
        now: datetime,
        quantity: int = 1,
        points: int | None = None,
        pin_verified: bool = False,
    ) -> Txn:
        """Redeem a reward. For a flexible reward `points` is the member's choice."""
        card, member, account = self.lookup(uid)
        reward = self.rules.reward(reward_id)
        if reward is None or not reward.is_valid_at(now):
            raise Refused("reward_not_available")
        if reward.flexible:
            fx = reward.flexible
            quantity = 1
            if (
                points is None
                or not fx.min_points <= points <= fx.max_points
                or (points - fx.min_points) % fx.step_points
            ):
                raise Refused("bad_points_choice", f"{fx.min_points}..{fx.max_points} step {fx.step_points}")
            cost, value = points, points * fx.fen_per_point
        else:
            if not 1 <= quantity <= 100:
                raise Refused("bad_quantity")
            cost, value = reward.points_cost * quantity, 0
        if self.state.stock.get(reward_id, 0) < quantity:
            raise Refused("out_of_stock")
        if cost > account.points:
            raise Refused("insufficient_points")
        if self.rules.pin.required_for_redemption:
            self._need_pin(member, pin_verified, now)
        return self._txn(
            Kind.REDEMPTION,
            now,
            card.member_id,
            uid,
            account.balance_fen,
            account.points - cost,
            account=account,
            reward_id=reward_id,
            quantity=quantity,
            amount_fen=value,
        )

    def expire_points(self, uid: str, now: datetime) -> Txn | None:
        """Points whose expiry day has passed; None when there are none."""
        card = self.state.cards.get(uid)
        if card is None:
            raise Refused("unknown_card")
        account = self.state.accounts[card.member_id]
        today = self.rules.local_date(now)
        expired = account.expired_points(today)
        if not expired:
            return None
        return self._txn(
            Kind.POINTS_EXPIRY,
            now,
            card.member_id,
            uid,
            account.balance_fen,
            account.points - expired,
            account=account,
            expire_before=today,
        )

    def check_pin(self, uid: str, pin: str, now: datetime) -> tuple[bool, Txn | None]:
        """(ok, txn to commit): failures are counted durably so a reboot does not reset them."""
        card, member, account = self.lookup(uid)
        if self.pin_locked(member, now):
            raise Refused("pin_locked", member.pin_locked_until.isoformat())
        if verify_pin(pin, self.pepper, member.pin_hash):
            if member.pin_failures == 0:
                return True, None
            return True, self._unchanged(Kind.PIN_RESET, now, card.member_id, uid, account)
        policy = self.rules.pin
        locked_until = None
        if member.pin_failures + 1 >= policy.max_attempts:
            locked_until = now + timedelta(minutes=policy.lockout_minutes)
        return False, self._unchanged(
            Kind.PIN_FAILED,
            now,
            card.member_id,
            uid,
            account,
            pin_locked_until=locked_until,
        )

    def pin_locked(self, member: Member, now: datetime) -> bool:
        """Locked, counting a lock as over when the clock has gone back past its start."""
        return is_locked(member, now, timedelta(minutes=self.rules.pin.lockout_minutes))

    def pin_attempts_left(self, member: Member) -> int:
        return max(0, self.rules.pin.max_attempts - member.pin_failures)

    def apply(self, txn: Txn) -> ApplyResult:
        return self.state.apply(txn)

    # -- helpers -----------------------------------------------------------------------------

    def _any_card(self, uid: str) -> Card:
        card = self.state.cards.get(uid)
        if card is None:
            raise Refused("unknown_card")
        return card

    def _referrer(self, code: str) -> str:
        code = code.strip().upper()
        for member in self.state.members_with_referral_code(code):
            if member.status is MemberStatus.ACTIVE and referral_code_of(member.member_id) == code:
                return member.member_id
        raise Refused("unknown_referral_code")

    def _active_card_of(self, member_id: str) -> Card | None:
        return next((c for c in self.state.cards_of(member_id) if c.status is CardStatus.ACTIVE), None)

    def _need_pin(self, member: Member, pin_verified: bool, now: datetime) -> None:
        if self.pin_locked(member, now):
            raise Refused("pin_locked")
        if not pin_verified:
            raise Refused("pin_required")

    def _check_pin_format(self, pin: str) -> None:
        if len(pin) != self.rules.pin.length or not pin.isdigit() or not pin.isascii():
            raise Refused("bad_pin_format", f"{self.rules.pin.length} digits")
        if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
            raise Refused("pin_too_simple")

    def _new_member_gift_due(self, account: Account) -> bool:
        gift = self.rules.new_member
        return not account.new_member_gift_given and (gift.points > 0 or gift.balance_fen > 0)

    def _birthday_gift_year(self, member: Member, account: Account, today: date) -> int | None:
        if member.birthday is None:
            return None
        window = timedelta(days=self.rules.birthday.window_days)
        for year in (today.year - 1, today.year, today.year + 1):
            day = _birthday_in(member.birthday, year)
            if day - window <= today <= day + window and year > max(account.birthday_gift_years, default=0):
                return year  # (a year before one already given: the clock went back)
        return None

    def _points_for(self, amount_fen: int, account: Account, now: datetime) -> int:
        tier = self.tier_of(account, now)
        return amount_fen // self.rules.points.fen_per_point * tier.points_multiplier_pct // 100

    def _expiry(self, now: datetime) -> date:
        return points_expiry(self.rules.local_date(now), self.rules.points.expiry_months)

    def _unchanged(
        self, kind: Kind, now: datetime, member_id: str, uid: str, account: Account, **details
    ) -> Txn:
        """A txn that records an event without moving money or points."""
        return self._txn(
            kind, now, member_id, uid, account.balance_fen, account.points, account=account, **details
        )

    def _gift(
        self, kind: Kind, card: Card, account: Account, points: int, balance_fen: int, now: datetime, **extra
    ) -> Txn:
        return self._txn(
            kind,
            now,
            card.member_id,
            card.uid,
            account.balance_fen + balance_fen,
            account.points + points,
            account=account,
            bonus_fen=balance_fen,
            points_expire_on=self._expiry(now) if points else None,
            **extra,
        )

    def _txn(
        self,
        kind: Kind,
        now: datetime,
        member_id: str,
        uid: str,
        balance_after: int,
        points_after: int,
        account: Account | None = None,
        seq: int | None = None,
        **details,
    ) -> Txn:
        if now.tzinfo is None:
            raise ValueError("times are UTC and timezone-aware")
        seq = seq or self.state.next_seq(self.device_id)
        txn = Txn(
            txn_id=txn_id_for(self.device_id, seq),
            device_id=self.device_id,
            seq=seq,
            at=now.astimezone(UTC),
            kind=kind,
            member_id=member_id,
            card_uid=uid,
            balance_before_fen=account.balance_fen if account else 0,
            balance_after_fen=balance_after,
            points_before=account.points if account else 0,
            points_after=points_after,
            rules_version=self.rules.version,
            **details,
        )
        check_txn(txn)
        return txn


def _birthday_in(birthday: date, year: int) -> date:
    try:
        return birthday.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)
