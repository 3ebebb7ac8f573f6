"""Member home: balance first and biggest, then points, tier and its benefits, recent activity,
what to aim for next, the daily check-in and the member's referral code as a QR code."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.ledger.kinds import SPECS
from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import _, local_text
from kiosk.ui.messages import render_message
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, FitLabel, KButton, Panel, QrCode, TierBar

REFERRAL_QR_PREFIX = "KIOSK-REFERRAL:"  # what a phone reads: the code, marked as ours

# The names of the recent-activity lines: one per kind that has a line, from the ledger's kind
# table (marked there for the catalogues), translated here.
ACTIVITY_NAMES = {str(kind): spec.activity for kind, spec in SPECS.items() if not spec.silent}


def activity_name(kind: str) -> str:
    return _(ACTIVITY_NAMES[kind]) if kind in ACTIVITY_NAMES else kind


class MemberScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        self.banner = FitLabel(font_size=m.font_body, color=COLOURS.accent, halign="center",
                               size_hint_y=None, height=0)
        self.body.add_widget(self.banner)
        row = BoxLayout(spacing=m.spacing)
        left = Panel(padding=m.padding, spacing=m.spacing, radius=m.radius, size_hint_x=0.55)
        figures = BoxLayout(orientation="vertical", spacing=m.spacing / 2, size_hint_x=0.66)
        self.balance_caption = FitLabel(font_size=m.font_body, color=COLOURS.muted, size_hint_y=0.6)
        self.balance = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent, size_hint_y=1.6)
        self.points = FitLabel(font_size=m.font_title, size_hint_y=0.9)
        self.expiring = FitLabel(font_size=m.font_small, color=COLOURS.muted, size_hint_y=0.6)
        self.next_reward = FitLabel(font_size=m.font_small, color=COLOURS.ok, wrap=True, size_hint_y=0.9)
        for w in (self.balance_caption, self.balance, self.points, self.expiring, self.next_reward):
            figures.add_widget(w)
        invite = BoxLayout(orientation="vertical", spacing=m.spacing / 2, size_hint_x=0.34)
        self.invite_caption = FitLabel(font_size=m.font_small, color=COLOURS.muted, halign="center",
                                       size_hint_y=None, height=m.font_small * 1.5)
        self.qr = QrCode()
        self.referral_code = FitLabel(font_name=NUMBER_FONT, font_size=m.font_small, halign="center",
                                      size_hint_y=None, height=m.font_small * 1.5)
        for w in (self.invite_caption, self.qr, self.referral_code):
            invite.add_widget(w)
        left.add_widget(figures)
        left.add_widget(invite)
        right = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing / 2, radius=m.radius,
                      size_hint_x=0.45)
        self.tier = FitLabel(font_size=m.font_title, color=COLOURS.accent, size_hint_y=1.4)
        self.benefits = FitLabel(font_size=m.font_small)
        self.progress = TierBar(size_hint_y=None, height=max(6, round(8 * m.scale)))
        self.to_next = FitLabel(font_size=m.font_small, color=COLOURS.muted)
        self.recent_caption = FitLabel(font_size=m.font_small, color=COLOURS.muted)
        right.add_widget(self.tier)
        right.add_widget(self.benefits)
        right.add_widget(self.progress)
        right.add_widget(self.to_next)
        right.add_widget(self.recent_caption)
        self.recent = []
        for _i in range(5):
            line = BoxLayout(spacing=m.spacing)
            what = FitLabel(font_size=m.font_small, size_hint_x=0.4)
            amount = FitLabel(font_size=m.font_small, halign="right", size_hint_x=0.6)
            line.add_widget(what)
            line.add_widget(amount)
            right.add_widget(line)
            self.recent.append((what, amount))
        row.add_widget(left)
        row.add_widget(right)
        self.body.add_widget(row)
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.topup = KButton(font_size=m.font_button, kind="primary", radius=m.radius, on_tap=self.session.start_topup)
        self.redeem = KButton(font_size=m.font_button, radius=m.radius, on_tap=self.session.start_redeem)
        self.finish = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=self.session.finish)
        self.check_in = KButton(font_size=m.font_button, radius=m.radius, on_tap=self.session.check_in)
        self.profile = KButton(font_size=m.font_button, radius=m.radius, on_tap=self.session.start_profile)
        for b in (self.topup, self.redeem, self.profile, self.check_in, self.finish):
            buttons.add_widget(b)
        self.buttons = buttons
        self.body.add_widget(buttons)

    def fill(self, view) -> None:
        member = view.member
        name = member.name or member.phone_masked
        self.title.text = _("Hello, {name}").format(name=name)
        banners = [render_message(g.kind, {"points": g.points, "balance_fen": g.balance_fen}) for g in member.gifts]
        if member.birthday_greeting and not any(g.kind == "birthday_gift" for g in member.gifts):
            banners.insert(0, _("Happy birthday!"))
        self.banner.text = "   ".join(banners)
        self.banner.height = self.m.font_body * 1.6 if banners else 0
        self.balance_caption.text = _("Balance")
        self.balance.text = format_fen(member.balance_fen)
        self.points.text = _("Points: {points:,}").format(points=member.points)
        self.expiring.text = (
            _("{points:,} points expire this month").format(points=member.points_expiring)
            if member.points_expiring else ""
        )
        self.tier.text = local_text(member.tier_name)
        self.benefits.text = _("Points x{mult}   {discount}").format(
            mult=f"{member.points_multiplier_pct / 100:g}", discount=_discount(member.discount_pct)
        )
        self.progress.value = member.tier_progress_pct / 100
        if member.next_tier_name is not None:
            self.to_next.text = _("Top up {amount} more for {tier}").format(
                amount=format_fen(member.to_next_tier_fen), tier=local_text(member.next_tier_name)
            )
        else:
            self.to_next.text = _("Top tier reached")
        if member.next_reward_name is not None:
            self.next_reward.text = _("{points:,} more points for {reward}").format(
                points=member.to_next_reward_points, reward=local_text(member.next_reward_name)
            )
        else:
            self.next_reward.text = ""
        self.invite_caption.text = _("Invite a friend")
        self.referral_code.text = member.referral_code
        self.qr.text = REFERRAL_QR_PREFIX + member.referral_code if member.referral_code else ""
        self.recent_caption.text = _("Recent activity")
        for i, (what, amount) in enumerate(self.recent):
            if i < len(member.recent):
                a = member.recent[i]
                what.text = activity_name(a.kind)
                parts = []
                if a.balance_delta_fen:
                    parts.append(("+" if a.balance_delta_fen > 0 else "") + format_fen(a.balance_delta_fen))
                if a.points_delta:
                    parts.append(_("{points:+,} pts").format(points=a.points_delta))
                amount.text = "  ".join(parts)
            else:
                what.text = amount.text = ""
        self.topup.text = _("Top up")
        self.redeem.text = _("Redeem points")
        self.finish.text = _("Done")
        self.check_in.text = _("Check in")
        self.profile.text = _("My details")
        offered = member.check_in_offered
        if offered and self.check_in.parent is None:
            self.buttons.add_widget(self.check_in, index=1)  # before "Done"
        elif not offered and self.check_in.parent is not None:
            self.buttons.remove_widget(self.check_in)


def _discount(discount_pct: int) -> str:
    if discount_pct >= 100:
        return _("No discount")
    return _("Save {off}%").format(off=100 - discount_pct)
