"""Random touch and tap sequences: whatever a member (or a crowd) does, the kiosk ends consistent.

After every step: the ledger's invariants hold, the view matches the machine, a payment screen
always has a pending payment, every credit has a confirmed payment of its own, and every coin
counted is credited, pending, or recorded (abandoned payment, or money taken outside a payment). At the end the session
returns to idle and the store read back from disk equals the ledger in memory (nothing
half-done). KIOSK_FULL=1 runs many more sequences."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.pin import FAST_FOR_TESTS
from kiosk.ledger.sample import default_rules
from kiosk.ledger.txn import Kind
from kiosk.reader import chips
from kiosk.session.inputs import CardKind, CardPresented, CardRead
from kiosk.session.machine import SessionMachine
from kiosk.store.store import Store, state_invariant_problems
from tests.session_support import DEVICE, PIN, make_kiosk, staff_card

FULL = os.environ.get("KIOSK_FULL") == "1"
STATES = {s.id for s in SessionMachine.states}

REFERRER = "@rich"  # stands for the rich member's referral code, known once the run has made them
CARDS = ("rich", "poor", "blank", "staff", "foreign", "blocked", "forged")
calls = st.one_of(
    st.tuples(st.just("touch")),
    st.tuples(st.just("start_topup")),
    st.tuples(st.just("choose_amount"), st.sampled_from([500, 1000, 5000, 50_000, 100_000, 600_000])),
    st.tuples(st.just("pay"), st.sampled_from(["staff_cash", "cash_acceptor", "hq", "bogus"])),
    st.tuples(st.just("cancel_payment")),
    st.tuples(st.just("start_redeem")),
    st.tuples(st.just("choose_reward"), st.sampled_from(["coffee", "tote", "voucher", "mask-set", "nope"])),
    st.tuples(st.just("choose_reward"), st.just("voucher"), st.sampled_from([100, 150, 300, 9000])),
    st.tuples(st.just("confirm")),
    st.tuples(st.just("pin_digit"), st.sampled_from("0123456789x")),
    st.tuples(st.just("pin_delete")),
    st.tuples(st.just("start_signup")),
    st.tuples(st.just("submit_details"), st.sampled_from(["13912345678", "12", "13800000001"])),
    st.tuples(st.just("accept_privacy")),
    st.tuples(st.just("back")),
    st.tuples(st.just("dismiss")),
    st.tuples(st.just("finish")),
    st.tuples(st.just("staff_reload_rules")),
    st.tuples(st.just("check_in")),
    st.tuples(st.just("rate"), st.sampled_from([0, 1, 4, 5, 6]), st.sampled_from([(), ("fast_service",), ("nope",)])),
    st.tuples(st.just("submit_details"), st.just("13912345678"), st.just(""), st.none(),
              st.sampled_from(["", "AAAAAAAA", REFERRER])),
)
steps = st.one_of(
    st.tuples(st.just("tap"), st.sampled_from(CARDS)),
    st.tuples(st.just("double_tap")),
    st.tuples(st.just("lift")),
    st.tuples(st.just("wait"), st.sampled_from([1, 5, 11, 31, 121])),
    st.tuples(st.just("coins"), st.integers(1, 40)),
    st.tuples(st.just("pin"), st.booleans()),
    st.tuples(st.just("call"), calls),
)

FOCUSED = {  # what fits each screen
    "idle": [("tap", c) for c in CARDS],
    "home": [("call", ("start_topup",)), ("call", ("start_redeem",)), ("call", ("check_in",)), ("call", ("finish",))],
    "topup_amount": [("call", ("choose_amount", a)) for a in (1000, 5000, 50_000, 600_000)],
    "topup_confirm": [("call", ("pay", m)) for m in ("staff_cash", "cash_acceptor", "hq")],
    "paying": [("coins", 10), ("coins", 200), ("tap", "staff"), ("call", ("cancel_payment",))],
    "redeem_choose": [("call", ("choose_reward", r)) for r in ("coffee", "tote", "voucher")],
    "redeem_confirm": [("call", ("confirm",))],
    "pin_entry": [("pin", True), ("pin", False), ("call", ("pin_digit", "1"))],
    "pin_locked": [("call", ("back",)), ("wait", 121)],
    "signup_offer": [("call", ("start_signup",))],
    "signup_details": [
        ("call", ("submit_details", "13912345678")),
        ("call", ("submit_details", "12")),
        ("call", ("submit_details", "13912345678", "", None, REFERRER)),
    ],
    "signup_privacy": [("call", ("accept_privacy",))],
    "signup_pin": [("signup_pin", "135792"), ("signup_pin", "111111")],
    "signup_writing": [("wait", 1)],
    "done": [("call", ("dismiss",)), ("call", ("rate", 4, ("fast_service",))), ("call", ("rate", 5, ()))],
    "notice": [("call", ("dismiss",))],
    "blocked": [("call", ("dismiss",)), ("lift",)],
    "not_recognised": [("call", ("dismiss",)), ("lift",)],
    "staff_menu": [("call", ("staff_reload_rules",)), ("call", ("finish",))],
}


def next_step(data, state: str) -> tuple:
    """Mostly what fits the screen (to get deep into flows), sometimes anything at all."""
    if data.draw(st.integers(0, 9)) < 9:
        return data.draw(st.sampled_from(FOCUSED[state]))
    return data.draw(steps)


class Run:
    def __init__(self, data_dir: Path):
        self.k = make_kiosk(data_dir)
        k = self.k
        self.cards = {
            "rich": k.member(balance_fen=300_000),
            "poor": k.member(),
            "blank": k.blank(),
            "staff": staff_card(),
            "foreign": chips.new_ntag424(),
            "blocked": k.member(balance_fen=1000),
        }
        forged = chips.MifareClassic(self.cards["rich"].uid, memory=bytes(self.cards["rich"].memory))
        forged.memory[5 * 16] ^= 0x01  # a copy of the rich member's card with its data altered
        self.cards["forged"] = forged
        blocked_uid = self.cards["blocked"].uid.hex().upper()
        k.store.commit(k.ledger.block_card(blocked_uid, "lost", k.clock.now()))
        self.setup_refs = len(k.store.outbox())
        rich_uid = self.cards["rich"].uid.hex().upper()
        self.referral_code = k.ledger.referral_code(k.ledger.state.cards[rich_uid].member_id)
        self.cash_in = 0
        self.in_hypothesis = True

    def do(self, step: tuple) -> None:
        k = self.k
        kind = step[0]
        if kind == "tap":
            k.reader.remove()
            k.run()
            k.tap(self.cards[step[1]])
        elif kind == "double_tap":
            if k.session.view.card_uid:
                k.session.post(CardPresented(CardRead(k.session.view.card_uid, CardKind.MEMBER)))
        elif kind == "lift":
            k.lift()
        elif kind == "wait":
            k.clock.advance(step[1])
        elif kind == "coins":
            k.pulses.count += step[1]
            self.cash_in += step[1] * 100
        elif kind == "pin":
            k.enter_pin(PIN if step[1] else "975310")
        elif kind == "signup_pin":
            k.enter_pin(step[1])
        else:
            name, *args = step[1]
            args = [self.referral_code if a == REFERRER else a for a in args]
            getattr(k.session, name)(*args)
        k.run(1)
        self.check()

    def check(self) -> None:
        k = self.k
        view = k.session.view
        if self.in_hypothesis:
            event(f"state {view.state}")
        assert view.state == k.session.state and view.state in STATES
        assert k.session.internal_errors == 0
        assert state_invariant_problems(k.ledger.state) == []
        if view.state == "paying":
            assert view.payment is not None and view.payment.state == "pending"
        if view.state == "idle":
            assert view.card_uid == "" and view.member is None and view.seconds_left is None
        if view.pin is not None:
            assert 0 <= view.pin.entered < view.pin.length
        top_ups = [t for t in k.store.outbox()[self.setup_refs :] if t.kind is Kind.TOP_UP]
        refs = [t.payment_ref for t in top_ups]
        assert len(refs) == len(set(refs)), "a payment credited twice"
        assert all(r.startswith(("cash:", "acceptor:")) for r in refs)
        incidents = k.incidents.read_all()
        abandoned = [i["detail"] for i in incidents if i["kind"] == "payment_abandoned"]
        abandoned_ids = {d["request_id"] for d in abandoned}
        assert not any(r.rsplit(":", 1)[-1] in abandoned_ids for r in refs), "an abandoned payment credited"
        acceptor_credit = sum(t.amount_fen for t in top_ups if t.payment_ref.startswith("acceptor:"))
        acceptor_abandoned = sum(d["received_fen"] for d in abandoned if d["method"] == "cash_acceptor")
        pending = view.payment.received_fen if view.payment and view.payment.method == "cash_acceptor" else 0
        stray = sum(i["detail"]["received_fen"] for i in incidents if i["kind"] == "cash_outside_payment")
        assert acceptor_credit + acceptor_abandoned + pending + stray == self.cash_in, "cash unaccounted for"
        txns = k.store.outbox()[self.setup_refs :]
        check_ins = [(t.member_id, t.local_day) for t in txns if t.kind is Kind.CHECK_IN]
        assert len(check_ins) == len(set(check_ins)), "checked in twice on one day"
        results = sum(1 for t in txns if t.kind in (Kind.TOP_UP, Kind.REDEMPTION))
        assert sum(1 for t in txns if t.kind is Kind.SURVEY) <= results, "a rating without a visit to rate"
        referred = sum(1 for t in txns if t.kind is Kind.SIGN_UP and t.referrer_id)
        assert sum(1 for t in txns if t.kind is Kind.REFERRAL_REWARD) <= 2 * referred
        if self.in_hypothesis:
            for kind in (Kind.CHECK_IN, Kind.SURVEY, Kind.REFERRAL_REWARD):
                if any(t.kind is kind for t in txns):
                    event(f"committed {kind}")

    def finish(self) -> None:
        k = self.k
        k.lift()
        for _ in range(4):
            k.clock.advance(200)
            k.run(1)
        assert k.session.state == "idle"
        self.check()
        in_memory = state_to_dict(k.ledger.state)
        k.store.close()
        store = Store.open(k.data_dir / "store", DEVICE, default_rules(), b"test", FAST_FOR_TESTS)
        try:
            assert state_to_dict(store.ledger.state) == in_memory
        finally:
            store.close()


@settings(
    max_examples=500 if FULL else 100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data(), st.integers(1, 120 if FULL else 50))
def test_random_sequences_end_consistent(data, length):
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp))
        for _ in range(length):
            run.do(next_step(data, run.k.session.state))
        run.finish()


@settings(max_examples=200 if FULL else 30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["1", "2", "3", "4", "5", "6", "del", "back", "confirm"]), max_size=60))
def test_random_pin_pad_presses_never_leak_or_overrun(presses):
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp))
        k = run.k
        k.tap(run.cards["rich"])
        k.session.start_redeem()
        k.session.choose_reward("coffee")
        k.session.confirm()
        for press in presses:
            if press == "del":
                k.session.pin_delete()
            elif press == "back":
                k.session.back()
            elif press == "confirm":
                k.session.confirm()
            else:
                k.session.pin_digit(press)
            run.check()
            assert PIN not in repr(k.session.view)
        run.finish()


def test_sign_up_sequence_is_reachable_by_the_random_steps():
    """The step vocabulary above can reach sign-up's end (so the property covers it)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp))
        run.in_hypothesis = False
        seq = [
            ("tap", "blank"),
            ("call", ("start_signup",)),
            ("call", ("submit_details", "13912345678")),
            ("call", ("accept_privacy",)),
            *[("call", ("pin_digit", d)) for d in "135792135792"],
        ]
        for step in seq:
            run.do(step)
        run.k.run()
        assert run.k.session.state == "done"
        assert run.k.ledger.state.cards[run.cards["blank"].uid.hex().upper()].member_id
        assert date(2026, 6, 1) == run.k.clock.now().date()
        run.finish()


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.dates(), st.binary(max_size=8),
)
ACTIONS = [
    ("choose_amount", 1), ("pay", 1), ("choose_reward", 1), ("choose_reward", 2), ("pin_digit", 1),
    ("submit_details", 1), ("submit_details", 2), ("submit_details", 3),
]
PLACES = ["home", "topup_amount", "topup_confirm", "redeem_choose", "pin_entry", "signup_details", "signup_pin"]


@settings(max_examples=300 if FULL else 40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PLACES), st.sampled_from(ACTIONS), st.lists(junk, min_size=3, max_size=3))
def test_junk_arguments_are_refused_without_change(place, action, args):
    """Touch input is hostile too: wrong types never raise and never change the ledger."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(Path(tmp))
        k, s = run.k, run.k.session
        card = run.cards["blank"] if place.startswith("signup") else run.cards["rich"]
        k.tap(card)
        route = {
            "topup_amount": [s.start_topup],
            "topup_confirm": [s.start_topup, lambda: s.choose_amount(5000)],
            "redeem_choose": [s.start_redeem],
            "pin_entry": [s.start_redeem, lambda: s.choose_reward("coffee"), s.confirm],
            "signup_details": [s.start_signup],
            "signup_pin": [s.start_signup, lambda: s.submit_details("13912345678"), s.accept_privacy],
        }.get(place, [])
        for step in route:
            step()
        assert s.state == place
        before = state_to_dict(k.ledger.state)
        name, count = action
        getattr(s, name)(*args[:count])
        k.run(1)
        assert state_to_dict(k.ledger.state) == before or s.state in ("done", "signup_writing")
        run.check()
        run.finish()
