"""Who may open what, over plain HTTP against the real server: every route for every role and
for nobody, CSRF, the audit log's append-only trigger, hostile names, the console's words."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from kiosk.hq.console import i18n
from kiosk.hq.console.sample import NewMember, seed
from tests.hq.console.conftest import PASSWORD, USERS, csrf_of, http_client

S1_MEMBER, S2_MEMBER = "M-K1a-1", "M-K2a-1"
# (method, path, roles allowed). Written out here, not read from the app, so a permission
# changed by mistake in kiosk/hq/console/auth.py fails this table.
ALL = {"admin", "programme-manager", "store-manager", "finance", "auditor", "store-manager-S2"}
ROUTES = [
    ("GET", "/members", {"admin", "store-manager", "finance", "auditor", "store-manager-S2"}),
    ("GET", f"/members/{S1_MEMBER}", {"admin", "store-manager", "finance", "auditor"}),
    ("GET", f"/members/{S2_MEMBER}", {"admin", "finance", "auditor", "store-manager-S2"}),
    ("POST", "/cards/04A1B2C3/block", {"admin", "store-manager"}),
    ("POST", "/cards/04A1B2C3/unblock", {"admin", "store-manager"}),
    ("POST", "/cards/04A1B2C3/replace", {"admin", "store-manager"}),
    ("POST", "/cards/04A1B2C3/exchange", {"admin", "store-manager"}),
    ("GET", "/cards/04A1B2C3/return", {"admin", "store-manager", "finance"}),
    ("POST", "/cards/04A1B2C3/return", {"admin", "store-manager", "finance"}),
    ("POST", "/cards/04A1B2C3/adjust", {"admin", "finance"}),
    ("POST", "/cards/04A1B2C3/pin-reset", {"admin", "store-manager"}),
    ("GET", "/approvals", {"admin", "finance", "auditor"}),
    ("POST", "/approvals/1/approve", {"admin", "finance"}),
    ("POST", "/approvals/1/reject", {"admin", "finance"}),
    ("POST", "/approvals/thresholds", {"admin"}),
    ("GET", "/fleet", {"admin", "programme-manager", "store-manager", "auditor", "store-manager-S2"}),
    ("POST", "/fleet/silent", {"admin"}),
    ("GET", "/fleet/K1a/incidents", {"admin", "programme-manager", "store-manager", "auditor"}),
    ("GET", "/fleet/K2a/incidents", {"admin", "programme-manager", "auditor", "store-manager-S2"}),
    ("GET", "/conflicts", {"admin", "finance", "auditor"}),
    ("POST", "/conflicts/resolve", {"admin", "finance"}),
    ("GET", "/audit", {"admin", "auditor"}),
    ("GET", "/users", {"admin"}),
    ("POST", "/users", {"admin"}),
    ("GET", "/rules", {"admin", "programme-manager", "auditor"}),
    ("POST", "/rules", {"admin", "programme-manager"}),
    ("POST", "/rules/draft", {"admin", "programme-manager"}),
    ("GET", "/rules/export", {"admin", "programme-manager", "auditor"}),
    ("GET", "/campaigns", {"admin", "programme-manager", "auditor"}),
    ("GET", "/campaigns?voucher_type=winback20&segment=dormant", {"admin", "programme-manager", "auditor"}),
    ("POST", "/campaigns", {"admin", "programme-manager"}),
    ("GET", "/campaigns/1", {"admin", "programme-manager", "auditor"}),
    ("GET", "/reports", ALL),
    ("GET", "/reports/html?store=S1", {"admin", "programme-manager", "store-manager", "finance", "auditor"}),
    ("GET", "/reports/csv?section=metrics&store=S1", {"admin", "programme-manager", "store-manager", "finance", "auditor"}),
    ("GET", "/reports/csv?section=metrics", {"admin", "programme-manager", "finance", "auditor"}),
    ("GET", "/followups", {"admin", "programme-manager", "store-manager", "auditor", "store-manager-S2"}),
    ("GET", "/followups?store=S1", {"admin", "programme-manager", "store-manager", "auditor"}),
    ("GET", "/followups.csv?store=S1", {"admin", "programme-manager", "store-manager", "auditor"}),
    ("POST", "/followups/call", {"admin", "programme-manager", "store-manager", "store-manager-S2"}),
    ("POST", f"/members/{S1_MEMBER}/notes", {"admin", "store-manager"}),
    ("POST", f"/members/{S1_MEMBER}/notes/1/delete", {"admin", "store-manager"}),
    ("POST", f"/members/{S1_MEMBER}/notes/consent", {"admin", "store-manager"}),
    ("POST", f"/members/{S2_MEMBER}/notes", {"admin", "store-manager-S2"}),
    ("POST", "/logout", ALL),
    ("GET", "/", ALL),
]
LOGINS = {**{role: name for role, name in USERS.items()}, "store-manager-S2": "s2"}


def test_every_route_for_every_role(console):
    """403 when refused; when allowed, anything but 403 (a redirect after a refused operation
    is fine: the operation itself is the admin code's business)."""
    clients = {role: http_client(console.url, name) for role, name in LOGINS.items()}
    tokens = {role: csrf_of(c) for role, c in clients.items()}
    wrong = []
    for method, path, allowed in ROUTES:
        for role, client in clients.items():
            if path == "/logout":
                continue
            if method == "GET":
                status = client.get(path).status_code
            else:
                status = client.post(path, data={"csrf": tokens[role]}).status_code
            if (status == 403) == (role in allowed):
                wrong.append(f"{method} {path} as {role}: {status}")
    for role, client in clients.items():
        assert client.post("/logout", data={"csrf": tokens[role]}).status_code == 303
        assert client.get("/members").status_code == 303, f"{role} still signed in after logout"
    assert not wrong, "\n".join(wrong)


def test_anonymous_gets_the_login_page_and_never_data(console):
    client = http_client(console.url)
    for method, path, _ in ROUTES:
        answer = client.request(method, path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), (method, path)
        assert "1380000" not in answer.text and "张三" not in answer.text
    assert client.get("/login").status_code == 200


def test_a_post_without_this_sessions_csrf_token_is_refused_and_changes_nothing(console):
    client = http_client(console.url, "admin")
    other = csrf_of(http_client(console.url, "s1"))
    for data in ({}, {"csrf": ""}, {"csrf": other}, {"csrf": csrf_of(client) + "x"}):
        answer = client.post("/cards/04A1B2C3/block", data={**data, "reason": "x"})
        assert answer.status_code == 403
    db = console.db()
    assert db.one("SELECT status FROM cards WHERE uid = '04A1B2C3'")[0] == "active"
    assert db.one("SELECT COUNT(*) FROM audit_log WHERE action = 'card.block'")[0] == 0
    db.close()
    assert client.post("/cards/04A1B2C3/block", data={"csrf": csrf_of(client)}).status_code == 303
    login = http_client(console.url)
    login.get("/login")
    assert login.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 403


def test_every_new_form_refuses_a_post_without_the_token(console):
    """The follow-up call, PIN reset, approvals and thresholds: 403 and nothing written."""
    fin, admin = http_client(console.url, "fin"), http_client(console.url, "admin")
    asked = fin.post("/cards/04A1B2C3/adjust", data={"csrf": csrf_of(fin), "balance_yuan": "999.00", "reason": "x"})
    assert "done=pending" in asked.headers["location"]
    db = console.db()
    audited = db.one("SELECT COUNT(*) FROM audit_log")[0]
    db.close()
    forms = [
        ("/followups/call", {"list": "birthday", "member_id": S1_MEMBER, "occasion": "2026-01-01", "outcome": "reached"}),
        ("/cards/04A1B2C3/pin-reset", {}),
        ("/approvals/1/approve", {}),
        ("/approvals/1/reject", {}),
        ("/approvals/thresholds", {"adjust_yuan": "1", "adjust_points": "1", "return_yuan": "1"}),
        ("/campaigns", {"segment": "active", "voucher_type": "winback20", "key": "a-key-of-sixteen-chars"}),
    ]
    for path, data in forms:
        for token in ({}, {"csrf": csrf_of(fin)}):
            assert admin.post(path, data={**data, **token}).status_code == 403, path
    db = console.db()
    assert db.one("SELECT COUNT(*) FROM audit_log")[0] == audited
    assert db.one("SELECT status FROM approvals WHERE id = 1")[0] == "pending"
    assert db.one("SELECT COUNT(*) FROM follow_up_calls")[0] == 0
    assert db.one("SELECT COUNT(*) FROM campaigns")[0] == 0
    db.close()


def test_session_cookie_is_httponly_and_samesite_strict(console):
    client = http_client(console.url)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": "admin", "password": PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie  # plain http here


def test_the_audit_log_refuses_update_and_delete(console):
    http_client(console.url, "admin")  # a login is audited
    db = console.db()
    assert db.one("SELECT COUNT(*) FROM audit_log")[0] >= 1
    for sql in ("UPDATE audit_log SET username = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            db.run(lambda db, sql=sql: db.execute(sql))
    db.close()


PIECES = list("<>\"'&/=() ;:") + ["<script>", "</script>", "<img src=x onerror=alert(1)>", "javascript:", "张", "a"]
HOSTILE = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map(lambda p: "".join(p)[:40].strip() or "<script>")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=HOSTILE, n=st.integers(0, 10**6))
def test_hostile_member_names_are_escaped_everywhere(console, name, n):
    db = console.db()
    uid = f"0C{n:06X}"
    if db.one("SELECT 1 FROM cards WHERE uid = ?", (uid,)):
        db.close()
        return
    phone = f"137{n:08d}"
    kiosk = f"H{n:07d}"  # a kiosk of its own per example: its seqs and member ids start afresh
    member_id = seed(db, {kiosk: "S1"}, [NewMember(kiosk, uid, phone, name)])[uid]
    db.close()
    client = http_client(console.url, "admin")
    for path in (f"/members?q={phone}", f"/members/{member_id}", "/audit"):
        body = client.get(path).text
        assert "<script" not in body.lower() and "<img" not in body.lower(), path
        if path.startswith("/members"):
            assert str(escape(name)) in body, path  # the name is there, escaped


def test_every_word_in_the_templates_has_its_chinese():
    used = set()
    for template in Path("kiosk/hq/console/templates").glob("*.html"):
        used |= set(re.findall(r"""t\(["']([^"']+)["']\)""", template.read_text(encoding="utf-8")))
    for module in Path("kiosk/hq/console").glob("*.py"):
        used |= set(re.findall(r'"message": "([^"]+)"', module.read_text(encoding="utf-8")))
    missing = sorted(w for w in used if w not in i18n.ZH)
    assert not missing, missing


def test_users_add_reads_the_password_from_stdin_and_refuses_bad_input(tmp_path):
    db = str(tmp_path / "hq.sqlite3")
    run = lambda *args, stdin="": subprocess.run(  # noqa: E731
        [sys.executable, "-m", "kiosk", "hq", "--db", db, "users", *args], input=stdin, capture_output=True, text=True
    )
    done = run("add", "carol", "--role", "finance", stdin="a long password\n")
    assert done.returncode == 0, done.stderr
    assert "a long password" not in done.stdout
    refused = run("add", "dave", "--role", "store-manager", stdin="a long password\n")
    assert refused.returncode == 2 and "--store" in refused.stderr
    refused = run("add", "erin", "--role", "wizard", stdin="a long password\n")
    assert refused.returncode == 2 and "role" in refused.stderr
    refused = run("add", "frank", "--role", "auditor", stdin="short\n")
    assert refused.returncode == 2 and "password" in refused.stderr
    listed = run("list")
    assert listed.stdout.split() [:2] == ["carol", "finance"] and "dave" not in listed.stdout
    helped = subprocess.run([sys.executable, "-m", "kiosk", "hq", "console", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--port" in helped.stdout and "Secure" in helped.stdout
