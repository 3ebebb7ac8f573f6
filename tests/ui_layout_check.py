"""Child process of test_ui_layout: opens a window of the size given (WIDTHxHEIGHT), drives every
journey, and at each screen checks the layout in both languages. Prints one JSON line.
`WIDTHxHEIGHT counter [SHOTS_DIR]`: the counter device's layout, on the journeys a counter
shows (the charge; with KIOSK_FULL=1 the others too), saving each screen in both languages to
SHOTS_DIR if given."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import ui_flows  # noqa: E402
from tests.session_support import make_kiosk  # noqa: E402
from tests.ui_harness import UiDriver, glyph_problems, layout_problems, open_window  # noqa: E402

FULL = os.environ.get("KIOSK_FULL") == "1"


def main(size: str, role: str = "kiosk", shots: str = "") -> int:
    width, height = (int(v) for v in size.split("x"))
    open_window(width, height)
    from kiosk.ui.i18n import translator

    problems: list[str] = []
    visited: list[str] = []
    journeys = (ui_flows.sign_up, ui_flows.top_up, ui_flows.redeem, ui_flows.pin_lockout, ui_flows.short_paths,
                ui_flows.engage, ui_flows.charge, ui_flows.profile, ui_flows.staff_notes, ui_flows.card_write)
    if role == "counter":  # its charge screens and the counter top-up (its keypad); with KIOSK_FULL=1 every journey
        journeys = journeys if FULL else (ui_flows.charge, ui_flows.top_up)
    for n, journey in enumerate(journeys):
        kiosk = make_kiosk(Path(tempfile.mkdtemp(prefix=f"kiosk-layout-{n}-")))
        ui_flows.seed(kiosk)
        from kiosk.ui.app import KioskApp

        ui = UiDriver(kiosk, width, height, app=KioskApp(kiosk.session, pump=False, role=role))

        def visit(name: str, ui=ui) -> None:
            for locale in ("zh_CN", "en"):
                translator().set_locale(locale)
                problems.extend(layout_problems(ui, f"{size} {locale} {name}"))
                problems.extend(glyph_problems(ui, f"{size} {locale} {name}"))
                if shots:
                    ui.screenshot(Path(shots) / f"{role}_{name}.{locale}.png")
            translator().set_locale("zh_CN")
            visited.append(name)

        journey(ui, visit)
        kiosk.store.close()
    # the check itself must be able to fail: a title far too long for its box has to be reported
    ui.screen.title.text = "会员" * 200
    detects_clipping = bool(layout_problems(ui, "self-check"))
    # ... and so must the glyph check: Chinese in the digits-only font (Roboto Bold) is tofu
    from kiosk.ui.widgets import NUMBER_FONT

    ui.screen.title.font_name = NUMBER_FONT
    detects_tofu = bool(glyph_problems(ui, "self-check"))
    result = {"size": size, "visited": visited, "problems": problems, "detects_clipping": detects_clipping,
              "detects_tofu": detects_tofu}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
