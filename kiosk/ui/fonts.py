"""Finding a font that has Chinese glyphs. Kivy's bundled Roboto has none, so without a CJK font
every Chinese string would render as empty boxes; the kiosk looks for one at start-up and says
clearly what to install when there is none."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Face 0 of each file must be a Simplified Chinese face: SDL_ttf always opens the first face of a .ttc.
KNOWN_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk (face 0 is JP style)
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # Debian fonts-droid-fallback
)
INSTALL_HINT = "install a Chinese font: apt-get install fonts-wqy-microhei (or fonts-noto-cjk), or set KIOSK_FONT"


@dataclass(frozen=True)
class FontChoice:
    path: str | None  # None: no CJK font; Kivy's Roboto is used and Chinese cannot be shown
    source: str  # where it came from: KIOSK_FONT, fontconfig, known path, or none


def find_cjk_font() -> FontChoice:
    """KIOSK_FONT first, then the known Debian paths, then whatever fontconfig offers for zh-cn."""
    env = os.environ.get("KIOSK_FONT", "")
    if env:
        if Path(env).is_file():
            return FontChoice(env, "KIOSK_FONT")
        log.warning("KIOSK_FONT=%s is not a file; looking for a Chinese font elsewhere", env)
    for path in KNOWN_CJK_FONTS:
        if Path(path).is_file():
            return FontChoice(path, "known path")
    found = _fontconfig_zh()
    if found:
        return FontChoice(found, "fontconfig")
    return FontChoice(None, "none")


def _fontconfig_zh() -> str | None:
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.strip().rstrip(":") for line in out.splitlines() if line.strip())
    return next((f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc"))), None)
