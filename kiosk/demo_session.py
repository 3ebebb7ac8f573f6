"""The session part of `kiosk demo`: the same store, now driven through the kiosk session with
the simulated reader, the way a member lives it at the screen (headless: the "screen" is what
the session view says). Cards are tapped on the simulated reader; the cash acceptor's pulses
are driven on a gpiozero mock pin and counted with debounce by kiosk.hw; time is a ManualClock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from kiosk.ledger.money import format_fen
from kiosk.session.states import S
from kiosk.session.view import SessionView

SITE_MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")  # demo only, not a secret
STAFF_UID = "5A0F1E2D"
SCREEN_DEVICE_ID = "DEMO-02"
MEMBER_PIN = "613580"

# what the headless "screen" says for each state (the Kivy screens use gettext catalogues)
SCREEN = {
    S.idle: ("请刷卡", "tap your card"),
    S.home: ("会员主页", "member home"),
    S.blocked: ("此卡已挂失，请联系店员", "card blocked, please ask staff"),
    S.not_recognised: ("无法识别此卡", "card not recognised"),
    S.signup_offer: ("新卡：是否开卡？", "blank card: sign up?"),
    S.signup_details: ("填写手机号、姓名、生日", "phone, name, birthday"),
    S.signup_privacy: ("隐私声明", "privacy notice"),
    S.signup_pin: ("设置密码（两次）", "set PIN (twice)"),
    S.signup_writing: ("正在写卡，请勿移开", "writing the card, keep it on the reader"),
    S.topup_amount: ("选择充值金额", "choose an amount"),
    S.topup_confirm: ("确认金额与支付方式", "amount, bonus and payment method"),
    S.paying: ("等待付款", "waiting for payment"),
    S.redeem_choose: ("积分兑换", "rewards"),
    S.redeem_confirm: ("确认兑换", "confirm the reward"),
    S.pin_entry: ("请输入密码", "enter your PIN"),
    S.pin_locked: ("密码已锁定", "PIN locked"),
    S.done: ("完成", "done"),
    S.notice: ("提示", "notice"),
    S.staff_menu: ("店员菜单", "staff menu"),
}


@dataclass
class SessionDemo:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)
        print(text)

    def expect(self, what: str, ok: bool) -> None:
        if not ok:
            self.problems.append(what)
            self.say(f"      ✗ 不符 / unexpected: {what}")


def describe(view: SessionView) -> str:
    zh, en = SCREEN.get(view.state, (view.state, view.state))
    text = f"      屏幕 screen [{view.state}] {zh} / {en}"
    if view.member is not None and view.state == S.home:
        m = view.member
        text += (
            f"\n        {m.name or m.phone_masked} · {m.tier_name.zh_CN} {m.tier_name.en} · "
            f"余额 balance {format_fen(m.balance_fen)} · 积分 points {m.points} · "
            f"距下一等级 to next tier {format_fen(m.to_next_tier_fen)}"
        )
        for gift in m.gifts:
            text += f"\n        🎁 {gift.kind}: +{gift.points} 积分 points"
    if view.message is not None:
        params = ", ".join(f"{k}={v}" for k, v in view.message.params.items())
        text += f"\n        消息 message: {view.message.code}" + (f" ({params})" if params else "")
    return text


def run_screen_demo(data_dir: Path, start: datetime, pepper: bytes) -> list[str]:
    """A second kiosk (its own store under DIR/screen) visited through the session; returns the
    problems found (none when everything added up), after reopening its store to check it."""
    from kiosk.ledger.codec import state_to_dict
    from kiosk.store.store import Store

    with Store.open(data_dir, SCREEN_DEVICE_ID, pepper=pepper) as store:
        demo = run_session_part(store, start, data_dir)
        before = state_to_dict(store.ledger.state)
        store.checkpoint()
    with Store.open(data_dir, SCREEN_DEVICE_ID, pepper=pepper) as again:
        if state_to_dict(again.ledger.state) != before or again.check():
            demo.problems.append("the screen kiosk's store differs after reopening")
        depth = again.outbox_depth()
    if demo.problems:
        print(f"✗ 自助机流程不符 / the session part did not add up: {demo.problems}")
    else:
        print(f"✓ 第二台自助机 {SCREEN_DEVICE_ID}：流程正常，{depth} 笔交易待上传 / kiosk {SCREEN_DEVICE_ID}: "
              f"every visit ended as expected, {depth} transactions waiting for HQ")
    return demo.problems


def run_session_part(store, start: datetime, data_dir: Path) -> SessionDemo:
    """Drive the session through every kind of visit; returns what happened and any surprise."""
    from gpiozero.pins.mock import MockFactory

    from kiosk.hw.pulses import CashPulseCounter
    from kiosk.payment.cash_acceptor import CashAcceptorPayment
    from kiosk.payment.hq_mqtt import NoHqPayment
    from kiosk.payment.staff_cash import StaffCashPayment
    from kiosk.reader import chips
    from kiosk.reader.keys import SiteKeys
    from kiosk.reader.simulated import SimulatedReader
    from kiosk.session.card_access import FormatCardAccess
    from kiosk.session.clock import ManualClock
    from kiosk.session.incidents import IncidentLog
    from kiosk.session.reader_worker import ReaderWorker
    from kiosk.session.session import Session
    from kiosk.session.settings import SessionSettings

    demo = SessionDemo()
    clock = ManualClock(start)
    reader = SimulatedReader()
    cards = FormatCardAccess(SiteKeys(SITE_MASTER, b"demo-chain"), store.device_id, lambda: clock.now().date())
    pins = MockFactory()
    counter = CashPulseCounter(17, debounce_s=0.02, pin_factory=pins)
    incidents = IncidentLog(data_dir / "incidents.jsonl")
    session_box: list = []
    worker = ReaderWorker(reader, cards, lambda item: session_box[0].post(item), poll_s=0)
    session = Session(
        store,
        clock=clock,
        payments=[StaffCashPayment(), CashAcceptorPayment(counter, fen_per_pulse=1000), NoHqPayment()],
        card_writer=worker,
        incidents=incidents,
        settings=SessionSettings(staff_uids=frozenset({STAFF_UID})),
    )
    session_box.append(session)

    def turn() -> SessionView:
        for _ in range(3):
            worker.step()
            session.pump()
        return session.view

    def tap(chip) -> None:
        reader.place(chip)
        turn()

    def lift() -> None:
        reader.remove()
        turn()

    def show(action: str, fn: Callable[[], object] = lambda: None) -> SessionView:
        fn()
        view = turn()
        demo.say(f"    → {action}\n{describe(view)}")
        return view

    def pulse_cash(yuan_notes: int) -> None:
        """Each note is one pulse on the acceptor line, with contact chatter the counter must ignore."""
        import time

        pin = pins.pin(17)
        for _ in range(yuan_notes):
            pin.drive_low()
            pin.drive_high()  # chatter within the debounce time
            pin.drive_low()
            time.sleep(0.03)
            pin.drive_high()
            time.sleep(0.03)

    print("\n会员在自助机上 / At the kiosk screen (session + simulated reader)")
    new_card = chips.new_classic(bytes.fromhex("04C0FFEE"))
    staff = chips.new_classic(bytes.fromhex(STAFF_UID))

    demo.say("\n  1. 新卡开卡 / Sign-up with a blank card")
    view = show("刷空白卡 tap a blank card", lambda: reader.place(new_card))
    demo.expect("blank card offers sign-up", view.state == S.signup_offer)
    show("开卡 sign up", session.start_signup)
    show("填写资料 details", lambda: session.submit_details("13512345678", "赵磊", date(1988, 11, 2)))
    show("同意隐私声明 accept privacy notice", session.accept_privacy)
    for digit in MEMBER_PIN * 2:
        session.pin_digit(digit)
    view = show("设置密码两次 PIN twice (hidden: ******)")
    demo.expect("sign-up done", view.state == S.done and view.message.code == "signup_done")
    view = show("返回主页 continue", session.dismiss)
    demo.expect("new-member gift", any(g.kind == "new_member_gift" for g in view.member.gifts))
    turn()  # the reader thread writes the gift into the card's purse hint
    copy = chips.MifareClassic(new_card.uid, memory=bytes(new_card.memory))  # someone copies the card

    demo.say("\n  2. 充值，店员刷卡确认现金 / Top-up, cash confirmed by a staff card")
    show("充值 top up", session.start_topup)
    view = show("选 ¥1000 choose ¥1000 (bonus shown first)", lambda: session.choose_amount(100_000))
    demo.expect("bonus shown before paying", view.topup.chosen.bonus_fen == 8000)
    view = show("总部支付 pay via HQ", lambda: session.pay("hq"))
    demo.expect("HQ payment unavailable", view.message.code == "payment_unavailable")
    show("现金（柜台）cash at the counter", lambda: session.pay("staff_cash"))
    lift()
    view = show("店员刷员工卡 staff taps their card", lambda: reader.place(staff))
    demo.expect("top-up credited", view.state == S.done and view.message.params.get("balance_fen") == 108_000)
    lift()
    clock.advance(15)
    turn()

    demo.say("\n  3. 投币机充值（GPIO 脉冲）/ Top-up through the cash acceptor (GPIO pulses)")
    tap(new_card)
    show("充值 top up", session.start_topup)
    show("自定义 ¥50 custom ¥50", lambda: session.choose_amount(5000))
    show("投币机 cash acceptor", lambda: session.pay("cash_acceptor"))
    view = show("投入 3 张 ¥10 insert 3 × ¥10", lambda: pulse_cash(3))
    demo.expect("pulses counted with debounce", view.payment is not None and view.payment.received_fen == 3000)
    view = show("再投 2 张 insert 2 more", lambda: pulse_cash(2))
    demo.expect("acceptor top-up credited", view.state == S.done)
    show("返回主页 continue", session.dismiss)

    demo.say("\n  4. 积分兑换（需密码）/ Redeem points (PIN required)")
    show("积分兑换 rewards", session.start_redeem)
    show("选美式咖啡 choose Americano", lambda: session.choose_reward("coffee"))
    show("确认 confirm", session.confirm)
    for digit in "000000"[:5] + "1":
        session.pin_digit(digit)
    view = show("输错密码 wrong PIN")
    demo.expect("wrong PIN counted", view.message.code == "pin_wrong")
    for digit in MEMBER_PIN:
        session.pin_digit(digit)
    view = show("输入正确密码 right PIN")
    demo.expect("redeemed", view.state == S.done and view.message.code == "redeem_done")

    demo.say("\n  5. 付款中移开卡片 / Card lifted in the middle of a payment")
    show("返回主页 continue", session.dismiss)
    show("充值 top up", session.start_topup)
    show("选 ¥200 choose ¥200", lambda: session.choose_amount(20_000))
    show("投币机 cash acceptor", lambda: session.pay("cash_acceptor"))
    show("投入 1 张 insert 1 note", lambda: pulse_cash(1))
    view = show("移开卡片 card removed", lift)
    demo.expect("abandoned payment ends in idle", view.state == S.idle)

    demo.say("\n  6. 复制卡 / A copy of the card, made after the sign-up")
    uid = new_card.uid.hex().upper()
    seen = store.ledger.state.cards[uid].card_counter
    demo.say(f"        账本已见计数器 {seen} / the ledger has seen purse counter {seen}; "
             "复制卡停在开卡时 / the copy still holds the sign-up state")
    view = show("刷复制卡 tap the copy (same UID, older purse counter)", lambda: reader.place(copy))
    demo.expect(
        "copy refused by purse counter",
        view.state == S.not_recognised and view.message.params.get("problem") == "counter_rollback",
    )
    lift()

    demo.say("\n  7. 挂失卡、外来卡、超时 / Lost card, foreign card, timeout")
    store.commit(store.ledger.block_card(uid, "member phoned: card lost", clock.now()))
    view = show("刷已挂失的卡 tap the lost card", lambda: reader.place(new_card))
    demo.expect("blocked", view.state == S.blocked)
    lift()
    view = show("刷外来卡 tap a foreign card", lambda: reader.place(chips.new_ntag424()))
    demo.expect("foreign", view.state == S.not_recognised)
    lift()
    view = show("店员菜单 staff menu", lambda: reader.place(staff))
    demo.expect("staff menu", view.state == S.staff_menu)
    demo.say(f"        outbox {view.staff.outbox_depth}, reader {view.staff.reader}, rules v{view.staff.rules_version}")
    clock.advance(31)
    view = show("30 秒无操作 30 s untouched")
    demo.expect("timeout to idle", view.state == S.idle)
    lift()

    recorded = [i["kind"] for i in incidents.read_all()]
    demo.say(f"\n  记录给总部的事件 incidents for HQ: {', '.join(recorded)}")
    demo.expect("incidents recorded", {"payment_abandoned", "card_suspect", "blocked_card_presented"} <= set(recorded))
    counter.close()
    pins.reset()
    return demo
