"""Screens that show one outcome and a way on: done, a refusal notice, a lost card, an unknown card.
After a top-up or redemption the done screen also offers the session's optional star rating."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.ledger.money import format_fen
from kiosk.session.states import S
from kiosk.ui.i18n import _
from kiosk.ui.messages import render_message, survey_reason
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, FitLabel, KButton, Panel, StatusMark

# after these results the member's new balance or points are the number to show, big
FIGURE_FOR = {"topup_done": "balance", "redeem_done": "points", "signup_done": "points", "checked_in": "points"}
STAR = "\u2605"  # in the text font: the CJK fonts have it, Roboto does not


class ResultScreen(KioskScreen):
    shows_hints = False  # shows view.message itself

    def build(self) -> None:
        """A sign (tick or exclamation mark) beside the words, so a notice fills the panel and
        reads at a glance; the new balance or points under the sentence after a success."""
        m = self.m
        self.panel = Panel(padding=m.padding * 2, spacing=m.padding * 2, radius=m.radius)
        self.mark = StatusMark(size_hint_x=0.3)
        self.panel.add_widget(self.mark)
        words = BoxLayout(orientation="vertical", spacing=m.spacing)
        self.headline = FitLabel(font_size=m.font_hero)
        self.text = FitLabel(font_size=m.font_body * 1.15, wrap=True, size_hint_y=1.3)
        self.figure_caption = FitLabel(font_size=m.font_body, color=COLOURS.muted, size_hint_y=0.6)
        self.figure = FitLabel(font_name=NUMBER_FONT, font_size=m.font_money, color=COLOURS.accent, size_hint_y=1.5)
        for w in (self.headline, self.text, self.figure_caption, self.figure):
            words.add_widget(w)
        self.panel.add_widget(words)
        self.body.add_widget(self.panel)
        self.survey = Panel(orientation="vertical", padding=m.padding / 2, spacing=m.spacing / 2, radius=m.radius,
                            size_hint_y=None, height=m.touch * 2 + m.font_small * 1.5 + m.spacing + m.padding)
        self.survey_caption = FitLabel(font_size=m.font_small, halign="center", color=COLOURS.muted,
                                       size_hint_y=None, height=m.font_small * 1.5)
        self.reason_row = BoxLayout(spacing=m.spacing / 2, size_hint_y=None, height=m.touch)
        star_row = BoxLayout(spacing=m.spacing / 2, size_hint_y=None, height=m.touch)
        self.stars = [
            KButton(font_size=m.font_button, radius=m.radius,
                    on_tap=lambda n=n: self.session.rate(n, tuple(self.chosen_reasons)))
            for n in range(1, 6)
        ]
        for star in self.stars:
            star_row.add_widget(star)
        for w in (self.survey_caption, self.reason_row, star_row):
            self.survey.add_widget(w)
        self.reasons: dict[str, KButton] = {}
        self.chosen_reasons: list[str] = []
        self.ok = KButton(font_size=m.font_button, kind="primary", radius=m.radius, size_hint_y=None,
                          height=m.touch_big, on_tap=self.session.dismiss)
        self.body.add_widget(self.ok)

    def fill(self, view) -> None:
        good = view.state == S.done
        refused = view.message is not None and view.message.code == "card_refused"
        self.title.text = _("Card not accepted") if refused else {
            S.done: _("Done"),
            S.notice: _("Sorry"),
            S.blocked: _("Card blocked"),
            S.not_recognised: _("Unknown card"),
        }[view.state]
        self.headline.text = _("Success") if good else _("Please note")
        self.headline.color = COLOURS.ok if good else COLOURS.error
        self.mark.good = good
        if view.message is not None:
            self.text.text = render_message(view.message.code, view.message.params) + _extra(view.message)
        elif view.state == S.not_recognised:
            self.text.text = render_message("card_not_recognised")
        else:
            self.text.text = ""
        rating = view.survey is not None  # the rating needs the room: the sentence alone says the result
        self.headline.size_hint_y = 0.01 if rating else 1
        if rating:
            self.headline.text = ""
        self.panel.padding = self.m.padding if rating else self.m.padding * 2
        self.mark.size_hint_x = 0.15 if rating else 0.3
        figure = FIGURE_FOR.get(view.message.code) if view.message and good and view.member and not rating else None
        if figure == "balance":
            self.figure_caption.text, self.figure.text = _("Balance"), format_fen(view.member.balance_fen)
        elif figure == "points":
            self.figure_caption.text, self.figure.text = _("Points"), f"{view.member.points:,}"
        else:
            self.figure_caption.text = self.figure.text = ""
        self.figure_caption.size_hint_y = 0.6 if figure else 0.01
        self.figure.size_hint_y = 1.5 if figure else 0.01
        # without a figure the headline and the sentence meet in the middle instead of spreading apart
        self.headline.valign = "middle" if figure or rating else "bottom"
        self.text.valign = "middle" if figure or rating else "top"
        self.ok.text = _("Continue") if view.card_uid and view.state in (S.done, S.notice) else _("OK")
        self._fill_survey(view)

    def _fill_survey(self, view) -> None:
        """The rating offered by the session; the reasons tapped are only a selection until a
        star sends them with session.rate()."""
        survey = view.survey
        if survey is None:
            if self.survey.parent is not None:
                self.body.remove_widget(self.survey)
            self.chosen_reasons = []
            return
        if self.survey.parent is None:
            self.body.add_widget(self.survey, index=1)  # above the continue button
        if tuple(self.reasons) != survey.reasons:
            self.reason_row.clear_widgets()
            self.reasons = {
                r: KButton(font_size=self.m.font_small, kind="ghost", radius=self.m.radius,
                           on_tap=lambda r=r: self._toggle(r))
                for r in survey.reasons
            }
            for button in self.reasons.values():
                self.reason_row.add_widget(button)
            self.chosen_reasons = []
        self.survey_caption.text = _("How was it? Tap what fits (optional), then the stars.")
        for n, star in enumerate(self.stars, start=1):
            star.text = STAR * n
        for reason, button in self.reasons.items():
            button.text = survey_reason(reason)
            button.kind = "normal" if reason in self.chosen_reasons else "ghost"
        self.ok.text = _("Skip")

    def _toggle(self, reason: str) -> None:
        self.session.touch()  # choosing reasons keeps the rating on screen
        if reason in self.chosen_reasons:
            self.chosen_reasons.remove(reason)
        else:
            self.chosen_reasons.append(reason)
        for r, button in self.reasons.items():
            button.kind = "normal" if r in self.chosen_reasons else "ghost"


def _extra(message) -> str:
    """The referral and streak bonuses, said only when there is one."""
    params = message.params
    if message.code == "signup_done" and params.get("referral_points"):
        return " " + _("Including {points} referral points.").format(points=params["referral_points"])
    if message.code == "checked_in" and params.get("streak_bonus"):
        return " " + _("Including a {points} point streak bonus!").format(points=params["streak_bonus"])
    return ""
