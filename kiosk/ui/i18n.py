"""Every string the screens show goes through here: GNU gettext catalogues in kiosk/locale
(.po sources, .mo compiled and committed so the kiosk needs no build tools; `make locale`
recompiles them and a test keeps the two in step). zh_CN is the default; the member can switch
to English on screen, and the screens re-render in the new language.

Message ids are the English text. Names that come with the rules (tiers, rewards) carry both
languages themselves (LocalText) and are picked with `local_text`."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}  # each language's own name, on the switch button


class MissingCatalogue(RuntimeError):
    """A compiled catalogue (.mo) is missing: the package was built without `make locale`."""


def _load(locale: str) -> gettext.GNUTranslations:
    try:
        return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[locale])
    except FileNotFoundError:
        raise MissingCatalogue(
            f"no compiled catalogue {LOCALE_DIR}/{locale}/LC_MESSAGES/{DOMAIN}.mo (run `make locale`)"
        ) from None


class Translator:
    """The language in force and its catalogue; listeners re-render when it changes."""

    def __init__(self, locale: str = DEFAULT_LOCALE):
        self._catalogues = {name: _load(name) for name in LOCALES}
        self._listeners: list[Callable[[str], None]] = []
        self.locale = DEFAULT_LOCALE
        self.set_locale(locale)

    def set_locale(self, locale: str) -> None:
        if locale not in LOCALES:
            raise ValueError(f"unknown locale {locale!r} (expected one of {LOCALES})")
        changed = locale != self.locale
        self.locale = locale
        if changed:
            for listener in list(self._listeners):
                listener(locale)

    def other_locale(self) -> str:
        return LOCALES[(LOCALES.index(self.locale) + 1) % len(LOCALES)]

    def toggle(self) -> str:
        """Switch to the other language (there are two) and return it."""
        self.set_locale(self.other_locale())
        return self.locale

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def gettext(self, message: str) -> str:
        return self._catalogues[self.locale].gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalogues[self.locale].ngettext(singular, plural, n)


_translator: Translator | None = None


def translator() -> Translator:
    global _translator
    if _translator is None:
        _translator = Translator()
    return _translator


def _(message: str) -> str:
    """The message in the current language."""
    return translator().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translator().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


def local_text(text) -> str:
    """A LocalText from the rules (tier or reward name) in the current language."""
    return text.get(translator().locale)
