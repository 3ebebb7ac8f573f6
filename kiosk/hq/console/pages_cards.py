"""Card lifecycle at the counter: each form calls the existing kiosk/hq/admin.py operation
(the same code as `kiosk hq block-card` etc.) and writes its audit entry inside that
operation's own transaction."""

from __future__ import annotations

from urllib.parse import quote

from kiosk.hq import admin
from kiosk.hq.console import approvals, audit, members
from kiosk.hq.console.page import Ctx, NotFound, Page
from kiosk.hq.console.pages_members import member_in_reach
from kiosk.hq.db import Database
from kiosk.ledger.money import parse_yuan
from kiosk.ledger.txn import Txn


def _card(ctx: Ctx) -> tuple[str, str]:
    """(uid, member id) of the card in the URL, within the user's reach."""
    uid = ctx.param("uid").upper()
    member_id = members.member_of_card(ctx.db, uid)
    if member_id is None:
        raise NotFound(uid)
    member_in_reach(ctx, member_id)
    return uid, member_id


def _status(db: Database, uid: str) -> str:
    row = db.one("SELECT status FROM cards WHERE uid = ?", (uid,))
    return row[0] if row else ""


def recorder(ctx: Ctx, action: str, uid: str, member_id: str, extra: dict | None = None) -> admin.Recorder:
    before_status = _status(ctx.db, uid)

    def record(db: Database, txn: Txn) -> None:
        before = {"card": uid, "status": before_status, "balance_fen": txn.balance_before_fen, "points": txn.points_before}
        after = {
            "card": uid, "status": _status(db, uid), "balance_fen": txn.balance_after_fen, "points": txn.points_after,
            "txn": txn.txn_id, **(extra or {}),
        }
        if txn.new_card_uid:
            after["new_card"] = txn.new_card_uid
        if txn.amount_fen:
            after["amount_fen"] = txn.amount_fen
        audit.record(db, ctx.user.username, action, f"member:{member_id}", before, after)

    return record


def _done(member_id: str, result: str) -> Page:
    return Page(redirect=f"/members/{quote(member_id, safe='')}?done={result}")


def _refused(member_id: str, exc: Exception) -> Page:
    code = exc.code if isinstance(exc, admin.AdminError | approvals.ApprovalError) else str(exc)
    return Page(redirect=f"/members/{quote(member_id, safe='')}?error={quote(code[:80], safe='')}")


def block(ctx: Ctx) -> Page:
    uid, member_id = _card(ctx)
    reason = ctx.form.get("reason", "").strip() or "reported lost"
    try:
        admin.block_card(ctx.db, uid, reason, record=recorder(ctx, "card.block", uid, member_id, {"reason": reason}))
    except admin.AdminError as exc:
        return _refused(member_id, exc)
    return _done(member_id, "blocked")


def unblock(ctx: Ctx) -> Page:
    uid, member_id = _card(ctx)
    reason = ctx.form.get("reason", "").strip() or "found"
    try:
        admin.unblock_card(ctx.db, uid, reason, record=recorder(ctx, "card.unblock", uid, member_id, {"reason": reason}))
    except admin.AdminError as exc:
        return _refused(member_id, exc)
    return _done(member_id, "unblocked")


def replace(ctx: Ctx) -> Page:
    """补卡 onto a new card, with the rules' replacement fee."""
    return _new_card(ctx, admin.replace_card, "card.replace", "replaced")


def exchange(ctx: Ctx) -> Page:
    """换卡 of a damaged card, at once, with the rules' exchange fee."""
    return _new_card(ctx, admin.exchange_card, "card.exchange", "exchanged")


def _new_card(ctx: Ctx, operation, action: str, result: str) -> Page:
    uid, member_id = _card(ctx)
    new_uid = ctx.form.get("new_uid", "").strip().upper()
    if not new_uid or not all(c in "0123456789ABCDEF" for c in new_uid) or len(new_uid) not in (8, 14, 20):
        return _refused(member_id, ValueError("new_uid: 8, 14 or 20 hex digits"))
    try:
        operation(ctx.db, uid, new_uid, record=recorder(ctx, action, uid, member_id))
    except admin.AdminError as exc:
        return _refused(member_id, exc)
    return _done(member_id, result)


def return_preview(ctx: Ctx) -> Page:
    uid, member_id = _card(ctx)
    try:
        txn = admin.preview_return(ctx.db, uid)
    except admin.AdminError as exc:
        return _refused(member_id, exc)
    limit = approvals.thresholds(ctx.db)["return_fen"]
    return Page("return.html", {"uid": uid, "member_id": member_id, "txn": txn, "limit_fen": limit,
                                "needs_approval": txn.amount_fen > limit,
                                "forfeit_fen": txn.balance_before_fen - txn.amount_fen})


def return_card(ctx: Ctx) -> Page:
    """退卡: at once when the refund is under the threshold, else a request for finance."""
    uid, member_id = _card(ctx)
    try:
        done = approvals.return_card(ctx.db, ctx.user, uid, member_id, recorder(ctx, "card.return", uid, member_id))
    except (admin.AdminError, approvals.ApprovalError) as exc:
        return _refused(member_id, exc)
    return _done(member_id, "pending" if isinstance(done, approvals.Approval) else "returned")


def pin_reset(ctx: Ctx) -> Page:
    uid, member_id = _card(ctx)
    try:
        admin.reset_pin_lock(ctx.db, uid, record=recorder(ctx, "member.pin_reset", uid, member_id))
    except admin.AdminError as exc:
        return _refused(member_id, exc)
    return _done(member_id, "pin_reset")


def adjust(ctx: Ctx) -> Page:
    uid, member_id = _card(ctx)
    reason = ctx.form.get("reason", "").strip()
    if not reason:
        return _refused(member_id, ValueError("reason_required"))
    try:
        balance_fen = _signed_yuan(ctx.form.get("balance_yuan", "").strip() or "0")
        points = int(ctx.form.get("points", "").strip() or "0")
    except ValueError:
        return _refused(member_id, ValueError("bad_amount"))
    try:
        done = approvals.adjust(ctx.db, ctx.user, uid, member_id, balance_fen, points, reason,
                                recorder(ctx, "member.adjust", uid, member_id, {"reason": reason}))
    except (admin.AdminError, approvals.ApprovalError) as exc:
        return _refused(member_id, exc)
    return _done(member_id, "pending" if isinstance(done, approvals.Approval) else "adjusted")


def _signed_yuan(text: str) -> int:
    if text.startswith("-"):
        return -parse_yuan(text[1:])
    return parse_yuan(text.lstrip("+"))


ROUTES = [
    ("POST", "/cards/{uid}/block", "cards.block", block),
    ("POST", "/cards/{uid}/unblock", "cards.block", unblock),
    ("POST", "/cards/{uid}/replace", "cards.replace", replace),
    ("POST", "/cards/{uid}/exchange", "cards.replace", exchange),
    ("GET", "/cards/{uid}/return", "cards.return", return_preview),
    ("POST", "/cards/{uid}/return", "cards.return", return_card),
    ("POST", "/cards/{uid}/adjust", "members.adjust", adjust),
    ("POST", "/cards/{uid}/pin-reset", "cards.pin_reset", pin_reset),
]
