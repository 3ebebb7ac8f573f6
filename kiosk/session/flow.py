"""What one session (one card) has gathered so far: dropped whole when the session ends, so
nothing of one member's visit can leak into the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from kiosk.ledger.operations import MemberView
from kiosk.ledger.txn import Txn
from kiosk.payment.port import PaymentMethod, PaymentRequest, PaymentStatus
from kiosk.session.view import GiftGiven, Message, RewardOption, TopUpOption


@dataclass
class Flow:
    """Everything one session (one card) has gathered; dropped whole when it ends."""

    uid: str = ""
    card_present: bool = False
    card_counter: int | None = None  # the card's rising counter: read at the tap, then (Classic) as written
    purse_due: bool = False  # money moved while the card was lifted: write it when it is back
    member_view: MemberView | None = None
    gifts: list[GiftGiven] = field(default_factory=list)
    topup_options: tuple[TopUpOption, ...] = ()
    topup_chosen: TopUpOption | None = None
    payment: PaymentMethod | None = None
    request: PaymentRequest | None = None
    payment_started: datetime | None = None
    payment_status: PaymentStatus | None = None  # as last polled; the view never calls the adapter
    rewards: tuple[RewardOption, ...] = ()
    reward: RewardOption | None = None
    reward_points: int | None = None
    pin_digits: str = ""
    pin_purpose: str = ""
    first_pin: str = ""
    phone: str = ""
    name: str = ""
    birthday: date | None = None
    referral_code: str = ""
    privacy_accepted: bool = False
    signup_txn: Txn | None = None
    write_started: datetime | None = None
    message: Message | None = None
    survey_offered: bool = False  # the done screen offers a rating (after a top-up or redemption)
