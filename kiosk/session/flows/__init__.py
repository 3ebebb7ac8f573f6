"""The session's screen flows, one module each, each owning its states and its slice of the
visit. A new flow is a new module here plus its line in FLOWS (and its states and moves in
kiosk/session/machine.py); see docs/architecture.md, "How to add a screen flow"."""

from __future__ import annotations

from kiosk.session.flows.base import FlowPart
from kiosk.session.flows.card_write import CardWrite
from kiosk.session.flows.cards import CardChecks
from kiosk.session.flows.charge import Charge
from kiosk.session.flows.engagement import Engagement
from kiosk.session.flows.gifts import Gifts
from kiosk.session.flows.new_pin import NewPin
from kiosk.session.flows.pin import Pin
from kiosk.session.flows.profile import Profile
from kiosk.session.flows.redeem import Redeem
from kiosk.session.flows.signup import SignUp
from kiosk.session.flows.staff import Staff
from kiosk.session.flows.topup import TopUp

FLOWS: tuple[type[FlowPart], ...] = (
    CardChecks, Gifts, TopUp, Redeem, Pin, SignUp, Engagement, Staff, Charge, NewPin, Profile, CardWrite
)
