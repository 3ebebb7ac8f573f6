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
            self.say(f"      ✗ unexpected: {what}")


INCIDENTS = {
    "privacy_accepted": ("一位新会员同意了隐私声明", "a new member accepted the privacy notice"),
    "payment_abandoned": ("一笔没付完的充值", "a top-up left unpaid"),
    "card_suspect": ("一张可疑的复制卡", "a suspected card copy"),
    "blocked_card_presented": ("有人刷了挂失的卡", "a lost card was tapped"),
}


def describe(view: SessionView, lang: str = "en") -> str:
    """What the screen shows, in the member's language: the same sentences as the Kivy screens
    (their gettext catalogue), so the demo never prints a code the screen would not show."""
    from kiosk.ui.messages import TEMPLATES, render_message

    zh, en = SCREEN.get(view.state, (view.state, view.state))
    text = f"      {'屏幕：' if lang == 'zh_CN' else 'screen: '}{zh if lang == 'zh_CN' else en}"
    if view.member is not None and view.state == S.home:
        m = view.member
        tier = m.tier_name.get(lang)
        text += (
            f"\n        {m.name or m.phone_masked} · {tier} · 余额 {format_fen(m.balance_fen)} · {m.points} 积分 · "
            f"再充 {format_fen(m.to_next_tier_fen)} 升级"
            if lang == "zh_CN" else
            f"\n        {m.name or m.phone_masked} · {tier} · balance {format_fen(m.balance_fen)} · {m.points} points · "
            f"{format_fen(m.to_next_tier_fen)} more to the next tier"
        )
        for gift in m.gifts:
            text += f"\n        🎁 {render_message(gift.kind, {'points': gift.points})}"
    if view.message is not None and view.message.code in TEMPLATES:  # others are not shown on screen
        text += f"\n        “{render_message(view.message.code, view.message.params)}”"
    return text


def run_screen_demo(data_dir: Path, start: datetime, pepper: bytes, lang: str = "en") -> list[str]:
    """A second kiosk (its own store under DIR/screen) visited through the session; returns the
    problems found (none when everything added up), after reopening its store to check it."""
    from kiosk.ledger.codec import state_to_dict
    from kiosk.store.store import Store
    from kiosk.ui.i18n import translator

    translator().set_locale(lang)  # the screens' sentences (render_message) in the story's language

    with Store.open(data_dir, SCREEN_DEVICE_ID, pepper=pepper) as store:
        demo = run_session_part(store, start, data_dir, lang)
        before = state_to_dict(store.ledger.state)
        store.checkpoint()
    with Store.open(data_dir, SCREEN_DEVICE_ID, pepper=pepper) as again:
        if state_to_dict(again.ledger.state) != before or again.check():
            demo.problems.append("the screen kiosk's store differs after reopening")
        depth = again.outbox_depth()
    if demo.problems:
        print(f"✗ the session part did not add up: {demo.problems}")
    elif lang == "zh_CN":
        print(f"✓ 第二台自助机 {SCREEN_DEVICE_ID}：每次都如预期结束，{depth} 笔交易待上传总部")
    else:
        print(f"✓ kiosk {SCREEN_DEVICE_ID}: every visit ended as expected, {depth} transactions waiting for HQ")
    return demo.problems


def run_session_part(store, start: datetime, data_dir: Path, lang: str = "en") -> SessionDemo:
    """Drive the session through every kind of visit; returns what happened and any surprise."""

    def t(zh: str, en: str) -> str:
        return zh if lang == "zh_CN" else en

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

    def show(zh: str, en: str, fn: Callable[[], object] = lambda: None) -> SessionView:
        fn()
        view = turn()
        demo.say(f"    → {t(zh, en)}\n{describe(view, lang)}")
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

    print(t("\n会员在自助机屏幕上（第二台自助机，模拟读卡器）", "\nMembers at the kiosk screen (a second kiosk, simulated reader)"))
    new_card = chips.new_classic(bytes.fromhex("04C0FFEE"))
    staff = chips.new_classic(bytes.fromhex(STAFF_UID))

    demo.say(t("\n  1. 新会员开卡", "\n  1. A new member signs up with a blank card"))
    view = show("刷一张空白卡", "a new customer taps a blank card", lambda: reader.place(new_card))
    demo.expect("blank card offers sign-up", view.state == "signup_offer")
    show("点「开卡」", "taps Sign up", session.start_signup)
    show("填写手机号、姓名、生日", "enters phone, name and birthday",
         lambda: session.submit_details("13512345678", t("赵磊", "Zhao Lei"), date(1988, 11, 2)))
    show("同意隐私声明", "accepts the privacy notice", session.accept_privacy)
    for digit in MEMBER_PIN * 2:
        session.pin_digit(digit)
    view = show("设置 6 位密码，输入两次（屏幕上显示 ******）", "sets a 6-digit PIN, twice (the screen shows ******)")
    demo.expect("sign-up done", view.state == "done" and view.message.code == "signup_done")
    view = show("点「继续」", "taps Continue", session.dismiss)
    demo.expect("new-member gift", any(g.kind == "new_member_gift" for g in view.member.gifts))
    turn()  # the reader thread writes the gift into the card's purse hint
    copy = chips.MifareClassic(new_card.uid, memory=bytes(new_card.memory))  # someone copies the card

    demo.say(t("\n  2. 充值，店员刷卡确认收到现金", "\n  2. A top-up paid in cash, confirmed by the cashier's staff card"))
    show("点「充值」", "taps Top up", session.start_topup)
    view = show("选 ¥1,000（先看到赠送金额）", "chooses ¥1,000 (the bonus is shown before paying)", lambda: session.choose_amount(100_000))
    demo.expect("bonus shown before paying", view.topup.chosen.bonus_fen == 8000)
    view = show("选「线上支付」", "chooses to pay online", lambda: session.pay("hq"))
    demo.expect("HQ payment unavailable", view.message.code == "payment_unavailable")
    show("改选「柜台现金」", "chooses cash at the counter instead", lambda: session.pay("staff_cash"))
    lift()
    view = show("店员收下现金，刷员工卡确认", "the cashier takes the cash and taps the staff card", lambda: reader.place(staff))
    demo.expect("top-up credited", view.state == "done" and view.message.params.get("balance_fen") == 108_000)
    lift()
    clock.advance(15)
    turn()

    demo.say(t("\n  3. 投币机充值", "\n  3. A top-up through the cash acceptor"))
    tap(new_card)
    show("点「充值」", "taps Top up", session.start_topup)
    show("输入其他金额 ¥50", "enters another amount: ¥50", lambda: session.choose_amount(5000))
    show("选「投币机」", "chooses the cash acceptor", lambda: session.pay("cash_acceptor"))
    view = show("投入 3 张 ¥10", "inserts 3 × ¥10", lambda: pulse_cash(3))
    demo.expect("pulses counted with debounce", view.payment is not None and view.payment.received_fen == 3000)
    view = show("再投 2 张", "inserts 2 more", lambda: pulse_cash(2))
    demo.expect("acceptor top-up credited", view.state == "done")
    show("点「继续」", "taps Continue", session.dismiss)

    demo.say(t("\n  4. 积分兑换（需要密码）", "\n  4. Points for a reward (the PIN is asked)"))
    show("点「积分兑换」", "taps Rewards", session.start_redeem)
    show("选美式咖啡", "chooses an Americano", lambda: session.choose_reward("coffee"))
    show("点「确认」", "taps Confirm", session.confirm)
    for digit in "000000"[:5] + "1":
        session.pin_digit(digit)
    view = show("输错密码", "types a wrong PIN")
    demo.expect("wrong PIN counted", view.message.code == "pin_wrong")
    for digit in MEMBER_PIN:
        session.pin_digit(digit)
    view = show("输入正确密码", "types the right PIN")
    demo.expect("redeemed", view.state == "done" and view.message.code == "redeem_done")

    demo.say(t("\n  5. 付款中拿走了卡", "\n  5. The card taken away in the middle of a payment"))
    show("点「继续」", "taps Continue", session.dismiss)
    show("点「充值」", "taps Top up", session.start_topup)
    show("选 ¥200", "chooses ¥200", lambda: session.choose_amount(20_000))
    show("选「投币机」", "chooses the cash acceptor", lambda: session.pay("cash_acceptor"))
    show("投入 1 张", "inserts 1 note", lambda: pulse_cash(1))
    view = show("还没付完就拿走了卡", "takes the card away before paying the rest", lift)
    demo.expect("abandoned payment ends in idle", view.state == "idle")

    demo.say(t("\n  6. 开卡后被复制的卡", "\n  6. A copy of the card, made right after the sign-up"))
    uid = new_card.uid.hex().upper()
    seen = store.ledger.state.cards[uid].card_counter
    demo.say(t(f"        账本记着这张卡已刷到第 {seen} 次；复制卡还停在开卡时",
               f"        the ledger has seen this card's counter reach {seen}; the copy still holds the sign-up state"))
    view = show("有人刷一张复制卡（卡号相同，计数器是旧的）", "someone taps a copy (same card number, an old counter)", lambda: reader.place(copy))
    demo.expect(
        "copy refused by purse counter",
        view.state == S.not_recognised and view.message.params.get("problem") == "counter_rollback",
    )
    lift()

    demo.say(t("\n  7. 挂失的卡、别家的卡、无人操作", "\n  7. A lost card, another shop's card, an idle screen"))
    store.commit(store.ledger.block_card(uid, "member phoned: card lost", clock.now()))
    view = show("有人刷已挂失的卡", "someone taps the lost card", lambda: reader.place(new_card))
    demo.expect("blocked", view.state == "blocked")
    lift()
    view = show("有人刷一张别家的卡", "someone taps another shop's card", lambda: reader.place(chips.new_ntag424()))
    demo.expect("foreign", view.state == "not_recognised")
    lift()
    view = show("店员刷员工卡", "the cashier taps the staff card", lambda: reader.place(staff))
    demo.expect("staff menu", view.state == "staff_menu")
    demo.say(t(f"        店员菜单：{view.staff.outbox_depth} 笔待上传总部，读卡器{'正常' if view.staff.reader == 'ok' else view.staff.reader}，"
               f"规则第 {view.staff.rules_version} 版",
               f"        staff menu: {view.staff.outbox_depth} transactions waiting for HQ, reader {view.staff.reader}, "
               f"rules version {view.staff.rules_version}"))
    clock.advance(31)
    view = show("30 秒没人操作", "nobody touches the screen for 30 s")
    demo.expect("timeout to idle", view.state == "idle")
    lift()

    recorded = [i["kind"] for i in incidents.read_all()]
    said = [t(*INCIDENTS.get(kind, (kind, kind))) for kind in recorded]
    demo.say(t(f"\n  自助机记下给总部的事项：{'；'.join(said)}", f"\n  the kiosk noted for HQ: {'; '.join(said)}"))
    demo.expect("incidents recorded", {"payment_abandoned", "card_suspect", "blocked_card_presented"} <= set(recorded))
    counter.close()
    pins.reset()
    return demo
