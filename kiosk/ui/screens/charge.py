"""Paying with the member card: the staff amount keypad, "Pay ¥128.00 — tap your card", and the
amounts the member confirms (discount, balance after). The PIN uses the PIN screen."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import _
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, FitLabel, KButton, KeyPad, Panel

MAX_DIGITS = 8  # fen: up to ¥999,999.99; the ledger's own limit is checked by the session


class ChargeAmountScreen(KioskScreen):
    """Staff key the amount in fen-exact yuan.jiao.fen (the keypad fills from the right)."""

    def build(self) -> None:
        m = self.m
        row = BoxLayout(spacing=m.padding)
        left = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing, radius=m.radius, size_hint_x=0.5)
        self.caption = FitLabel(font_size=m.font_body, color=COLOURS.muted, wrap=True)
        self.amount = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent, halign="center",
                               size_hint_y=1.6)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, size_hint_y=None, height=m.touch,
                            on_tap=self.session.back)
        for w in (self.caption, self.amount, self.back):
            left.add_widget(w)
        row.add_widget(left)
        self.keypad = KeyPad(m, self._key, extra="ok", size_hint_x=0.5)
        self.keypad.keys["ok"].kind = "primary"
        row.add_widget(self.keypad)
        self.body.add_widget(row)
        self.digits = ""

    def _key(self, key: str) -> None:
        if key == "ok":
            if self.digits:
                self.session.charge_amount(int(self.digits))
            return
        if key == "del":
            self.digits = self.digits[:-1]
        elif len(self.digits) < MAX_DIGITS and (self.digits or key != "0"):
            self.digits += key
        self._fill_amount()

    def _fill_amount(self) -> None:
        self.amount.text = format_fen(int(self.digits or "0"))
        self.keypad.keys["ok"].disabled = not self.digits

    def on_pre_enter(self, *_args) -> None:
        self.digits = ""

    def fill(self, view) -> None:
        self.title.text = _("Charge a member")
        self.caption.text = _("Amount to take from the member's card")
        self.keypad.keys["del"].text = _("Delete")
        self.keypad.keys["ok"].text = _("OK")
        self.back.text = _("Back")
        self._fill_amount()


class ChargeTapScreen(KioskScreen):
    """"Pay ¥128.00 — tap your card"."""

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing, radius=m.radius)
        self.caption = FitLabel(font_size=m.font_title, halign="center")
        self.amount = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent, halign="center",
                               size_hint_y=1.8)
        self.instruction = FitLabel(font_size=m.font_title, halign="center", wrap=True, size_hint_y=1.2)
        self.discount_note = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.muted)
        for w in (self.caption, self.amount, self.instruction, self.discount_note):
            panel.add_widget(w)
        self.body.add_widget(panel)
        self.cancel = KButton(font_size=m.font_button, kind="danger", radius=m.radius, size_hint_y=None,
                              height=m.touch, on_tap=self.session.cancel_charge)
        self.body.add_widget(self.cancel)

    def fill(self, view) -> None:
        charge = view.charge
        self.title.text = _("Pay with your member card")
        self.caption.text = _("Pay")
        self.amount.text = format_fen(charge.total_fen)
        self.instruction.text = _("Tap your card on the reader")
        self.discount_note.text = _("Your member discount is shown next") if charge.discount_asked else ""
        self.cancel.text = _("Cancel")


class ChargeConfirmScreen(KioskScreen):
    """The amounts before the member pays: the till's total, the discount, the card's balance after."""

    ROWS = ("total", "discount", "balance", "after", "points")

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing / 2, radius=m.radius)
        self.pay_caption = FitLabel(font_size=m.font_body, color=COLOURS.muted)
        self.pay = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent, size_hint_y=1.8)
        panel.add_widget(self.pay_caption)
        panel.add_widget(self.pay)
        self.lines = {row: FitLabel(font_size=m.font_body, color=COLOURS.ok if row == "discount" else COLOURS.text)
                      for row in self.ROWS}
        for row in self.ROWS:
            if row == "after":  # beside "balance now": a row for the member's voucher and points choice
                continue
            if row == "balance":
                pair = BoxLayout(spacing=m.spacing)
                pair.add_widget(self.lines[row])
                pair.add_widget(self.lines["after"])
                panel.add_widget(pair)
            else:
                panel.add_widget(self.lines[row])
        self.body.add_widget(panel)
        # the member's choice: a voucher, and points as cash (each tap moves to the next choice)
        self.choices = BoxLayout(size_hint_y=None, height=m.touch, spacing=m.spacing)
        self.voucher = KButton(font_size=m.font_body, radius=m.radius, on_tap=self._next_voucher)
        self.points = KButton(font_size=m.font_body, radius=m.radius, on_tap=self._next_points)
        self.choices.add_widget(self.voucher)
        self.choices.add_widget(self.points)
        self.body.add_widget(self.choices)
        self.charge = None
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.cancel = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=self.session.cancel_charge)
        self.ok = KButton(font_size=m.font_button, kind="primary", radius=m.radius, on_tap=self.session.confirm_charge)
        buttons.add_widget(self.cancel)
        buttons.add_widget(self.ok)
        self.body.add_widget(buttons)

    def _next_voucher(self) -> None:
        c = self.charge
        if c is None or not c.vouchers:
            return
        ids = [""] + [v.voucher_id for v in c.vouchers]
        at = ids.index(c.voucher_id) if c.voucher_id in ids else 0
        self.session.choose_charge(voucher_id=ids[(at + 1) % len(ids)])

    def _next_points(self) -> None:
        c = self.charge
        if c is None or not c.most_points:
            return
        steps = points_choices(c.most_points, c.points_step)
        at = steps.index(c.points_used) if c.points_used in steps else 0
        self.session.choose_charge(points=steps[(at + 1) % len(steps)])

    def _fill_choices(self, c) -> None:
        if c.vouchers:
            self.voucher.text = (_("Voucher -{value}").format(value=format_fen(c.voucher_fen)) if c.voucher_id
                                 else _("Use a voucher ({count})").format(count=len(c.vouchers)))
        if c.most_points:
            self.points.text = (_("{points:,} points -{value}").format(points=c.points_used, value=format_fen(c.points_cash_fen))
                                if c.points_used else _("Pay with points"))
        for button, shown in ((self.voucher, bool(c.vouchers)), (self.points, bool(c.most_points))):
            if shown and button.parent is None:
                self.choices.add_widget(button, index=0 if button is self.points else len(self.choices.children))
            elif not shown and button.parent is not None:
                self.choices.remove_widget(button)
        self.choices.height = self.m.touch if self.choices.children else 0
        self.choices.opacity = 1 if self.choices.children else 0

    def fill(self, view) -> None:
        c = view.charge
        self.charge = c
        self._fill_choices(c)
        self.title.text = _("Confirm payment")
        self.pay_caption.text = _("Paid from your card")
        self.pay.text = format_fen(c.amount_fen)
        lines = self.lines
        lines["total"].text = _("Order total: {total}").format(total=format_fen(c.total_fen))
        if c.voucher_fen or c.points_cash_fen:
            lines["total"].text += "   " + _("Voucher and points: -{value}").format(
                value=format_fen(c.voucher_fen + c.points_cash_fen))
        lines["discount"].text = (_("Member discount: -{discount}").format(discount=format_fen(c.discount_fen))
                                  if c.discount_fen else _("No discount on this amount"))
        lines["balance"].text = _("Balance now: {balance}").format(balance=format_fen(c.balance_fen or 0))
        lines["after"].text = _("Balance after: {balance}").format(balance=format_fen(c.balance_after_fen or 0))
        lines["points"].text = _("Points earned: {points:,}").format(points=c.points_earned)
        self.cancel.text = _("Cancel")
        self.ok.text = _("Pay with PIN") if c.pin_required else _("Pay")


def points_choices(most: int, step: int) -> list[int]:
    """The points the member can move through: none, then quarters of the most, then the most."""
    out = [0]
    for quarter in (1, 2, 3, 4):
        points = most * quarter // 4
        points -= points % step
        if points > out[-1]:
            out.append(points)
    return out
