"""Kivy reads its settings from the environment when first imported, so the kiosk sets them here,
before any `import kivy`, in one place: no command-line parsing by Kivy, Kivy's logging through
Python's, an offscreen window when asked (tests, benchmarks), and no Kivy files in the user's home:
KIVY_HOME is the kiosk's own (under its data dir; the tests' in a temp dir), and Kivy's config.ini
is neither read nor written (KIVY_NO_CONFIG): every setting the kiosk needs is set here from
kiosk.toml, so a stale ~/.kivy/config.ini cannot change the kiosk, and Kivy has no reason to log
"Older configuration version detected" at every start.

On the kiosk itself SDL picks the video driver: X11 or Wayland on a desktop, KMS/DRM on a Pi
with no desktop (SDL_VIDEODRIVER=kmsdrm in the unit file makes that explicit)."""

from __future__ import annotations

import logging
import os


class _NoCutbufferNoise(logging.Filter):
    """Kivy reports CRITICAL when no X11 cut-buffer tool (xclip/xsel) exists; a kiosk has no use for one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Cutbuffer:") and not str(record.msg).startswith(("xclip -", "xsel -"))


def prepare_kivy(
    width: int, height: int, kivy_home: str | None = None, fullscreen: bool = False, offscreen: bool = False
) -> None:
    """Set the environment and Kivy's Config for a window of width x height. Call before Kivy is
    imported. `kivy_home`: the folder Kivy may keep files in (the kiosk's data dir/kivy);
    `offscreen`: draw into an offscreen surface through Mesa (no display needed)."""
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ["KIVY_NO_CONFIG"] = "1"
    os.environ["KIVY_NO_FILELOG"] = "1"
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_CLIPBOARD", "dummy")  # no xclip/xsel probing on a kiosk
    if kivy_home:
        os.environ["KIVY_HOME"] = kivy_home
    if offscreen:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    logging.getLogger("kivy").addFilter(_NoCutbufferNoise())
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "keyboard_mode", "dock")  # the on-screen keyboard for the (optional) name field
    # "free" events (a card tap) run at once, mid-frame, instead of waiting for the next frame tick
    Config.set("kivy", "kivy_clock", "free_all")
