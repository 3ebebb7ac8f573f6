"""Redeem points: the catalogue the session offers (affordable, in stock, valid now), then confirm."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.scrollview import ScrollView

from kiosk.ledger.money import format_fen
from kiosk.ui.i18n import _, local_text
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import NUMBER_FONT, FitLabel, KButton, Panel, PictureTile


class RedeemChooseScreen(KioskScreen):
    """The rewards as picture tiles, up to four a row; one or two rows fill the space between the
    caption and the back button, more rows scroll."""

    MAX_COLS = 4
    ROWS_IN_VIEW = 2

    def build(self) -> None:
        m = self.m
        self.caption = FitLabel(font_size=m.font_body, color=COLOURS.muted, size_hint_y=None, height=m.font_body * 1.6)
        self.body.add_widget(self.caption)
        self.scroll = ScrollView(do_scroll_x=False)
        self.grid = GridLayout(cols=self.MAX_COLS, spacing=m.spacing, size_hint_y=None, row_force_default=True)
        self.grid.bind(minimum_height=self.grid.setter("height"))
        self.scroll.add_widget(self.grid)
        self.scroll.bind(size=self._size_rows)
        self.body.add_widget(self.scroll)
        self.empty = FitLabel(font_size=m.font_title, halign="center", size_hint_y=None, height=0, wrap=True)
        self.body.add_widget(self.empty)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, size_hint_y=None,
                            height=m.touch, on_tap=self.session.back)
        self.body.add_widget(self.back)
        self.buttons: list[PictureTile] = []
        self._shown: tuple = ()

    def _choose(self, reward) -> None:
        """A flexible reward (a voucher) starts at its smallest amount; the next screen adjusts it."""
        self.session.choose_reward(reward.reward_id, reward.flexible_min if reward.flexible_step else None)

    def _size_rows(self, *_args) -> None:
        """Rows share the visible height (one row: all of it; more: two in view), never under two touch heights."""
        rows = max(1, -(-len(self.buttons) // self.grid.cols))
        in_view = min(rows, self.ROWS_IN_VIEW)
        room = (self.scroll.height - self.m.spacing * (in_view - 1)) / in_view
        self.grid.row_default_height = max(self.m.touch_big * 1.6, room)

    def fill(self, view) -> None:
        redeem = view.redeem
        self.title.text = _("Redeem points")
        points = view.member.points if view.member else 0
        self.caption.text = _("You have {points:,} points. Choose a reward:").format(points=points)
        if redeem.rewards != self._shown:
            self.grid.clear_widgets()
            self.buttons = []
            self.grid.cols = min(self.MAX_COLS, max(2, len(redeem.rewards)))
            for reward in redeem.rewards:
                tile = PictureTile(self.m, self.reward_images.path_for(reward.image),
                                   on_tap=lambda r=reward: self._choose(r))
                tile.reward = reward
                self.buttons.append(tile)
                self.grid.add_widget(tile)
            self._shown = redeem.rewards
            self._size_rows()
        for tile in self.buttons:
            reward = tile.reward
            tile.title.text = local_text(reward.name)
            tile.detail.text = (_("from {points:,} points").format(points=reward.flexible_min) if reward.flexible_step
                                else _("{points:,} points").format(points=reward.points_cost))
        self.empty.text = "" if redeem.rewards else _("No rewards available for your points yet.")
        self.empty.height = 0 if redeem.rewards else self.m.font_title * 3
        self.back.text = _("Back")


class RedeemConfirmScreen(KioskScreen):

    def build(self) -> None:
        m = self.m
        panel = Panel(padding=m.padding, spacing=m.padding, radius=m.radius)
        self.picture = Image(fit_mode="contain", size_hint_x=0.35)  # the reward's picture, as on its tile
        panel.add_widget(self.picture)
        words = BoxLayout(orientation="vertical", spacing=m.spacing / 2)
        panel.add_widget(words)
        self.reward = FitLabel(font_size=m.font_hero, halign="center", size_hint_y=1.4)
        # the text font: the cost reads "300 积分", and the digits-only font has no 积分
        self.cost = FitLabel(font_size=m.font_money * 0.8, color=COLOURS.accent, bold=True,
                             halign="center", size_hint_y=1.4)
        self.after = FitLabel(font_size=m.font_body, halign="center", color=COLOURS.muted)
        self.pin_note = FitLabel(font_size=m.font_small, halign="center", color=COLOURS.muted)
        for w in (self.reward, self.cost, self.after, self.pin_note):
            words.add_widget(w)
        self.body.add_widget(panel)
        self.stepper = BoxLayout(size_hint_y=None, height=0, spacing=m.spacing, opacity=0)
        self.less = KButton(text="-", font_name=NUMBER_FONT, font_size=m.font_title, radius=m.radius,
                            on_tap=lambda: self._step(-1))
        self.value = FitLabel(font_size=m.font_body, halign="center")
        self.more = KButton(text="+", font_name=NUMBER_FONT, font_size=m.font_title, radius=m.radius,
                            on_tap=lambda: self._step(1))
        for w in (self.less, self.value, self.more):
            self.stepper.add_widget(w)
        self.body.add_widget(self.stepper)
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, on_tap=self.session.back)
        self.confirm = KButton(font_size=m.font_button, kind="primary", radius=m.radius,
                               on_tap=self.session.confirm)
        buttons.add_widget(self.back)
        buttons.add_widget(self.confirm)
        self.body.add_widget(buttons)
        self._view = None

    def _step(self, direction: int) -> None:
        """Choosing another voucher amount is choosing the reward again with other points."""
        redeem = self._view.redeem
        points = redeem.points_to_use + direction * redeem.chosen.flexible_step
        if self.session.back():
            self.session.choose_reward(redeem.chosen.reward_id, points)

    def fill(self, view) -> None:
        self._view = view
        redeem = view.redeem
        chosen = redeem.chosen
        self.title.text = _("Confirm reward")
        self.reward.text = local_text(chosen.name)
        self.picture.source = self.reward_images.path_for(chosen.image)
        self.cost.text = _("{points:,} points").format(points=redeem.points_to_use)
        if view.member is not None:
            self.after.text = _("Points left after: {points:,}").format(
                points=view.member.points - redeem.points_to_use)
        self.pin_note.text = _("You will be asked for your PIN.") if redeem.pin_required else ""
        flexible = bool(chosen.flexible_step)
        self.stepper.height = self.m.touch if flexible else 0
        self.stepper.opacity = 1 if flexible else 0
        self.less.disabled = not flexible or redeem.points_to_use - chosen.flexible_step < chosen.flexible_min
        self.more.disabled = not flexible or redeem.points_to_use + chosen.flexible_step > chosen.flexible_max
        self.value.text = (_("Voucher worth {value}").format(value=format_fen(redeem.points_to_use * chosen.fen_per_point))
                           if flexible else "")
        self.back.text = _("Back")
        self.confirm.text = _("Redeem")
