"""The actions of the member's own details and of the staff menu's member notes (issue 15):
one-line public methods of `Session`, kept here so session.py stays the plumbing. Each goes
through the session's `_act` like every other action (docs/session-api.md)."""

from __future__ import annotations

from datetime import date

from kiosk.session.flows.profile import Profile
from kiosk.session.flows.staff import Staff


class DetailActions:
    """Mixed into Session (which provides `_act` and `flow`)."""

    def start_profile(self) -> bool:
        """Home: "My details", behind the member's PIN."""
        return self._act(self.flow(Profile).start)

    def save_profile(self, name: str, phone: str, phone_again: str, birthday: date | None) -> bool:
        """"" / None leaves a field as it is; a new phone is typed twice."""
        return self._act(lambda: self.flow(Profile).save(name, phone, phone_again, birthday))

    def staff_notes(self) -> bool:
        """Staff menu: "Member notes": the member taps their card, the notes of this store's member show."""
        return self._act(self.flow(Staff).open_notes)
