"""Membership-card kiosk: tap a card, see balance and points, top up, redeem, sign up."""

__version__ = "0.1.0"
