"""Four eyes on large money moves: an adjustment above a threshold waits for a second admin or
finance user, a return (退卡) whose refund is above a threshold waits for finance. Nobody
approves their own request. Below the thresholds the operation runs at once, as before.

Thresholds live in HQ's `settings` table (keys in THRESHOLD_KEYS, integers: fen or points), set
by an admin on the console's Approvals page (audited); unset, the defaults below apply.

Approving runs the existing kiosk/hq/admin.py operation (adjust, return_card); inside that
operation's own SQL transaction the approval row turns from pending to approved (only if it is
still pending: two approvers racing cannot run it twice) and the audit entry is written. A
request and a rejection are audited too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.hq import admin
from kiosk.hq.console import audit
from kiosk.hq.console.auth import User
from kiosk.hq.db import Database
from kiosk.hq.ledger import now_text
from kiosk.hq.publisher import get_setting, put_setting
from kiosk.ledger.txn import Txn

DEFAULTS = {"adjust_fen": 50_000, "adjust_points": 5_000, "return_fen": 100_000}
THRESHOLD_KEYS = {name: f"console_approval_{name}" for name in DEFAULTS}
# who may approve which kind of request (besides never the requester)
APPROVERS = {"adjust": frozenset({"admin", "finance"}), "return": frozenset({"finance"})}


class ApprovalError(Exception):
    """A request or decision refused; `code` is shown to the user (and is an i18n key's value)."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class Approval:
    id: int
    kind: str  # adjust | return
    card_uid: str
    member_id: str
    balance_fen: int  # adjust: the change; return: the refund previewed at the request
    points: int
    reason: str
    requested_by: str
    requested_at: str
    status: str  # pending | approved | rejected
    decided_by: str
    decided_at: str
    txn_id: str


def thresholds(db: Database) -> dict[str, int]:
    found = {}
    for name, default in DEFAULTS.items():
        text = get_setting(db, THRESHOLD_KEYS[name], "")
        found[name] = int(text) if text.isdigit() else default
    return found


def set_thresholds(db: Database, user: User, new: dict[str, int]) -> None:
    if set(new) != set(DEFAULTS) or any(not isinstance(v, int) or v < 0 for v in new.values()):
        raise ApprovalError("bad_threshold")

    def work(db: Database) -> None:
        before = thresholds(db)
        for name, value in new.items():
            put_setting(db, THRESHOLD_KEYS[name], str(value))
        audit.record(db, user.username, "approval.thresholds", "settings:approvals", before, new)

    db.run(work)


def needs_adjust_approval(limits: dict[str, int], balance_fen: int, points: int) -> bool:
    return abs(balance_fen) > limits["adjust_fen"] or abs(points) > limits["adjust_points"]


_COLUMNS = ("id, kind, card_uid, member_id, balance_fen, points, reason, requested_by, requested_at, status, "
            "decided_by, decided_at, txn_id")


def _row(r: tuple) -> Approval:
    return Approval(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), *r[6:])


def _request(db: Database, user: User, kind: str, uid: str, member_id: str, balance_fen: int, points: int,
             reason: str) -> Approval:
    def work(db: Database) -> Approval:
        if db.one("SELECT 1 FROM approvals WHERE status = 'pending' AND kind = ? AND card_uid = ?", (kind, uid)):
            raise ApprovalError("already_pending")
        row = db.one("SELECT MAX(id) FROM approvals")
        new = Approval(int(row[0] or 0) + 1, kind, uid, member_id, balance_fen, points, reason, user.username,
                       now_text(), "pending", "", "", "")
        db.execute(f"INSERT INTO approvals ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                   (new.id, kind, uid, member_id, balance_fen, points, reason, user.username, new.requested_at,
                    "pending", "", "", ""))
        audit.record(db, user.username, f"approval.request.{kind}", f"member:{member_id}", {},
                     {"approval": new.id, "card": uid, "balance_fen": balance_fen, "points": points, "reason": reason})
        return new

    return db.run(work)


def adjust(db: Database, user: User, uid: str, member_id: str, balance_fen: int, points: int, reason: str,
           record: admin.Recorder) -> Approval | Txn:
    """The adjustment now (a Txn) when under the thresholds, else a pending Approval."""
    if needs_adjust_approval(thresholds(db), balance_fen, points):
        return _request(db, user, "adjust", uid, member_id, balance_fen, points, reason)
    return admin.adjust(db, uid, balance_fen, points, reason, record=record)


def return_card(db: Database, user: User, uid: str, member_id: str, record: admin.Recorder) -> Approval | Txn:
    """The return now (a Txn) when its refund is under the threshold, else a pending Approval."""
    refund = admin.preview_return(db, uid).amount_fen
    if refund > thresholds(db)["return_fen"]:
        return _request(db, user, "return", uid, member_id, refund, 0, "")
    return admin.return_card(db, uid, record=record)


def get(db: Database, approval_id: int) -> Approval | None:
    row = db.one(f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (approval_id,))
    return _row(row) if row else None


def listed(db: Database, status: str = "pending", member_id: str = "", limit: int = 200) -> list[Approval]:
    sql, params = f"SELECT {_COLUMNS} FROM approvals WHERE status = ?", [status]
    if member_id:
        sql += " AND member_id = ?"
        params.append(member_id)
    return [_row(r) for r in db.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))]


def decided(db: Database, limit: int = 50) -> list[Approval]:
    return [_row(r) for r in db.all(f"SELECT {_COLUMNS} FROM approvals WHERE status <> 'pending' ORDER BY id DESC LIMIT ?",
                                    (limit,))]


def may_decide(user: User, approval: Approval) -> bool:
    return approval.status == "pending" and user.role in APPROVERS[approval.kind] and user.username != approval.requested_by


def _check(user: User, approval: Approval | None) -> Approval:
    if approval is None:
        raise ApprovalError("unknown_approval")
    if approval.status != "pending":
        raise ApprovalError("already_decided")
    if user.username == approval.requested_by:
        raise ApprovalError("own_request")
    if user.role not in APPROVERS[approval.kind]:
        raise ApprovalError("finance_only" if approval.kind == "return" else "not_an_approver")
    return approval


def _close(db: Database, approval: Approval, user: User, status: str, txn_id: str) -> None:
    """pending -> status, only while still pending (else the whole transaction is undone)."""
    done = db.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, txn_id = ? WHERE id = ? AND status = 'pending'",
        (status, user.username, now_text(), txn_id, approval.id),
    )
    if done.rowcount != 1:
        raise ApprovalError("already_decided")


def approve(db: Database, user: User, approval_id: int, record: Callable[[Approval], admin.Recorder]) -> Txn:
    """Run the approved operation; `record(approval)` gives the operation's audit recorder."""
    approval = _check(user, get(db, approval_id))
    audit_change = record(approval)

    def closing(db: Database, txn: Txn) -> None:
        _close(db, approval, user, "approved", txn.txn_id)
        audit_change(db, txn)

    if approval.kind == "adjust":
        return admin.adjust(db, approval.card_uid, approval.balance_fen, approval.points, approval.reason,
                            record=closing)
    return admin.return_card(db, approval.card_uid, record=closing)


def reject(db: Database, user: User, approval_id: int) -> None:
    approval = _check(user, get(db, approval_id))

    def work(db: Database) -> None:
        _close(db, approval, user, "rejected", "")
        audit.record(db, user.username, f"approval.reject.{approval.kind}", f"member:{approval.member_id}",
                     {"approval": approval.id, "status": "pending"}, {"approval": approval.id, "status": "rejected"})

    db.run(work)
