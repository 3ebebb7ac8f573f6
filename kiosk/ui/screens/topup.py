"""Top-up: choose an amount (each preset shows its bonus), confirm and pick how to pay, then wait
for the payment. Credit happens in the session only once the payment is confirmed."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import N_, _
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, FitLabel, KButton, KeyPad, Panel

METHOD_NAMES = {
    "staff_cash": N_("Pay at the counter"),
    "cash_acceptor": N_("Insert cash"),
    "hq": N_("Pay by phone"),
}
UNAVAILABLE = {
    "offline": N_("HQ offline"),
    "hq_offline": N_("HQ offline"),
    "hq_not_configured": N_("not set up"),
    "no_cash_acceptor": N_("not installed"),
    "no_hardware": N_("not installed"),
    "not_configured": N_("not set up"),
}
MAX_CUSTOM_DIGITS = 6  # whole yuan; the rules' own maximum is checked by the session


def fee_line(option, paying: bool = False) -> str:
    """The card fee beside a top-up while it is due: added, waived, or the fee alone."""
    if option.fee_waived:
        return "\n" + _("card fee waived")
    if not option.fee_fen:
        return ""
    if not option.amount_fen and not paying:
        return "\n" + _("card fee only")
    return "\n" + _("+ card fee {fee}").format(fee=format_fen(option.fee_fen))


class TopUpAmountScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        row = BoxLayout(spacing=m.padding)
        self.presets = GridLayout(cols=2, spacing=m.spacing, size_hint_x=0.52)
        row.add_widget(self.presets)
        right = Panel(orientation="vertical", padding=m.padding / 2, spacing=m.spacing / 2, radius=m.radius,
                      size_hint_x=0.48)
        self.custom_caption = FitLabel(font_size=m.font_small, color=COLOURS.muted, size_hint_y=None,
                                       height=m.font_small * 1.6)
        self.custom_amount = FitLabel(font_name=NUMBER_FONT, font_size=m.font_title, color=COLOURS.accent,
                                      halign="center", size_hint_y=None, height=m.font_title * 1.5)
        self.keypad = KeyPad(m, self._key, extra="ok", wide=m.compact)
        self.custom_ok = self.keypad.keys["ok"]
        self.custom_ok.kind = "primary"
        for w in (self.custom_caption, self.custom_amount, self.keypad):
            right.add_widget(w)
        row.add_widget(right)
        self.body.add_widget(row)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=self.session.back)
        self.presets_buttons: list[KButton] = []
        self.digits = ""
        self._shown_presets: tuple = ()

    def _key(self, key: str) -> None:
        if key == "ok":
            self._choose_custom()
            return
        if key == "del":
            self.digits = self.digits[:-1]
        elif len(self.digits) < MAX_CUSTOM_DIGITS and (self.digits or key != "0"):
            self.digits += key
        self._fill_custom()

    def _choose_custom(self) -> None:
        if self.digits:
            self.session.choose_amount(int(self.digits) * 100)

    def _fill_custom(self) -> None:
        self.custom_amount.text = format_fen(int(self.digits or "0") * 100)
        self.custom_ok.disabled = not self.digits

    def on_pre_enter(self, *_args) -> None:
        self.digits = ""

    def fill(self, view) -> None:
        topup = view.topup
        self.title.text = _("Top up")
        if topup.presets != self._shown_presets:
            self.presets.clear_widgets()
            self.presets_buttons = []
            for option in topup.presets:
                button = KButton(font_size=self.m.font_button, radius=self.m.radius, wrap=True,
                                 on_tap=lambda a=option.amount_fen: self.session.choose_amount(a))
                button.option = option
                self.presets_buttons.append(button)
                self.presets.add_widget(button)
            self.presets.add_widget(self.back)
            self._shown_presets = topup.presets
        for button in self.presets_buttons:
            option = button.option
            bonus = _("+{bonus} bonus").format(bonus=format_fen(option.bonus_fen)) if option.bonus_fen else ""
            button.text = format_fen(option.amount_fen or option.fee_fen) + ("\n" + bonus if bonus else "") + fee_line(option)
            button.kind = "primary" if option.bonus_fen or option.fee_waived else "normal"
        self.back.text = _("Back")
        self.custom_caption.text = _("Other amount ({low} - {high})").format(
            low=format_fen(topup.min_fen), high=format_fen(topup.max_fen))
        self.keypad.keys["del"].text = _("Delete")
        self.custom_ok.text = _("OK")
        self._fill_custom()


class TopUpConfirmScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing / 2, radius=m.radius)
        self.amount_caption = FitLabel(font_size=m.font_body, color=COLOURS.muted)
        self.amount = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent, size_hint_y=1.8)
        self.bonus = FitLabel(font_size=m.font_title, color=COLOURS.ok)
        self.points = FitLabel(font_size=m.font_body)
        self.total = FitLabel(font_size=m.font_body)
        for w in (self.amount_caption, self.amount, self.bonus, self.points, self.total):
            panel.add_widget(w)
        self.body.add_widget(panel)
        self.pay_caption = FitLabel(font_size=m.font_body, color=COLOURS.muted, size_hint_y=None,
                                    height=m.font_body * 1.6)
        self.body.add_widget(self.pay_caption)
        self.methods = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.body.add_widget(self.methods)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, size_hint_x=0.6,
                            on_tap=self.session.back)
        self.method_buttons: dict[str, KButton] = {}

    def fill(self, view) -> None:
        topup = view.topup
        chosen = topup.chosen
        self.title.text = _("Confirm top-up")
        self.amount_caption.text = _("You pay")
        self.amount.text = format_fen(chosen.amount_fen)
        self.bonus.text = (_("Bonus: +{bonus}").format(bonus=format_fen(chosen.bonus_fen))
                           if chosen.bonus_fen else _("No bonus for this amount"))
        self.points.text = _("Points earned: {points:,}").format(points=chosen.points)
        self.total.text = _("Credited to your card: {total}").format(
            total=format_fen(chosen.amount_fen + chosen.bonus_fen)) + fee_line(chosen, paying=True)
        if chosen.fee_fen:
            self.amount.text = format_fen(chosen.amount_fen + chosen.fee_fen)
        self.pay_caption.text = _("How would you like to pay?")
        names = tuple(method.name for method in topup.methods)
        if names != tuple(self.method_buttons):
            self.methods.clear_widgets()
            self.method_buttons = {}
            for name in names:
                button = KButton(font_size=self.m.font_button, kind="primary", radius=self.m.radius, wrap=True,
                                 on_tap=lambda n=name: self.session.pay(n))
                self.method_buttons[name] = button
                self.methods.add_widget(button)
            self.methods.add_widget(self.back)
        for method in topup.methods:
            button = self.method_buttons[method.name]
            text = _(METHOD_NAMES.get(method.name, method.name))
            if method.unavailable_reason:
                reason = UNAVAILABLE.get(method.unavailable_reason, N_("unavailable"))
                text += "\n" + "(" + _(reason) + ")"
            button.text = text
            button.disabled = bool(method.unavailable_reason)
        self.back.text = _("Back")


class PayingScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing, radius=m.radius)
        self.instruction = FitLabel(font_size=m.font_title, wrap=True, halign="center", size_hint_y=1.4)
        self.amount = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent,
                               halign="center", size_hint_y=1.6)
        self.received = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.muted)
        for w in (self.instruction, self.amount, self.received):
            panel.add_widget(w)
        self.body.add_widget(panel)
        self.cancel = KButton(font_size=m.font_button, kind="danger", radius=m.radius, size_hint_y=None,
                              height=m.touch, on_tap=self.session.cancel_payment)
        self.body.add_widget(self.cancel)

    def fill(self, view) -> None:
        payment = view.payment
        self.title.text = _("Payment")
        self.instruction.text = {
            "staff_cash": _("Please pay at the counter. Staff will tap their card to confirm."),
            "cash_acceptor": _("Please insert cash into the acceptor."),
            "hq": _("Please complete the payment on your phone."),
        }.get(payment.method, _("Waiting for payment"))
        self.amount.text = format_fen(payment.requested_fen)
        self.received.text = (_("Received so far: {received}").format(received=format_fen(payment.received_fen))
                              if payment.method == "cash_acceptor" else _("Waiting for confirmation..."))
        self.cancel.text = _("Cancel payment")
