"""The translation mechanism: every UI string extracted from the sources is translated in both
catalogues, the committed .mo files say what the .po sources say, placeholders survive
translation, and every message code the session documents has a sentence."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po

from kiosk.ui import i18n
from kiosk.ui.messages import TEMPLATES, UNKNOWN, render_message

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)")
SESSION_CODES = (  # docs: SESSION_API.md "Message codes"
    "topup_done", "redeem_done", "signup_done", "card_blocked", "card_replaced", "card_returned",
    "card_not_recognised", "card_unknown_here", "card_unknown_offline", "card_data_missing", "payment_unavailable", "payment_cancelled",
    "payment_timeout", "payment_failed", "paid_not_credited", "pin_wrong", "pin_mismatch", "bad_pin_format",
    "pin_too_simple", "amount_out_of_range", "balance_limit", "bad_phone", "phone_in_use", "bad_name",
    "bad_birthday", "insufficient_points", "out_of_stock", "bad_points_choice", "reward_not_available",
    "card_write_failed", "card_writer_unavailable", "store_failed", "rules_reloaded", "rules_reload_failed",
    "rules_reload_unavailable", "card_read_failed", "money_paused", "error",
    "checked_in", "already_checked_in", "check_in_disabled", "survey_thanks", "bad_rating", "bad_survey_reason",
    "unknown_referral_code", "clock_not_trusted",
    "charge_done", "charge_cancelled", "charge_timed_out", "charge_card_not_member", "charge_insufficient_balance",
    "order_already_charged", "bad_order_id", "kiosk_busy", "offline_limit", "insufficient_balance",
)


def extracted() -> set:
    """What `make locale` extracts: kiosk/ui, the receipts, the simulated card desk's button
    labels and the ledger's activity names."""
    found = [
        item[2]
        for folder in ("ui", "receipt")
        for item in extract_from_dir(str(ROOT / "kiosk" / folder), keywords=KEYWORDS)
    ]
    for source in ("app/simulate.py", "ledger/kinds.py"):
        with open(ROOT / "kiosk" / source, "rb") as f:
            found += [item[1] for item in extract("python", f, keywords=KEYWORDS)]
    assert len(found) > 100
    return {m if isinstance(m, str) else tuple(m) for m in found}


def catalogue(locale: str):
    with open(ROOT / "kiosk" / "locale" / locale / "LC_MESSAGES" / "kiosk.po", "rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_ui_string_is_translated(locale):
    cat = catalogue(locale)
    have = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in cat if m.id}
    missing = sorted(str(m) for m in extracted() if m not in have)
    assert missing == []
    untranslated = [m.id for m in have.values() if not (m.string if isinstance(m.string, str) else all(m.string))]
    assert untranslated == []


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_compiled_catalogue_matches_its_source(locale):
    po = catalogue(locale)
    with open(ROOT / "kiosk" / "locale" / locale / "LC_MESSAGES" / "kiosk.mo", "rb") as f:
        mo = gettext.GNUTranslations(f)
    for message in po:
        if not message.id:
            continue
        if isinstance(message.id, str):
            assert mo.gettext(message.id) == message.string, "run `make locale`"
        else:
            assert mo.ngettext(message.id[0], message.id[1], 1) == message.string[0], "run `make locale`"


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_placeholders_survive_translation(locale):
    for message in catalogue(locale):
        if not message.id or not isinstance(message.id, str):
            continue
        assert set(PLACEHOLDER.findall(message.string)) <= set(PLACEHOLDER.findall(message.id)), message.id


def test_chinese_is_the_default_and_the_switch_goes_both_ways():
    t = i18n.Translator()
    seen = []
    t.on_change(seen.append)
    assert t.locale == "zh_CN" and t.gettext("Tap your card") == "请刷会员卡"
    assert t.toggle() == "en" and t.gettext("Tap your card") == "Tap your card"
    assert t.toggle() == "zh_CN"
    assert seen == ["en", "zh_CN"]
    with pytest.raises(ValueError):
        t.set_locale("fr")
    assert t.locale == "zh_CN"


def test_plural_forms_follow_each_language():
    t = i18n.Translator("en")
    assert t.ngettext("{n} attempt left", "{n} attempts left", 1) == "{n} attempt left"
    assert t.ngettext("{n} attempt left", "{n} attempts left", 3) == "{n} attempts left"
    t.set_locale("zh_CN")
    assert t.ngettext("{n} attempt left", "{n} attempts left", 3) == "还可尝试 {n} 次"


@pytest.mark.parametrize("code", SESSION_CODES)
def test_every_session_message_code_has_a_sentence_in_both_languages(code):
    assert code in TEMPLATES
    params = {"amount_fen": 50000, "bonus_fen": 2500, "balance_fen": 131450, "points": 100, "points_used": 300,
              "attempts_left": 3, "min_fen": 1000, "max_fen": 500000, "paid_fen": 10000, "length": 6,
              "version": 2, "error": "bad json", "minutes": 1, "seconds": 5, "streak": 7, "total_points": 335,
              "streak_bonus": 30, "stars": 4, "referral_points": 100, "discount_fen": 640}
    for locale in i18n.LOCALES:
        i18n.translator().set_locale(locale)
        text = render_message(code, params)
        assert "{" not in text and code not in text
    i18n.translator().set_locale("zh_CN")


def test_money_in_messages_is_formatted_from_fen():
    i18n.translator().set_locale("en")
    try:
        text = render_message("topup_done", {"amount_fen": 50000, "bonus_fen": 2500, "balance_fen": 131450})
    finally:
        i18n.translator().set_locale("zh_CN")
    assert text == "Topped up ¥500.00 with ¥25.00 bonus. Balance now ¥1,314.50."


def test_an_unknown_code_still_says_something_and_names_itself():
    text = render_message("brand_new_code", {"x": 1})
    assert "brand_new_code" in text and text == i18n._(UNKNOWN).format(code="brand_new_code")
