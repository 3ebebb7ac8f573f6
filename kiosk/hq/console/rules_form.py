"""The rules document as a form: each section is a small table of fields, not HTML per field.

A field's name is its path in the document (`points.fen_per_point`, `tiers[1].name.en`), the
same path `kiosk.ledger.rules.parse_rules` names when it refuses something, so an error finds
its field by the path alone. A section of the document this table does not describe (one added
to the rules later) gets its fields from the document itself: the form grows with the rules.
The form only moves values in and out of the JSON; the parser stays the one checker."""

from __future__ import annotations

import re
from dataclasses import dataclass

INT, BOOL, TEXT, INTS, WORDS = "int", "bool", "text", "ints", "words"  # how a field is typed in


@dataclass(frozen=True)
class Field:
    key: str  # the path inside the section (or inside one row of a list section)
    label: str
    kind: str = INT


@dataclass(frozen=True)
class Section:
    path: str  # "" for the document's own fields, "topup.bonus_steps" for a list inside a section
    title: str
    fields: tuple[Field, ...]
    rows: bool = False  # a list of objects: one table row per item, a blank row to add one

    @property
    def slug(self) -> str:
        return self.path.replace(".", "-") or "general"


LABELS = {
    "timezone": "Time zone", "id": "Id", "name.zh_CN": "Name (中文)", "name.en": "Name (English)",
    "min_topup_12m_fen": "Top-ups in 12 months from (fen)", "points_multiplier_pct": "Points multiplier (%)",
    "discount_pct": "Price paid (%)", "fen_per_point": "Fen per point", "earn_on_topup": "Points on top-ups",
    "earn_on_spend": "Points on spending", "expiry_months": "Points expire after (months)",
    "min_fen": "From (fen)", "max_fen": "Up to (fen)", "presets_fen": "Preset amounts (fen, comma-separated)",
    "bonus_fen": "Bonus (fen)", "points_cost": "Points cost", "stock": "Stock", "valid_from": "Valid from",
    "valid_to": "Valid until", "image": "Picture file", "flexible.min_points": "Flexible: min points",
    "flexible.max_points": "Flexible: max points", "flexible.step_points": "Flexible: step",
    "flexible.fen_per_point": "Flexible: fen per point", "gift.points": "Gift points",
    "gift.balance_fen": "Gift balance (fen)", "window_days": "Window (days either side)", "points": "Points",
    "balance_fen": "Balance (fen)", "length": "PIN length", "required_for_redemption": "PIN for rewards",
    "spend_threshold_fen": "PIN for spending above (fen)", "max_attempts": "Wrong PINs before the lock",
    "lockout_minutes": "Lock (minutes)", "after_hours": "Offline limit after (hours)",
    "max_spend_fen_per_card": "Offline spending per card (fen)", "forfeit_bonus": "Bonus forfeited on return",
    "checkin_points": "Check-in points", "streak_days": "Streak (days)", "streak_bonus_points": "Streak bonus points",
    "referrer_points": "Referrer points", "referee_points": "New member's referral points",
    "survey_reasons": "Survey reasons (comma-separated)", "active_days": "Active within (days)",
    "at_risk_days": "At risk after (days)", "dormant_days": "Dormant after (days)",
    "card_fee_fen": "Card fee (fen)", "waiver_topup_fen": "Waived with a first top-up from (fen)",
    "replacement_fee_fen": "Replacement fee (fen)", "exchange_fee_fen": "Exchange fee (fen)",
    "first_day": "First day (YYYY-MM-DD)", "last_day": "Last day (YYYY-MM-DD)",
    "per_card_fen": "Reward per card sold (fen)", "reward_fen": "Reward (fen)",
}


def _f(*specs: str) -> tuple[Field, ...]:
    """"key:kind" or "key" (an integer); the label from LABELS."""
    return tuple(Field(k, LABELS.get(k, k), kind or INT) for k, _, kind in (s.partition(":") for s in specs))


_NAME = ("name.zh_CN:text", "name.en:text")
SECTIONS = (
    Section("", "General", _f("timezone:text")),
    Section("tiers", "Tiers", _f("id:text", *_NAME, "min_topup_12m_fen", "points_multiplier_pct", "discount_pct"), rows=True),
    Section("points", "Points", _f("fen_per_point", "earn_on_topup:bool", "earn_on_spend:bool", "expiry_months")),
    Section("topup", "Top-up", _f("min_fen", "max_fen", "presets_fen:ints")),
    Section("topup.bonus_steps", "Top-up bonus steps", _f("min_fen", "bonus_fen"), rows=True),
    Section("rewards", "Rewards", _f(
        "id:text", *_NAME, "points_cost", "stock", "valid_from:text", "valid_to:text", "image:text",
        "flexible.min_points", "flexible.max_points", "flexible.step_points", "flexible.fen_per_point"), rows=True),
    Section("birthday", "Birthday gift", _f("gift.points", "gift.balance_fen", "window_days")),
    Section("new_member", "New member gift", _f("points", "balance_fen")),
    Section("pin", "PIN", _f("length", "required_for_redemption:bool", "spend_threshold_fen", "max_attempts", "lockout_minutes")),
    Section("offline", "Offline policy", _f("after_hours", "max_spend_fen_per_card")),
    Section("card_return", "Card return", _f("forfeit_bonus:bool")),
    Section("engagement", "Engagement", _f(
        "checkin_points", "streak_days", "streak_bonus_points", "referrer_points", "referee_points", "survey_reasons:words")),
    Section("segments", "Segments", _f("active_days", "at_risk_days", "dormant_days")),
    # card fees and staff sales rewards (kiosk/ledger/sales_rules.py)
    Section("fees", "Card fees", _f("card_fee_fen", "waiver_topup_fen", "replacement_fee_fen", "exchange_fee_fen")),
    Section("fees.free_card_campaigns", "Free-card campaigns", _f("id:text", "first_day:text", "last_day:text"), rows=True),
    Section("staff_rewards", "Staff sales rewards", _f("per_card_fen")),
    Section("staff_rewards.topup_steps", "Staff rewards for top-ups", _f("min_fen", "reward_fen"), rows=True),
)
_SKIP = frozenset({"version", "comment"})  # the version is set at review; comments stay as they are


def sections_for(doc: dict) -> list[Section]:
    """The table's sections, then one for each top-level object or list the table does not know."""
    known = {s.path.split(".")[0] for s in SECTIONS}
    extra = []
    for key, value in doc.items():
        if key in known or key in _SKIP:
            continue
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            keys = sorted({k for item in value for k in _leaves(item)})
            extra.append(Section(key, key, tuple(Field(k, k, _kind_of(_get(value[0], k) if value else 0)) for k in keys), rows=True))
        elif isinstance(value, dict):
            extra.append(Section(key, key, tuple(Field(k, k, _kind_of(_get(value, k))) for k in _leaves(value))))
    return [*SECTIONS, *extra]


def find(sections: list[Section], slug: str) -> Section:
    return next((s for s in sections if s.slug == slug), sections[0])


def _leaves(obj: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in obj.items():
        if key == "comment":
            continue
        if isinstance(value, dict):
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, list):
        return INTS if all(isinstance(v, int) for v in value) else WORDS
    return INT if isinstance(value, int) else TEXT


def _get(obj: object, path: str) -> object:
    for part in path.split(".") if path else ():
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _set(obj: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for part in parents:
        child = obj.get(part)
        if not isinstance(child, dict):
            child = obj[part] = {}
        obj = child
    if value is None:
        obj.pop(last, None)
    else:
        obj[last] = value


def shown(kind: str, value: object) -> str:
    """A document value as the form shows it."""
    if value is None:
        return ""
    if kind in (INTS, WORDS) and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _typed(kind: str, text: str) -> object:
    """Typed-in text as the document's value; what cannot be read stays text, so the parser
    names the field ("must be an integer, got 'abc'")."""
    text = text.strip()
    if kind == BOOL:
        return text == "on"
    if kind in (INTS, WORDS) and not text:
        return []  # a list emptied stays a list (the parser wants one)
    if not text:
        return None
    if kind == INT:
        return int(text) if re.fullmatch(r"-?\d{1,12}", text) else text
    if kind in (INTS, WORDS):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return [int(p) if kind == INTS and re.fullmatch(r"-?\d{1,12}", p) else p for p in parts]
    return text


def rows_of(doc: dict, section: Section) -> list[dict]:
    value = _get(doc, section.path)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def name(section: Section, field: Field, index: int | None = None) -> str:
    """The input's name: the field's path in the document."""
    base = f"{section.path}[{index}]" if index is not None else section.path
    return f"{base}.{field.key}" if base else field.key


def merge(doc: dict, section: Section, form: dict[str, str]) -> dict:
    """The document with this section's fields taken from the form (a copy). In a list section a
    row ticked "remove" goes, and the blank row at the end becomes an item once anything is typed in."""
    import copy

    top = section.path.split(".")[0]
    if top and top not in doc:  # an optional section the document has not got: only if something is typed in
        merged = merge({**doc, top: {}}, section, form)
        if _blank(merged[top]):
            del merged[top]
        return merged
    doc = copy.deepcopy(doc)
    if not section.rows:
        target = _get(doc, section.path) if section.path else doc
        if not isinstance(target, dict):
            target = {}
            _set(doc, section.path, target)
        for field in section.fields:
            if field.kind == BOOL or name(section, field) in form:
                _put(target, field, form.get(name(section, field), ""))
        return doc
    items = rows_of(doc, section)
    kept = []
    for index in range(len(items) + 1):
        if form.get(f"{section.path}[{index}]!remove") == "on":
            continue
        item = items[index] if index < len(items) else {}
        typed = {f.key: form.get(name(section, f, index), "") for f in section.fields}
        if index == len(items) and not any(v.strip() for v in typed.values()):
            continue
        for field in section.fields:
            if field.kind == BOOL or name(section, field, index) in form:
                _put(item, field, typed[field.key])
        for key in [k for k, v in item.items() if isinstance(v, dict) and not v]:
            del item[key]  # an optional object left empty (a reward's "flexible") is no object
        kept.append(item)
    _set(doc, section.path, kept)
    return doc


def _blank(value: object) -> bool:
    """Nothing in it but empty objects and lists."""
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    return value == []


def _put(obj: dict, field: Field, text: str) -> None:
    """One field typed in; left empty where the document had nothing (no value, or a name given
    as one plain string rather than zh_CN/en), the document stays as it was."""
    value = _typed(field.kind, text)
    if value in ([], None) and _get(obj, field.key) is None:
        return
    _set(obj, field.key, value)


_STEP = re.compile(r"\.|(?=\[)")


def locate(sections: list[Section], doc: dict, path: str) -> tuple[Section, str]:
    """The section and input name an error's path points at ("" when it is about the whole
    section, as "tiers: tier ids must be unique" is)."""
    names = [(s, name(s, f, i)) for s in sections for i in (range(len(rows_of(doc, s))) if s.rows else [None])
             for f in s.fields]
    for section, field_name in names:
        if field_name == path:
            return section, field_name
    whole = [s for s in sections if s.path and s.path == path]
    if whole:  # "tiers: tier ids must be unique" is about the section, not one field
        return whole[0], ""
    above = [(s, n) for s, n in names if path.startswith(n) and _STEP.match(path[len(n):])]
    if above:
        return max(above, key=lambda sn: len(sn[1]))
    below = [(s, n) for s, n in names if n.startswith(path) and _STEP.match(n[len(path):])]
    if below:
        return below[0][0], below[0][1]
    owners = [s for s in sections if s.path and (path == s.path or path.startswith(s.path) and _STEP.match(path[len(s.path):]))]
    return (max(owners, key=lambda s: len(s.path)) if owners else sections[0]), ""
