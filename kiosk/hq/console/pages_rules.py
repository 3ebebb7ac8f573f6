"""The rules page: the document as a form one section at a time, errors beside their field, a
review of the changes against the rules in force, publishing to the chain or to chosen stores,
which version each kiosk runs, and the JSON in and out.

The draft travels in the form itself (a hidden copy of the whole document), so nothing is kept
at HQ until it is published, and two people drafting at once cannot disturb each other."""

from __future__ import annotations

import json
from importlib.resources import files

from starlette.responses import Response

from kiosk.hq import admin, devices
from kiosk.hq.console import audit, rules_diff, rules_form
from kiosk.hq.console.page import Ctx, Page
from kiosk.hq.rules_scopes import highest_version, own_stores, rules_for_store, scoped_rules
from kiosk.ledger import strict_json
from kiosk.ledger.rules import RulesError, parse_rules
from kiosk.ledger.sample import default_rules

REVIEW = "review"


def _in_force(ctx: Ctx, store: str = "") -> dict:
    found = rules_for_store(ctx.db, store) if store else scoped_rules(ctx.db)
    if found:
        return found[0]
    # nothing published yet: the built-in rules are in force
    return json.loads(files("kiosk.data").joinpath("rules.default.json").read_text(encoding="utf-8"))


def next_version(ctx: Ctx) -> int:
    """Above every version published anywhere and above the built-in rules kiosks start with."""
    return max(highest_version(ctx.db), default_rules().version) + 1


def _kiosks(ctx: Ctx) -> list[tuple[devices.Device, int, int]]:
    """Each kiosk with the version it says it runs (its status) and the one its store should run."""
    heard = devices.health(ctx.db)
    rows = []
    for d in devices.list_devices(ctx.db):
        found = rules_for_store(ctx.db, d.store)
        should = found[1].version if found else default_rules().version  # nothing published: the built-in
        rows.append((d, int(heard.get(d.device_id, {}).get("rules_version", 0)), should))
    return rows


def editor(ctx: Ctx, doc: dict, slug: str = "", error: tuple[str, str] | None = None, status: int = 200,
           import_error: str = "", import_text: str = "") -> Page:
    """One section of `doc` as a form; `error` is (input name or "", problem) for that section."""
    sections = rules_form.sections_for(doc)
    section = rules_form.find(sections, slug)
    scopes = [("", scoped_rules(ctx.db))] + [(s, scoped_rules(ctx.db, s)) for s in own_stores(ctx.db)]
    return Page("rules.html", {
        "doc": doc, "draft": json.dumps(doc, ensure_ascii=False), "sections": sections, "section": section,
        "rows": rules_form.rows_of(doc, section), "value": lambda f, i=None: _value(doc, section, f, i),
        "name": rules_form.name, "error": error, "import_error": import_error, "import_text": import_text,
        "scopes": [(s, f[1].version) for s, f in scopes if f], "kiosks": _kiosks(ctx),
        "done": ctx.query("done"), "next_version": next_version(ctx),
    }, status=status)


def _value(doc: dict, section: rules_form.Section, field: rules_form.Field, index: int | None) -> str:
    item = rules_form.rows_of(doc, section)[index] if index is not None else rules_form._get(doc, section.path) if section.path else doc
    return rules_form.shown(field.kind, rules_form._get(item, field.key)) if isinstance(item, dict) else ""


def rules(ctx: Ctx) -> Page:
    return editor(ctx, _in_force(ctx), ctx.query("section"))


def draft(ctx: Ctx) -> Page:
    """A section typed in: move to another section, or check the whole draft and review it."""
    if "import" in ctx.form:
        try:
            doc = strict_json.loads(ctx.form["import"])
            if not isinstance(doc, dict):
                raise strict_json.JsonError("the document must be a JSON object")
        except strict_json.JsonError as exc:
            return editor(ctx, _in_force(ctx), error=None, status=400, import_text=ctx.form["import"],
                          import_error=f"{exc.where}: {exc.problem}" if exc.where else exc.problem)
    else:
        try:
            doc = json.loads(ctx.form.get("draft", ""))
        except ValueError:
            return Page("error.html", {"message": "The form expired: please try again."}, status=400)
        if not isinstance(doc, dict):
            return Page("error.html", {"message": "The form expired: please try again."}, status=400)
        doc = rules_form.merge(doc, rules_form.find(rules_form.sections_for(doc), ctx.form.get("section", "")), ctx.form)
    go = ctx.form.get("go", REVIEW)
    if go != REVIEW:
        return editor(ctx, doc, go)
    doc["version"] = next_version(ctx)
    try:
        parse_rules(doc, "form")
    except RulesError as exc:
        sections = rules_form.sections_for(doc)
        section, field = rules_form.locate(sections, doc, exc.field)
        return editor(ctx, doc, section.slug, (field, f"{exc.field}: {exc.problem}" if not field else exc.problem), 400)
    return review(ctx, doc)


def review(ctx: Ctx, doc: dict, error: str = "", status: int = 200) -> Page:
    stores = sorted({d.store for d in devices.list_devices(ctx.db)} | set(own_stores(ctx.db)))
    return Page("rules_review.html", {
        "document": json.dumps(doc, ensure_ascii=False, indent=1), "version": doc.get("version"),
        "changes": rules_diff.changes(_in_force(ctx), doc), "in_force": scoped_rules(ctx.db),
        "stores": stores, "error": error,
    }, status=status)


def publish(ctx: Ctx) -> Page:
    """Publish a reviewed document (or one pasted whole, as before) to the chain or to stores."""
    text = ctx.form.get("document", "")
    stores = tuple(sorted({k.split(":", 1)[1] for k, v in ctx.form.items() if k.startswith("store:") and v}
                          | {s.strip() for s in ctx.form.get("stores", "").split(",") if s.strip()}))
    if ctx.form.get("scope") == "stores" and not stores:
        return _refused(ctx, text, "Choose at least one store, or publish to the whole chain.")
    if ctx.form.get("scope") != "stores":
        stores = ()

    def record(db, before: int, published) -> None:
        audit.record(db, ctx.user.username, "rules.publish", "rules:" + (",".join(stores) or "chain"),
                     {"version": before}, {"version": published.version, "stores": list(stores)})

    try:
        admin.publish_rules(ctx.db, text, "form", stores=stores, record=record)
    except admin.AdminError as exc:
        return _refused(ctx, text, exc.detail or exc.code)
    return Page(redirect=f"/rules?done={','.join(stores) or 'chain'}")


def _refused(ctx: Ctx, text: str, problem: str) -> Page:
    try:
        doc = strict_json.loads(text)
    except strict_json.JsonError as exc:
        return editor(ctx, _in_force(ctx), status=400, import_text=text, import_error=exc.problem)
    if not isinstance(doc, dict):
        return editor(ctx, _in_force(ctx), status=400, import_text=text, import_error=problem)
    try:
        parse_rules(doc, "form")
    except RulesError as exc:
        section, field = rules_form.locate(rules_form.sections_for(doc), doc, exc.field)
        return editor(ctx, doc, section.slug, (field, f"{exc.field}: {exc.problem}" if not field else exc.problem), 400)
    return review(ctx, doc, problem, 409)


def export(ctx: Ctx) -> Page:
    """The document in force (the chain's, or a store's with ?store=) as a JSON file."""
    store = ctx.query("store")
    if store and store not in own_stores(ctx.db):
        store = ""
    body = json.dumps(_in_force(ctx, store), ensure_ascii=False, indent=2) + "\n"
    name = f"rules-{store or 'chain'}.json"
    return Page(raw=Response(body, media_type="application/json",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'}))


ROUTES = [
    ("GET", "/rules", "rules.view", rules),
    ("GET", "/rules/export", "rules.view", export),
    ("POST", "/rules/draft", "rules.publish", draft),
    ("POST", "/rules", "rules.publish", publish),
]
