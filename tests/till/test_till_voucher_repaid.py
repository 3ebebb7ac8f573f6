"""Through the till API on a real kiosk: A earns the spend voucher, B uses it, A refunded whole keeps
its value, and B refunded whole answers `voucher_repaid_fen` with that value, the refund slip (in
the kiosk's zh_CN and the till's English) saying so; a retry gets the same answer, and the member's
balance is back where it began."""

from __future__ import annotations

from kiosk.ledger.model import VoucherStatus
from kiosk.session.states import S
from tests.session_support import PIN
from tests.till.till_support import Till


def _pay(t: Till, chip, order: str, amount: int, voucher_id: str = "") -> dict:
    """As tests/till/test_till_api.pay, naming the voucher the till scanned."""
    ask = {"order_id": order, "amount_fen": amount, "apply_discount": False}
    r = t.post("/v1/charges", {**ask, "voucher_id": voucher_id} if voucher_id else ask)
    assert r.status_code == 202, r.text
    t.driver.tap(chip)
    t.driver.wait_for(lambda: t.kiosk.state in (S.charge_confirm, S.notice))
    if t.kiosk.state == S.charge_confirm:
        t.driver.do(t.kiosk.session.confirm_charge)
        if t.kiosk.state == S.charge_pin:
            t.driver.do(lambda: t.kiosk.enter_pin(PIN))
    t.driver.wait_for(lambda: t.get(f"/v1/charges/{order}").json()["status"] != "pending")
    body = t.get(f"/v1/charges/{order}").json()
    t.driver.lift()
    t.driver.do(lambda: t.kiosk.wait(60))
    return body


def test_the_whole_refund_of_the_order_that_used_a_withdrawn_voucher_pays_its_kept_value_back(tmp_path):
    t = Till(tmp_path)
    try:
        chip = t.kiosk.member(500_000)
        before = t.kiosk.account(chip).balance_fen
        a = _pay(t, chip, "A1", 21_000)
        assert a["status"] == "approved", a
        def earned_ones():
            return [v for v in t.kiosk.account(chip).vouchers if v.reason.startswith("spend:")]

        if not earned_ones():  # the spend voucher is given at the member's next tap
            t.driver.tap(chip)
            t.driver.wait_for(lambda: bool(earned_ones()))
            t.driver.lift()
            t.driver.do(lambda: t.kiosk.wait(60))
        (earned,) = earned_ones()
        b = _pay(t, chip, "B1", 6_000, earned.id)
        assert (b["status"], b["voucher_id"], b["amount_fen"]) == ("approved", earned.id, 5_500), b
        refund_a = t.post("/v1/refunds", {"order_id": "A1", "refund_id": "R1", "amount_fen": 21_000}).json()
        assert (refund_a["voucher_withdrawn"], refund_a["voucher_kept_fen"], refund_a["voucher_repaid_fen"]) == (
            earned.id, 500, 0)
        ask = {"order_id": "B1", "refund_id": "R1", "amount_fen": 5_500}
        refund_b = t.post("/v1/refunds", ask).json()
        assert (refund_b["status"], refund_b["voucher_back"], refund_b["voucher_repaid_fen"]) == ("approved", "", 500)
        assert refund_b["balance_fen"] == before == t.kiosk.account(chip).balance_fen
        assert t.kiosk.account(chip).voucher(earned.id).status is VoucherStatus.WITHDRAWN
        text = "\n".join(refund_b["receipt_lines"])
        assert "所用代金券扣回面值，退还" in text and "¥60.00" in text  # ¥55 paid, ¥5 kept from A's refund
        assert t.post("/v1/refunds", ask).json() == refund_b  # a retry: the first answer
        english = t.post("/v1/refunds", {**ask, "locale": "en"}).json()
        assert "Voucher value returned" in "\n".join(english["receipt_lines"])
    finally:
        t.close()
