"""Staff / technician menu, behind a staff card: what the kiosk knows about itself."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.ui.i18n import N_, _
from kiosk.ui.messages import render_message
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import COLOURS
from kiosk.ui.widgets import FitLabel, KButton, Panel

STATUS_WORDS = {"ok": N_("working"), "unknown": N_("not reported yet"), "disabled": N_("disabled")}


def status_text(value: str) -> str:
    """The common status words in the staff's language; a problem's own detail stays as reported."""
    return _(STATUS_WORDS[value]) if value in STATUS_WORDS else value


def replica_text(chunks: tuple[int, int], loaded: bool) -> str:
    """The member replica's line: a store snapshot's load progress, or whether one is in use."""
    done, total = chunks
    if total:
        return _("loading {done}/{total} ({percent}%)").format(done=done, total=total, percent=100 * done // total)
    return _("loaded") if loaded else _("not loaded yet")


class StaffScreen(KioskScreen):
    shows_hints = False  # shows view.message itself
    ROWS = ("device", "reader", "hardware", "outbox", "hq", "replica", "rules")

    def build(self) -> None:
        """The kiosk's state on the left, its recent errors beside it: both panels fill the height."""
        m = self.m
        row = BoxLayout(spacing=m.spacing)
        panel = Panel(orientation="vertical", padding=m.padding, radius=m.radius, size_hint_x=0.6)
        grid = GridLayout(cols=2, spacing=(m.padding, m.spacing / 2))
        self.names: dict[str, FitLabel] = {}
        self.values: dict[str, FitLabel] = {}
        for name in self.ROWS:
            self.names[name] = FitLabel(font_size=m.font_body, color=COLOURS.muted, size_hint_x=0.45)
            self.values[name] = FitLabel(font_size=m.font_button, size_hint_x=0.55)
            grid.add_widget(self.names[name])
            grid.add_widget(self.values[name])
        panel.add_widget(grid)
        row.add_widget(panel)
        log = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing / 2, radius=m.radius, size_hint_x=0.4)
        self.errors_title = FitLabel(font_size=m.font_body, color=COLOURS.muted, size_hint_y=None,
                                     height=round(m.font_body * 1.6))
        self.errors = FitLabel(font_size=m.font_body, color=COLOURS.error, wrap=True, valign="top")
        log.add_widget(self.errors_title)
        log.add_widget(self.errors)
        row.add_widget(log)
        self.body.add_widget(row)
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.reload = KButton(font_size=m.font_button, radius=m.radius, on_tap=self.session.staff_reload_rules)
        self.charge = KButton(font_size=m.font_button, kind="primary", radius=m.radius,
                              on_tap=self.session.start_staff_charge)
        buttons.add_widget(self.charge)
        self.notes = KButton(font_size=m.font_button, radius=m.radius, on_tap=self.session.staff_notes)
        buttons.add_widget(self.notes)
        self.new_pin = KButton(font_size=m.font_button, radius=m.radius, on_tap=self.session.start_new_pin)
        buttons.add_widget(self.new_pin)
        self.exit = KButton(font_size=m.font_button, kind="primary", radius=m.radius, on_tap=self.session.finish)
        buttons.add_widget(self.reload)
        buttons.add_widget(self.exit)
        self.body.add_widget(buttons)

    def fill(self, view) -> None:
        staff = view.staff
        self.title.text = _("Staff menu")
        names = {
            "device": _("Device"),
            "reader": _("Card reader"),
            "hardware": _("LEDs and buzzer"),
            "outbox": _("Waiting to sync"),
            "hq": _("Last contact with HQ"),
            "replica": _("Members from HQ"),
            "rules": _("Rules version"),
        }
        values = {
            "device": staff.device_id,
            "reader": status_text(staff.reader),
            "hardware": status_text(staff.hardware),
            "outbox": _("{n} transactions").format(n=staff.outbox_depth),
            "hq": staff.last_hq_contact or _("never"),
            "replica": replica_text(staff.replica_chunks, staff.replica_loaded),
            "rules": str(staff.rules_version),
        }
        for row in self.ROWS:
            self.names[row].text = names[row]
            self.values[row].text = values[row]
        lines = list(staff.last_errors[-3:])
        if view.message is not None:
            lines.insert(0, render_message(view.message.code, view.message.params))
        self.errors_title.text = _("Recent errors")
        self.errors.text = "\n".join(lines) if lines else _("No recent errors")
        self.errors.color = COLOURS.error if lines else COLOURS.muted
        if view.message is not None and view.message.code == "staff_credit_armed" and not staff.last_errors:
            self.errors_title.text, self.errors.color = _("Sales credit"), COLOURS.ok  # news, not an error
        self.reload.text = _("Reload rules")
        self.charge.text = _("Charge a member")
        self.notes.text = _("Member notes")
        self.new_pin.text = _("New PIN for a member")
        self.exit.text = _("Back to customer screen")


class NewPinTapScreen(KioskScreen):
    """A new PIN for a member who forgot theirs: the member taps their card, then chooses the PIN
    on the pad (staff never type or see it)."""

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing, radius=m.radius)
        self.instruction = FitLabel(font_size=m.font_title, halign="center", wrap=True)
        self.note = FitLabel(font_size=m.font_body, halign="center", wrap=True, color=COLOURS.muted)
        for w in (self.instruction, self.note):
            panel.add_widget(w)
        self.body.add_widget(panel)
        self.back = KButton(font_size=m.font_button, kind="ghost", radius=m.radius, size_hint_y=None,
                            height=m.touch, on_tap=self.session.back)
        self.body.add_widget(self.back)

    def fill(self, view) -> None:
        self.title.text = _("New PIN for a member")
        self.instruction.text = _("Member: please tap your card, then choose your new PIN")
        self.note.text = _("Staff: check who the member is first. Only the member types the PIN.")
        self.back.text = _("Back")


class StaffNotesScreen(KioskScreen):
    """A member's notes from HQ, on the staff menu only: the member taps their card here."""

    shows_hints = False  # shows view.message itself

    def build(self) -> None:
        m = self.m
        panel = Panel(orientation="vertical", padding=m.padding, spacing=m.spacing, radius=m.radius)
        self.who = FitLabel(font_size=m.font_title, color=COLOURS.accent, size_hint_y=None,
                            height=round(m.font_title * 1.6))
        self.text = FitLabel(font_size=m.font_body, wrap=True, valign="top")
        panel.add_widget(self.who)
        panel.add_widget(self.text)
        self.body.add_widget(panel)
        buttons = BoxLayout(size_hint_y=None, height=m.touch_big, spacing=m.spacing)
        self.exit = KButton(font_size=m.font_button, kind="primary", radius=m.radius, on_tap=self.session.finish)
        buttons.add_widget(self.exit)
        self.body.add_widget(buttons)

    def fill(self, view) -> None:
        shown = view.staff_notes
        self.title.text = _("Member notes")
        if view.message is not None:
            self.who.text, self.text.text = render_message(view.message.code, view.message.params), ""
        elif shown is None or not shown.member_id:
            self.who.text = _("Ask the member to tap their card")
            self.text.text = _("Only this store's members' notes are here. Never turn the screen to the member.")
        else:
            self.who.text = f"{shown.member_name} ({shown.member_id})"
            lines = [f"{n.at[:10]}  {n.author}  {' '.join('#' + t for t in n.tags)}\n{n.text}" for n in shown.notes]
            self.text.text = "\n\n".join(lines) if lines else _("No notes for this member.")
        self.exit.text = _("Done")
