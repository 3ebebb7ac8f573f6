"""The ledger's engagement operations: daily check-in with its streak, referral rewards, the
satisfaction survey. A part of `Ledger` (kiosk/ledger/operations.py), kept apart so each file
holds one idea; it uses the Ledger's lookups and txn builders."""

from __future__ import annotations

from datetime import datetime

from kiosk.ledger.model import referral_code_of
from kiosk.ledger.refusal import Refused
from kiosk.ledger.txn import Kind, Txn


class EngagementOps:
    """Mixed into Ledger."""

    def check_in(self, uid: str, now: datetime) -> Txn:
        """Once per local day; every streak_days-th day in a row adds the streak bonus."""
        card, _, account = self.lookup(uid)
        rule = self.rules.engagement
        if rule.checkin_points <= 0:
            raise Refused("check_in_disabled")
        today = self.rules.local_date(now)
        if account.last_checkin_on is not None and today <= account.last_checkin_on:
            raise Refused("already_checked_in")  # (a day before the last check-in: the clock went back)
        consecutive = account.last_checkin_on is not None and (today - account.last_checkin_on).days == 1
        streak = account.checkin_streak + 1 if consecutive else 1
        points = rule.checkin_points + (rule.streak_bonus_points if streak % rule.streak_days == 0 else 0)
        return self._txn(
            Kind.CHECK_IN,
            now,
            card.member_id,
            uid,
            account.balance_fen,
            account.points + points,
            account=account,
            local_day=today,
            points_expire_on=self._expiry(now),
        )

    def referral_reward(self, uid: str, now: datetime) -> Txn | None:
        """The next referral reward due for this (new) member's sign-up: theirs, then the
        referrer's; None when both are given. Each is its own txn, so a crash between them is
        safe: calling again gives the one still due."""
        card, member, account = self.lookup(uid)
        rule = self.rules.engagement
        if not member.referred_by:
            return None
        if not account.referee_rewarded and rule.referee_points > 0:
            return self._txn(
                Kind.REFERRAL_REWARD,
                now,
                member.member_id,
                uid,
                account.balance_fen,
                account.points + rule.referee_points,
                account=account,
                referee_id=member.member_id,
                points_expire_on=self._expiry(now),
            )
        referrer = self.state.accounts.get(member.referred_by)
        referrer_card = self._active_card_of(member.referred_by)
        if (
            account.referrer_rewarded
            or referrer is None
            or referrer_card is None
            or rule.referrer_points <= 0
        ):
            return None
        return self._txn(
            Kind.REFERRAL_REWARD,
            now,
            member.referred_by,
            referrer_card.uid,
            referrer.balance_fen,
            referrer.points + rule.referrer_points,
            account=referrer,
            referee_id=member.member_id,
            points_expire_on=self._expiry(now),
        )

    def survey(self, uid: str, rating: int, reasons: tuple[str, ...], now: datetime) -> Txn:
        card, _, account = self.lookup(uid)
        if not 1 <= rating <= 5:
            raise Refused("bad_rating")
        unknown = [r for r in reasons if r not in self.rules.engagement.survey_reasons]
        if unknown:
            raise Refused("bad_survey_reason", unknown[0][:30])
        return self._unchanged(
            Kind.SURVEY,
            now,
            card.member_id,
            uid,
            account,
            rating=rating,
            reasons=",".join(dict.fromkeys(reasons)),
        )

    def referral_code(self, member_id: str) -> str:
        return referral_code_of(member_id)

    def referrer_of(self, code: str) -> str:
        """The active member a referral code belongs to (Refused unknown_referral_code), so a
        sign-up screen can refuse a mistyped code before anything else is asked."""
        return self._referrer(code)
