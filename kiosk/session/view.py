"""What the screens read: one frozen SessionView per change. No live objects, no secrets.

Texts are codes (translated by the UI) or LocalText pairs from the rules; money is fen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from kiosk.ledger.model import Activity
from kiosk.ledger.rules import LocalText


@dataclass(frozen=True)
class Message:
    """A stable code the UI translates, with named values to fill in (fen, points, dates...)."""

    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GiftGiven:
    kind: str  # "new_member_gift" | "birthday_gift"
    points: int
    balance_fen: int


@dataclass(frozen=True)
class MemberSummary:
    member_id: str
    name: str
    phone_masked: str  # 138****5678
    balance_fen: int
    points: int
    points_expiring: int  # by the end of this month
    tier_id: str
    tier_name: LocalText
    points_multiplier_pct: int  # tier benefits
    discount_pct: int
    next_tier_name: LocalText | None
    to_next_tier_fen: int
    tier_progress_pct: int  # 0..100 towards the next tier (100 at the top tier)
    recent: tuple[Activity, ...]  # newest first, at most 5
    birthday_greeting: bool  # within the birthday window this year
    gifts: tuple[GiftGiven, ...]  # given on this visit
    referral_code: str = ""  # give it to a friend who signs up (shown as a QR code too)
    check_in_offered: bool = False  # check-in is on and not done today
    checkin_streak: int = 0  # consecutive days checked in, up to the last check-in
    next_reward_name: LocalText | None = None  # the cheapest reward the member cannot afford yet
    to_next_reward_points: int = 0  # points still missing for it (0 when there is none)


@dataclass(frozen=True)
class TopUpOption:
    amount_fen: int
    bonus_fen: int
    points: int  # points this top-up would earn at the member's tier
    fee_fen: int = 0  # the card fee paid with it (the sign-up fee still due), beside the amount
    fee_waived: bool = False  # a fee was due and this top-up waives it


@dataclass(frozen=True)
class PaymentMethodView:
    name: str  # staff_cash | cash_acceptor | hq
    unavailable_reason: str  # '' when usable


@dataclass(frozen=True)
class TopUpView:
    presets: tuple[TopUpOption, ...]
    min_fen: int
    max_fen: int
    chosen: TopUpOption | None
    methods: tuple[PaymentMethodView, ...]


@dataclass(frozen=True)
class PaymentView:
    method: str
    requested_fen: int
    received_fen: int
    state: str  # pending | confirmed | failed
    waiting_for_staff_card: bool


@dataclass(frozen=True)
class RewardOption:
    reward_id: str
    name: LocalText
    points_cost: int  # per unit; minimum for a flexible reward
    stock: int
    flexible_min: int = 0  # flexible rewards: the points range and step the member may choose
    flexible_max: int = 0
    flexible_step: int = 0
    fen_per_point: int = 0
    image: str | None = None  # the rules' picture file name; the UI draws its default when None


@dataclass(frozen=True)
class RedeemView:
    rewards: tuple[RewardOption, ...]  # affordable, in stock, valid now
    chosen: RewardOption | None
    points_to_use: int  # what the confirmed choice costs
    pin_required: bool


@dataclass(frozen=True)
class PinView:
    purpose: str  # "redeem" | "signup_first" | "signup_repeat"
    length: int  # digits the PIN has
    entered: int  # digits typed so far (the digits themselves are never exposed)
    attempts_left: int  # for "redeem"
    locked_until: datetime | None
    locked_seconds_left: int


@dataclass(frozen=True)
class SignupView:
    phone: str
    name: str
    birthday: date | None
    privacy_accepted: bool
    referral_code: str = ""


@dataclass(frozen=True)
class ProfileView:
    """The member's own details as the profile screen shows them, behind the PIN."""

    name: str
    phone_masked: str  # the number is typed again to change it, never shown whole
    birthday: date | None
    birthday_editable: bool  # the birthday may be changed at the kiosk once
    points_offered: int  # what completing the profile would earn now (0: nothing)


@dataclass(frozen=True)
class CardFeeView:
    """The card fee and its waiver, said on the sign-up offer before the member commits to anything."""

    fee_fen: int  # owed today (0: free, e.g. a campaign)
    rules_fee_fen: int  # the rules' card fee
    waiver_topup_fen: int  # a first top-up of at least this waives it (0: no waiver)
    campaign: str = ""  # the free-card campaign covering today


@dataclass(frozen=True)
class SurveyView:
    """The optional rating offered on the done screen after a top-up or a redemption."""

    reasons: tuple[str, ...]  # reason codes from the rules (translated by the UI)


@dataclass(frozen=True)
class StaffView:
    device_id: str
    reader: str  # "ok" or the last reader problem
    hardware: str  # "ok" / "disabled: ..." / problem
    outbox_depth: int
    last_hq_contact: str  # ISO time HQ last acknowledged, or "" if never / no sync
    hq_online: bool
    last_errors: tuple[str, ...]
    rules_version: int
    replica_chunks: tuple[int, int] = (0, 0)  # a store snapshot being loaded: (stored, of); (0, 0) none
    replica_loaded: bool = False  # the member replica came from HQ's store snapshot (protocol v2)


@dataclass(frozen=True)
class StaffNotesView:
    """A member's notes on the staff menu (never on a member's screen): empty until the member taps."""

    member_id: str  # "" while waiting for the member's card
    member_name: str
    notes: tuple  # NoteLine values (kiosk/sync/messages/notes.py), newest first


@dataclass(frozen=True)
class ChargeView:
    """Paying with the card: what the till asked, the discount, what the card pays."""

    total_fen: int
    discount_fen: int
    amount_fen: int  # taken from stored value (the total until the card is read)
    balance_fen: int | None  # the member's balance, once the card is read
    balance_after_fen: int | None
    points_earned: int
    pin_required: bool
    staff: bool  # opened from the staff menu
    discount_asked: bool = False  # the till asked the kiosk to take the member's discount off


@dataclass(frozen=True)
class SessionView:
    state: str  # a SessionState (kiosk/session/states.py; a StrEnum, equal to its name): idle, home, ...
    seq: int  # increases with every published view; the UI may skip stale ones
    seconds_left: int | None  # inactivity countdown; None when idle
    card_uid: str  # the card this session is about ('' when idle)
    message: Message | None  # notice/done/blocked/not_recognised text, or an inline hint
    member: MemberSummary | None = None
    topup: TopUpView | None = None
    payment: PaymentView | None = None
    redeem: RedeemView | None = None
    pin: PinView | None = None
    signup: SignupView | None = None
    staff: StaffView | None = None
    survey: SurveyView | None = None  # in `done` after a top-up or redemption, until rated or left
    charge: ChargeView | None = None  # paying with the card (till or staff menu)
    profile: ProfileView | None = None  # the member's own details (profile_edit)
    staff_notes: StaffNotesView | None = None  # staff_notes only
    card_fee: CardFeeView | None = None  # sign-up: the card fee and its waiver
