"""Profile completion (鼓励会员自助完善信息): the member adds or corrects their name, phone and
birthday at the kiosk behind their PIN. A part of `Ledger` (kiosk/ledger/operations.py).

The birthday may be changed at the kiosk once (a birthday gift depends on it; a member who
could move it at will could collect one every few weeks); the rules may give points once, when
the member's own change completes the profile (name, phone and birthday all filled in). `profile_problem` is the
same two rules as the state checks them, so a forged or doubled PROFILE_UPDATE from any device
changes nothing at the kiosk or at HQ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from kiosk.ledger.model import Account, Member, MemberStatus
from kiosk.ledger.refusal import Refused
from kiosk.ledger.txn import Kind, Txn

PHONE = re.compile(r"^\+?[0-9]{6,15}\Z")
NAME_MAX = 40
OLDEST_BIRTHDAY = date(1900, 1, 1)


@dataclass(frozen=True)
class ProfileChange:
    """What the member asks for: "" or None leaves a field as it is (nothing can be erased)."""

    name: str = ""
    phone: str = ""
    birthday: date | None = None


def is_complete(name: str, phone: str, birthday: date | None) -> bool:
    return bool(name and phone and birthday)


class ProfileOps:
    """Mixed into Ledger."""

    def update_profile(self, uid: str, change: ProfileChange, now: datetime, pin_verified: bool = False) -> Txn:
        """The PROFILE_UPDATE for `change`, or Refused with the field's code: bad_name,
        bad_phone, phone_in_use, bad_birthday, birthday_once, profile_unchanged."""
        card, member, account = self.lookup(uid)
        self._need_pin(member, pin_verified, now)
        name = change.name.strip()
        name = "" if name == member.name else name
        if len(name) > NAME_MAX:
            raise Refused("bad_name")
        phone = "" if change.phone == member.phone else change.phone
        if phone and not PHONE.match(phone):
            raise Refused("bad_phone")
        if phone and any(m.status is MemberStatus.ACTIVE for m in self.state.members_with_phone(phone)):
            raise Refused("phone_in_use")  # (the member's own number was dropped above)
        birthday = None if change.birthday == member.birthday else change.birthday
        if birthday is not None:
            if not OLDEST_BIRTHDAY <= birthday <= self.rules.local_date(now):
                raise Refused("bad_birthday")
            if member.birthday_edited:
                raise Refused("birthday_once")
        if not (name or phone or birthday):
            raise Refused("profile_unchanged")
        points = self.profile_points_due(member, ProfileChange(name, phone, birthday))
        return self._txn(
            Kind.PROFILE_UPDATE,
            now,
            card.member_id,
            uid,
            account.balance_fen,
            account.points + points,
            account=account,
            name=name,
            phone=phone,
            birthday=birthday,
            points_expire_on=self._expiry(now) if points else None,
        )

    def profile_points_due(self, member: Member, change: ProfileChange) -> int:
        """The rules' points when this change completes a profile that was not complete (a
        member who signed up with every detail has nothing to complete; nothing can be erased,
        so a profile completes once). `account.profile_rewarded` is the state's guard against
        a second from another kiosk (profile_problem)."""
        points = self.rules.engagement.profile_points
        after = (change.name or member.name, change.phone or member.phone, change.birthday or member.birthday)
        if self.profile_complete(member) or not is_complete(*after):
            return 0
        return points

    def profile_points_offered(self, member: Member) -> int:
        """What completing the profile would earn now (the screens' encouragement)."""
        if self.profile_complete(member):
            return 0
        return self.rules.engagement.profile_points

    @staticmethod
    def profile_complete(member: Member) -> bool:
        return is_complete(member.name, member.phone, member.birthday)


def profile_problem(member: Member | None, account: Account | None, txn: Txn) -> str:
    """Why a PROFILE_UPDATE may not be applied to this member ("" when it may, or another kind)."""
    if txn.kind is not Kind.PROFILE_UPDATE or member is None or account is None:
        return ""
    if txn.birthday is not None and member.birthday_edited and txn.birthday != member.birthday:
        return f"profile_update of {member.member_id}: the birthday was already changed once"
    if txn.points_delta > 0 and account.profile_rewarded:
        return f"profile_update of {member.member_id}: the profile points were already given"
    return ""
