"""Four eyes over HTTP against the real server: a large adjustment waits for a second admin or
finance user, a large return waits for finance, nobody approves their own request, and the
operation runs once through kiosk/hq/admin.py with its audit entries; PIN reset."""

from __future__ import annotations

import json

from kiosk.hq.console import approvals
from tests.hq.console.conftest import csrf_of, http_client

UID = "04A1B2C3"  # 张三, S1, ¥100 topped up


def _post(client, path: str, **data):
    return client.post(path, data={"csrf": csrf_of(client), **data})


def _balance(console) -> int:
    db = console.db()
    member = db.one("SELECT member_id FROM cards WHERE uid = ?", (UID,))[0]
    balance = int(db.one("SELECT balance_fen FROM accounts WHERE member_id = ?", (member,))[0])
    db.close()
    return balance


def _set_limits(console, adjust_fen: int, points: int, return_fen: int) -> None:
    admin = http_client(console.url, "admin")
    done = _post(admin, "/approvals/thresholds", adjust_yuan=f"{adjust_fen / 100:.2f}", adjust_points=str(points),
                 return_yuan=f"{return_fen / 100:.2f}")
    assert done.headers["location"] == "/approvals?done=saved"


def test_a_large_adjustment_waits_for_a_second_person(console):
    _set_limits(console, 1000, 100, 100_000)
    admin, fin = http_client(console.url, "admin"), http_client(console.url, "fin")
    before = _balance(console)
    small = _post(admin, f"/cards/{UID}/adjust", balance_yuan="5.00", reason="till error")
    assert "done=adjusted" in small.headers["location"] and _balance(console) == before + 500

    big = _post(admin, f"/cards/{UID}/adjust", balance_yuan="-30.00", reason="double top-up")
    assert "done=pending" in big.headers["location"] and _balance(console) == before + 500
    db = console.db()
    (pending,) = approvals.listed(db)
    db.close()
    assert (pending.kind, pending.balance_fen, pending.requested_by) == ("adjust", -3000, "admin")
    assert "done=pending" not in _post(admin, f"/cards/{UID}/adjust", balance_yuan="-30.00",
                                       reason="again").headers["location"]  # one pending per card

    own = _post(admin, f"/approvals/{pending.id}/approve")
    assert own.headers["location"] == "/approvals?error=own_request" and _balance(console) == before + 500
    assert _post(fin, f"/approvals/{pending.id}/approve").headers["location"] == "/approvals?done=approved"
    assert _balance(console) == before + 500 - 3000
    again = _post(fin, f"/approvals/{pending.id}/approve")
    assert again.headers["location"] == "/approvals?error=already_decided" and _balance(console) == before - 2500

    db = console.db()
    row = approvals.get(db, pending.id)
    audited = db.all("SELECT username, action, after_value FROM audit_log WHERE action LIKE 'approval.%' "
                     "OR action = 'member.adjust' ORDER BY id")
    db.close()
    assert (row.status, row.decided_by) == ("approved", "fin") and row.txn_id.startswith("hq:")
    assert [(u, a) for u, a, _ in audited] == [
        ("admin", "approval.thresholds"), ("admin", "member.adjust"), ("admin", "approval.request.adjust"),
        ("fin", "member.adjust")]
    assert json.loads(audited[-1][2])["requested_by"] == "admin"
    assert http_client(console.url, "aud").get("/approvals").status_code == 200  # the auditor reads


def test_a_large_return_waits_for_finance_and_a_rejection_changes_nothing(console):
    _set_limits(console, 50_000, 5_000, 1000)
    s1, admin, fin = (http_client(console.url, n) for n in ("s1", "admin", "fin"))
    assert "退款超过阈值" in s1.get(f"/cards/{UID}/return").text
    asked = _post(s1, f"/cards/{UID}/return")
    assert "done=pending" in asked.headers["location"]
    db = console.db()
    assert db.one("SELECT status FROM cards WHERE uid = ?", (UID,))[0] == "active"
    (pending,) = approvals.listed(db)
    db.close()
    assert _post(admin, f"/approvals/{pending.id}/approve").headers["location"] == "/approvals?error=finance_only"
    assert _post(fin, f"/approvals/{pending.id}/reject").headers["location"] == "/approvals?done=rejected"
    db = console.db()
    assert db.one("SELECT status FROM cards WHERE uid = ?", (UID,))[0] == "active"
    assert approvals.get(db, pending.id).status == "rejected"
    db.close()

    _post(s1, f"/cards/{UID}/return")
    db = console.db()
    (second,) = approvals.listed(db)
    db.close()
    assert _post(fin, f"/approvals/{second.id}/approve").headers["location"] == "/approvals?done=approved"
    db = console.db()
    assert db.one("SELECT status FROM cards WHERE uid = ?", (UID,))[0] == "returned"
    assert db.one("SELECT username FROM audit_log WHERE action = 'card.return'")[0] == "fin"
    db.close()


def test_bad_thresholds_change_nothing(console):
    admin = http_client(console.url, "admin")
    for bad in ({"adjust_yuan": "-1", "adjust_points": "1", "return_yuan": "1"},
                {"adjust_yuan": "1", "adjust_points": "-1", "return_yuan": "1"},
                {"adjust_yuan": "abc", "adjust_points": "1", "return_yuan": "1"}, {}):
        assert _post(admin, "/approvals/thresholds", **bad).headers["location"] == "/approvals?error=bad_threshold"
    db = console.db()
    assert approvals.thresholds(db) == approvals.DEFAULTS
    db.close()


def test_pin_reset_clears_a_lockout_and_is_audited(console):
    s1 = http_client(console.url, "s1")
    assert "error=pin_not_locked" in _post(s1, f"/cards/{UID}/pin-reset").headers["location"]
    db = console.db()
    member = db.one("SELECT member_id FROM cards WHERE uid = ?", (UID,))[0]
    body = json.loads(db.one("SELECT body FROM members WHERE member_id = ?", (member,))[0])
    body["pin_failures"], body["pin_locked_until"] = 3, "2099-01-01T00:00:00+00:00"
    db.run(lambda db: db.execute("UPDATE members SET body = ? WHERE member_id = ?", (json.dumps(body), member)))
    db.close()
    assert "done=pin_reset" in _post(s1, f"/cards/{UID}/pin-reset").headers["location"]
    db = console.db()
    after = json.loads(db.one("SELECT body FROM members WHERE member_id = ?", (member,))[0])
    assert after["pin_failures"] == 0 and after["pin_locked_until"] is None
    assert db.one("SELECT username FROM audit_log WHERE action = 'member.pin_reset'")[0] == "s1"
    db.close()


def test_on_postgresql_an_approval_and_a_call_record(console_pg):
    """The two new tables on the other engine: approve once (the pending -> approved guard uses
    the UPDATE's row count), and a follow-up call with its audit entry."""
    admin, fin = http_client(console_pg.url, "admin"), http_client(console_pg.url, "fin")
    before = _balance(console_pg)
    assert "done=pending" in _post(fin, f"/cards/{UID}/adjust", balance_yuan="800.00", reason="goodwill").headers["location"]
    assert _post(admin, "/approvals/1/approve").headers["location"] == "/approvals?done=approved"
    assert _post(admin, "/approvals/1/approve").headers["location"] == "/approvals?error=already_decided"
    assert _balance(console_pg) == before + 80_000
    s1 = http_client(console_pg.url, "s1")
    member = console_pg.members[UID]
    done = s1.post("/followups/call", data={"csrf": csrf_of(s1), "list": "birthday", "member_id": member,
                                            "occasion": "2026-05-12", "outcome": "reached", "note": "生日快乐"})
    assert "done=1" in done.headers["location"]
    db = console_pg.db()
    assert db.one("SELECT outcome, note FROM follow_up_calls WHERE member_id = ?", (member,)) == ("reached", "生日快乐")
    assert db.one("SELECT COUNT(*) FROM audit_log WHERE action IN ('followup.call', 'member.adjust')")[0] == 2
    db.close()


def test_two_finance_users_approving_at_once_run_it_once_on_postgresql(console_pg):
    """The race the `pending -> approved` guard is for: two approvals of one request in flight
    together, on PostgreSQL (several console workers, real row locks)."""
    import threading

    from kiosk.hq.console import auth
    from tests.hq.console.conftest import PASSWORD

    db = console_pg.db()
    auth.add_user(db, "fin2", "finance", PASSWORD, ())
    db.close()
    _set_limits(console_pg, 1000, 100, 100_000)
    admin = http_client(console_pg.url, "admin")
    before = _balance(console_pg)
    assert "done=pending" in _post(admin, f"/cards/{UID}/adjust", balance_yuan="-30.00", reason="double").headers["location"]
    db = console_pg.db()
    (pending,) = approvals.listed(db)
    db.close()
    approvers = [http_client(console_pg.url, name) for name in ("fin", "fin2")]
    tokens = [csrf_of(c) for c in approvers]
    start, answers = threading.Barrier(2), [None, None]

    def approve(i: int) -> None:
        start.wait()
        answers[i] = approvers[i].post(f"/approvals/{pending.id}/approve", data={"csrf": tokens[i]}).headers["location"]

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == ["/approvals?done=approved", "/approvals?error=already_decided"], answers
    assert _balance(console_pg) == before - 3000  # once
    db = console_pg.db()
    assert db.one("SELECT COUNT(*) FROM events WHERE device_id = 'hq' AND kind = 'adjustment'")[0] == 1
    assert db.one("SELECT COUNT(*) FROM audit_log WHERE action = 'member.adjust'")[0] == 1
    winner = "fin" if answers[0].endswith("approved") else "fin2"
    assert approvals.get(db, pending.id).decided_by == winner
    db.close()
