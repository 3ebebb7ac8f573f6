"""Card fees, their waivers and the staff member credited with a sale: a part of `Ledger`
(kiosk/ledger/operations.py), kept apart so each file holds one idea.

The sign-up fee is owed from the SIGN_UP (its amount_fen, unless a free-card campaign covers the
day) and settled by a CARD_FEE out of the member's first payment: a payment of at least the
rules' waiver_topup_fen is all top-up and the fee is waived; a smaller one pays the fee first and
tops up the rest. Replacement (补卡) and exchange (换卡) fees are CARD_FEEs charged at the counter.
A CARD_FEE moves no balance (its kind's Money.NONE): a fee is revenue, never stored value, so a
card return (退卡), which refunds at most the balance, can never give it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiosk.ledger.kinds import FEE_EXCHANGE, FEE_REPLACEMENT, FEE_SIGN_UP
from kiosk.ledger.model import Account
from kiosk.ledger.refusal import Refused
from kiosk.ledger.txn import Kind, Txn

WAIVED_BY_TOPUP = "topup"
CAMPAIGN = "campaign:"  # + the campaign's id


@dataclass(frozen=True)
class FeeSplit:
    """How a payment made while the sign-up fee is due divides between the fee and the top-up."""

    fee_fen: int
    waiver: str  # "" (charged or none due), "topup"
    topup_fen: int


class FeeOps:
    """Mixed into Ledger."""

    def signup_fee(self, now: datetime) -> tuple[int, str]:
        """The card fee a sign-up now owes, and why it is 0 when a campaign frees the card."""
        fees = self.rules.fees
        campaign = fees.campaign_on(self.rules.local_date(now))
        if campaign is not None:
            return 0, CAMPAIGN + campaign.id
        return fees.card_fee_fen, ""

    def fee_split(self, account: Account, paid_fen: int) -> FeeSplit:
        """The fee and the top-up in a payment of `paid_fen` (Refused when it does not cover the fee)."""
        due = account.card_fee_due_fen
        if not due:
            return FeeSplit(0, "", paid_fen)
        waiver_at = self.rules.fees.waiver_topup_fen
        if waiver_at and paid_fen >= waiver_at:
            return FeeSplit(0, WAIVED_BY_TOPUP, paid_fen)
        if paid_fen < due:
            raise Refused("fee_not_covered", f"{due} fen")
        return FeeSplit(due, "", paid_fen - due)

    def settle_card_fee(self, uid: str, paid_fen: int, payment_ref: str, now: datetime, staff_id: str = "") -> tuple[Txn, int]:
        """The CARD_FEE that settles the sign-up fee out of a payment, and the fen left to top up."""
        card, _, account = self.lookup(uid)
        if not account.card_fee_due_fen:
            raise Refused("no_fee_due")
        split = self.fee_split(account, paid_fen)
        txn = self._unchanged(
            Kind.CARD_FEE,
            now,
            card.member_id,
            uid,
            account,
            amount_fen=split.fee_fen,
            payment_ref=payment_ref,
            reason=FEE_SIGN_UP,
            waiver=split.waiver,
            staff_id=staff_id,
        )
        return txn, split.topup_fen

    def counter_fee(self, uid: str, purpose: str, payment_ref: str, now: datetime, staff_id: str = "") -> Txn | None:
        """The replacement or exchange fee the rules set, on the member's new card (None: no fee)."""
        fees = self.rules.fees
        amount = {FEE_REPLACEMENT: fees.replacement_fee_fen, FEE_EXCHANGE: fees.exchange_fee_fen}.get(purpose)
        if amount is None:
            raise ValueError(f"no counter fee for {purpose!r}")
        if not amount:
            return None
        card, _, account = self.lookup(uid)
        return self._unchanged(
            Kind.CARD_FEE,
            now,
            card.member_id,
            uid,
            account,
            amount_fen=amount,
            payment_ref=payment_ref,
            reason=purpose,
            staff_id=staff_id,
        )

    def _signup_sale(self, now: datetime, staff_id: str) -> dict:
        """The SIGN_UP's fee due, its waiver and the seller's reward (每出售一张会员卡)."""
        fee, waiver = self.signup_fee(now)
        reward = self.rules.staff_rewards.per_card_fen if staff_id else 0
        return {"amount_fen": fee, "waiver": waiver, "staff_id": staff_id, "staff_reward_fen": reward}

    def _topup_sale(self, amount_fen: int, staff_id: str) -> dict:
        """The TOP_UP's seller and reward (一次性储值 steps)."""
        reward = self.rules.staff_rewards.for_topup(amount_fen) if staff_id else 0
        return {"staff_id": staff_id, "staff_reward_fen": reward}
