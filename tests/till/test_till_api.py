"""The till API over real HTTP (uvicorn on a free port) against the kiosk's session on the
simulated reader: charge, retry after a lost response (charged once, after a restart too),
409, cancel, the card lifted, insufficient balance, the offline limit, refunds and voids,
strict validation and tokens."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from kiosk.ledger.txn import Kind
from kiosk.session.states import S
from kiosk.till import openapi
from tests.session_support import PIN, OfflineLink, make_kiosk
from tests.till.till_support import Till

DOC = Path(__file__).resolve().parents[2] / "docs" / "pos-api.openapi.json"


@pytest.fixture
def till(tmp_path):
    t = Till(tmp_path)
    yield t
    t.close()


def spends(t: Till) -> list:
    return [x for x in t.kiosk.store.outbox() if x.kind is Kind.SPEND]


def pay(t: Till, chip, order: str, amount: int, discount: bool = False, pin: bool = False) -> dict:
    """The till asks, the member taps and confirms (PIN if asked); the till's long-poll answer."""
    r = t.post("/v1/charges", {"order_id": order, "amount_fen": amount, "apply_discount": discount})
    assert r.status_code == 202, r.text
    assert r.json()["stage"] == "waiting_for_card"
    t.driver.tap(chip)
    t.driver.wait_for(lambda: t.kiosk.state in (S.charge_confirm, S.notice))
    if t.kiosk.state == S.charge_confirm:
        t.driver.do(t.kiosk.session.confirm_charge)
        if t.kiosk.state == S.charge_pin or pin:
            t.driver.do(lambda: t.kiosk.enter_pin(PIN))
    body = t.get(f"/v1/charges/{order}", params={"wait_s": 5, "since": 0}).json()
    t.driver.wait_for(lambda: body["status"] != "pending" or t.get(f"/v1/charges/{order}").json()["status"] != "pending")
    body = t.get(f"/v1/charges/{order}").json()
    t.driver.lift()
    t.driver.do(lambda: t.kiosk.wait(60))  # the done screen goes away
    return body


def test_charge_approved_end_to_end_with_discount_and_receipt(till):
    chip = till.kiosk.member(500_000, name="张三丰")  # gold: 95%
    before = till.kiosk.account(chip).balance_fen
    body = pay(till, chip, "A1", 12_800, discount=True)
    assert body["status"] == "approved", body
    assert (body["total_fen"], body["discount_fen"], body["amount_fen"]) == (12_800, 640, 12_160)
    assert body["balance_fen"] == before - 12_160 == till.kiosk.account(chip).balance_fen
    assert body["points"] == till.kiosk.account(chip).points and body["points_earned"] > 0
    lines = body["receipt_lines"]
    assert "消费单" in lines[1]
    assert [x.split()[-1] for x in lines if x.startswith(("订单金额", "会员折扣", "储值支付", "储值余额", "订单号"))] == [
        "A1", "¥128.00", "-¥6.40", "¥121.60", f"¥{body['balance_fen'] / 100:,.2f}"]
    assert f"+{body['points_earned']}" in "\n".join(lines) and body["txn_id"] in "\n".join(lines)
    uid = chip.uid.hex().upper()
    assert "张**" in "\n".join(lines) and "张三丰" not in "\n".join(lines)
    assert uid not in "\n".join(lines) and f"****{uid[-4:]}" in "\n".join(lines)
    (spend,) = spends(till)
    assert (spend.payment_ref, spend.txn_id) == ("till-1:A1", body["txn_id"])


def test_retry_after_a_lost_response_is_charged_once_also_after_a_restart(tmp_path):
    t = Till(tmp_path)
    chip = t.kiosk.member(50_000)
    first = pay(t, chip, "A1", 3_000)
    again = t.post("/v1/charges", {"order_id": "A1", "amount_fen": 3_000, "apply_discount": False})
    assert again.status_code == 200 and again.json()["txn_id"] == first["txn_id"]
    assert t.kiosk.state == S.idle and len(spends(t)) == 1
    balance = t.kiosk.account(chip).balance_fen
    t.close()

    t = Till(tmp_path, make_kiosk(tmp_path))  # the kiosk restarted: same data dir, new process state
    try:
        retry = t.post("/v1/charges", {"order_id": "A1", "amount_fen": 3_000, "apply_discount": False})
        assert retry.status_code == 200, retry.text
        assert (retry.json()["status"], retry.json()["txn_id"]) == ("approved", first["txn_id"])
        assert retry.json()["receipt_lines"] == first["receipt_lines"]
        assert t.kiosk.state == S.idle and len(spends(t)) == 1
        assert t.kiosk.account(chip).balance_fen == balance
        reused = t.post("/v1/charges", {"order_id": "A1", "amount_fen": 3_001, "apply_discount": False})
        assert reused.status_code == 409 and reused.json()["error"]["code"] == "order_id_reused"
    finally:
        t.close()


def test_a_second_charge_while_one_waits_is_409_the_same_order_is_its_status(till):
    r = till.post("/v1/charges", {"order_id": "A1", "amount_fen": 100, "apply_discount": False})
    assert r.status_code == 202
    same = till.post("/v1/charges", {"order_id": "A1", "amount_fen": 100, "apply_discount": False})
    assert same.status_code == 202 and same.json()["status"] == "pending"
    other = till.post("/v1/charges", {"order_id": "A2", "amount_fen": 100, "apply_discount": False})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "charge_in_progress" and other.json()["order_id"] == "A1"
    assert till.get("/v1/status").json()["charge_in_progress"] == "A1"


def test_cancel_from_the_till_debits_nothing(till):
    chip = till.kiosk.member(50_000)
    till.post("/v1/charges", {"order_id": "A1", "amount_fen": 100, "apply_discount": False})
    till.driver.tap(chip)
    till.driver.wait_for(lambda: till.kiosk.state == S.charge_confirm)
    r = till.post("/v1/charges/A1/cancel")
    assert r.status_code == 200 and (r.json()["status"], r.json()["reason"]) == ("cancelled", "till_cancelled")
    till.driver.wait_for(lambda: till.kiosk.state == S.notice)  # the till may hear it before the screen moves
    assert till.kiosk.state == S.notice and spends(till) == []
    assert till.post("/v1/charges/NOPE/cancel").status_code == 404


def test_an_approved_charge_cannot_be_cancelled(till):
    chip = till.kiosk.member(50_000)
    pay(till, chip, "A1", 100)
    r = till.post("/v1/charges/A1/cancel")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_approved"


def test_card_lifted_mid_charge_is_cancelled_nothing_debited(till):
    chip = till.kiosk.member(500_000)
    before = till.kiosk.account(chip)
    till.post("/v1/charges", {"order_id": "A1", "amount_fen": 30_000, "apply_discount": False})
    till.driver.tap(chip)
    till.driver.wait_for(lambda: till.kiosk.state == S.charge_confirm)
    till.driver.do(till.kiosk.session.confirm_charge)
    assert till.kiosk.state == S.charge_pin
    till.driver.lift()
    body = till.get("/v1/charges/A1", params={"wait_s": 5, "since": 0}).json()
    assert (body["status"], body["reason"]) == ("cancelled", "card_removed")
    assert till.kiosk.account(chip) == before and spends(till) == []
    # a retry of the order gets that first answer; a new attempt takes a new order id, paid once
    again = till.post("/v1/charges", {"order_id": "A1", "amount_fen": 30_000, "apply_discount": False})
    assert again.status_code == 200 and again.json() == body and till.kiosk.state != S.charge_tap
    assert pay(till, chip, "A1-2", 30_000)["status"] == "approved"
    assert len(spends(till)) == 1


def test_insufficient_balance_is_declined_with_the_balance(till):
    chip = till.kiosk.member(10_000)
    balance = till.kiosk.account(chip).balance_fen
    body = pay(till, chip, "A1", balance + 1)
    assert (body["status"], body["reason"], body["balance_fen"]) == ("declined", "insufficient_balance", balance)
    assert spends(till) == []


def test_offline_limit_declines(till):
    chip = till.kiosk.member(100_000)
    rules = till.kiosk.ledger.rules
    till.kiosk.session.sync = OfflineLink(till.kiosk.clock.now() - timedelta(hours=rules.offline.after_hours + 1))
    body = pay(till, chip, "A1", rules.offline.max_spend_fen_per_card + 1, pin=True)
    assert (body["status"], body["reason"]) == ("declined", "offline_limit")
    assert pay(till, chip, "A2", rules.offline.max_spend_fen_per_card, pin=True)["status"] == "approved"


def test_a_member_using_the_kiosk_makes_it_busy(till):
    chip = till.kiosk.member(10_000)
    till.driver.tap(chip)
    till.driver.wait_for(lambda: till.kiosk.state == S.home)
    r = till.post("/v1/charges", {"order_id": "A1", "amount_fen": 100, "apply_discount": False})
    assert r.status_code == 409 and r.json()["error"]["code"] == "kiosk_busy"
    assert till.kiosk.state == S.home


def test_partial_refund_then_the_rest_never_more_and_retries_answered_once(till):
    chip = till.kiosk.member(500_000)
    charge = pay(till, chip, "A1", 20_000, pin=True)
    start = till.kiosk.account(chip).balance_fen
    r1 = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 5_000}).json()
    assert (r1["status"], r1["amount_fen"], r1["balance_fen"]) == ("approved", 5_000, start + 5_000)
    assert r1["points_back"] == charge["points_earned"] // 4
    lines = r1["receipt_lines"]
    assert "退款单" in lines[1] and r1["txn_id"] in "\n".join(lines)
    assert [x.split()[-1] for x in lines if x.startswith(("订单号", "退款单号", "退回储值", "储值余额"))] == [
        "A1", "R1", "¥50.00", f"¥{(start + 5_000) / 100:,.2f}"]
    again = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 5_000}).json()
    assert again == r1  # the first answer, nothing moved twice
    too_much = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R2", "amount_fen": 15_001}).json()
    assert (too_much["status"], too_much["reason"], too_much["refundable_fen"]) == (
        "declined", "refund_too_large", 15_000)
    rest = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R2", "amount_fen": 15_000}).json()
    assert rest["status"] == "approved" and till.kiosk.account(chip).balance_fen == start + 20_000
    reused = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 4_000})
    assert reused.status_code == 409 and reused.json()["error"]["field"] == "refund_id"
    assert till.post("/v1/refunds", {"order_id": "ZZ", "refund_id": "R1", "amount_fen": 1}).status_code == 404
    assert till.get("/v1/charges/A1").json()["refunded_fen"] == 20_000


def test_void_same_day_undoes_the_charge(till):
    chip = till.kiosk.member(50_000)
    before = till.kiosk.account(chip)
    pay(till, chip, "A1", 3_000)
    v = till.post("/v1/voids", {"order_id": "A1"}).json()
    assert v["status"] == "approved" and v["amount_fen"] == 3_000
    assert "撤销单" in v["receipt_lines"][1] and any(x.endswith("¥30.00") for x in v["receipt_lines"])
    after = till.kiosk.account(chip)
    assert (after.balance_fen, after.points) == (before.balance_fen, before.points)
    assert till.post("/v1/voids", {"order_id": "A1"}).json() == v  # a retry: the first answer
    declined = till.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 1}).json()
    assert (declined["status"], declined["reason"]) == ("declined", "order_voided")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_fen": 100, "apply_discount": False}, "order_id"),
        ({"order_id": "A1", "amount_fen": 0, "apply_discount": False}, "amount_fen"),
        ({"order_id": "A1", "amount_fen": 100.0, "apply_discount": False}, "amount_fen"),
        ({"order_id": "A1", "amount_fen": True, "apply_discount": False}, "amount_fen"),
        ({"order_id": "A1", "amount_fen": "100", "apply_discount": False}, "amount_fen"),
        ({"order_id": "A1", "amount_fen": 100, "apply_discount": "yes"}, "apply_discount"),
        ({"order_id": "A 1", "amount_fen": 100, "apply_discount": False}, "order_id"),
        ({"order_id": "A" * 65, "amount_fen": 100, "apply_discount": False}, "order_id"),
        ({"order_id": "A1", "amount_fen": 100, "apply_discount": False, "currency": "USD"}, "currency"),
        ({"order_id": "A1", "amount_fen": 100, "apply_discount": False, "tip_fen": 1}, "tip_fen"),
        ({"order_id": "A1", "amount_fen": 100, "apply_discount": False, "timeout_s": 5}, "timeout_s"),
    ],
)
def test_bad_requests_are_400_naming_the_field_and_change_nothing(till, body, field):
    r = till.post("/v1/charges", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == field
    assert till.kiosk.state == S.idle and till.kiosk.store.outbox() == []


def test_bad_bodies(till):
    for raw in (b"", b"[]", b"{", b'{"order_id": "A1", "order_id": "A2"}', b'{"amount_fen": NaN}', b"x" * 5000):
        r = till.http.post("/v1/charges", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "body", raw[:30]
    assert till.get("/v1/charges/A1", params={"wait_s": 61}).json()["error"]["field"] == "wait_s"
    assert till.get("/v1/charges/A1", params={"bogus": 1}).status_code == 400
    assert till.get("/v2/charges").status_code == 404


def test_unknown_tokens_are_401_and_never_logged(till, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "kt_" + "s3cret" * 8
    for headers in ({}, {"Authorization": f"Bearer {secret}"}, {"Authorization": f"Basic {secret}"},
                    {"Authorization": f"Bearer {till.token}x"}):
        r = httpx.post(f"{till.server.url}/v1/charges", headers=headers,
                       json={"order_id": "A1", "amount_fen": 100, "apply_discount": False})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert secret not in caplog.text and till.token not in caplog.text and "s3cret" not in caplog.text
    assert till.kiosk.state == S.idle


def test_tokens_file_keeps_only_hashes_mode_600(till):
    path = till.data_dir / "till-tokens.json"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert till.token not in text and till.token[3:] not in text
    assert list(json.loads(text)["tills"]) == ["till-1"]


def test_the_committed_openapi_document_is_the_served_one(till):
    served = httpx.get(f"{till.server.url}/v1/openapi.json").json()
    assert served == openapi.document()
    assert json.loads(DOC.read_text()) == served, "regenerate: python -m kiosk.till.command openapi > " + str(DOC)
