"""`kiosk demo`: a scripted morning at a store, run through the real ledger and the real store.

The morning is a list of steps (MORNING). Each step is a small function that asks the ledger
for a transaction, commits it to the store and says what happened in Chinese and English.
Later parts of the kiosk grow it by adding steps (a session driving the screens, a sync to HQ)
rather than rewriting it."""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from kiosk.ledger import charges
from kiosk.ledger.codec import state_to_dict
from kiosk.ledger.money import format_fen
from kiosk.ledger.operations import Refused
from kiosk.ledger.sales_rules import FeeRules, RewardStep, StaffRewardRules
from kiosk.ledger.txn import Txn

DESCRIPTION = """\
Run a scripted morning at a store through the ledger and the crash-safe store: members sign up
and get their new-member gift, top up with bonus, redeem points, take a birthday gift; a lost card
is blocked and refused, then replaced; a card is returned and refunded; a PIN gets locked after
too many wrong tries; the owner puts a ¥38 card fee in force and a staff member sells a card whose
fee a ¥500 top-up waives, credited with the sale. Prints what happened (in English or Chinese, --lang), the members' balances and the outbox
waiting for headquarters, then reopens the store to show nothing was lost. Then a second kiosk is
visited the way members live it, headless through the kiosk session with the simulated reader:
sign-up on a blank card, top-ups confirmed by a staff card and by cash-acceptor pulses on a GPIO
pin, a redemption with a PIN, a card lifted mid-payment, a lost card, a foreign card, a timeout."""

EPILOG = """\
files:
  DIR/snapshot.json, DIR/journal/*.jnl   the store written by the demo (see kiosk/store/store.py)
  DIR/screen/                            a second kiosk's store and incidents.jsonl, written by the
                                         session-driven part (kiosk/demo/session.py)

examples:
  kiosk demo
  kiosk demo --data-dir /tmp/kiosk-demo

exit status:
  0 the morning ran and the reopened store matched; 1 something did not add up (the message says
  what); 2 bad usage (e.g. --data-dir is not empty)"""

DEVICE_ID = "DEMO-01"
OPENING = datetime(2026, 5, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Sunday in May
PEPPER = b"demo-pepper-not-secret"

LANGS = ("en", "zh_CN")
STATUS = {"active": ("正常", "active"), "blocked": ("已挂失", "blocked"), "replaced": ("已补卡", "replaced"),
          "returned": ("已退卡", "returned")}

REFUSALS = {
    "card_blocked": ("此卡已挂失", "card reported lost"),
    "card_replaced": ("此卡已补办新卡，旧卡停用", "card replaced by a new one"),
    "card_returned": ("此卡已退卡", "card returned"),
    "pin_locked": ("密码错误次数过多，已锁定", "PIN locked after too many wrong tries"),
    "insufficient_points": ("积分不足", "not enough points"),
    "gift_already_given": ("礼品已领取", "gift already given"),
    "no_birthday_gift_due": ("今年的生日礼已领取", "this year's birthday gift was already given"),
    "refund_too_large": ("退款不能超过该订单实付金额", "a refund can never be more than what was paid for the order"),
}


@dataclass
class Morning:
    """What the steps share: the store, the clock, and the cards handed out so far."""

    store: object  # kiosk.store.store.Store
    lang: str = "en"  # the story is told in one language: "en" or "zh_CN"
    now: datetime = OPENING
    cards: dict[str, str] = field(default_factory=dict)  # person -> card uid in use
    names: dict[str, str] = field(default_factory=dict)  # member id -> display name
    numbers: dict[str, int] = field(default_factory=dict)  # member id -> member no. at this kiosk (1, 2, ...)
    committed: int = 0
    refusals: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def ledger(self):
        return self.store.ledger

    def t(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh_CN" else en

    def say(self, zh: str, en: str) -> None:
        line = f"    {self.t(zh, en)}"
        self.lines.append(line)
        print(line)

    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def commit(self, txn: Txn) -> Txn:
        self.store.commit(txn)
        self.committed += 1
        return txn

    def refused(self, action: Callable[[], object]) -> str:
        """Run an action the ledger must refuse; returns the refusal code."""
        try:
            action()
        except Refused as exc:
            self.refusals += 1
            zh, en = REFUSALS.get(exc.code, (exc.code, exc.code))
            self.say(f"✗ 拒绝：{zh}", f"✗ refused: {en}")
            return exc.code
        raise AssertionError("the ledger allowed what it must refuse")

    def balance(self, person: str) -> str:
        _, _, account = self.ledger.state.card_account(self.cards[person])
        return self.t(f"{format_fen(account.balance_fen)} / {account.points} 积分",
                      f"{format_fen(account.balance_fen)} / {account.points} points")


@dataclass(frozen=True)
class Step:
    zh: str
    en: str
    run: Callable[[Morning], None]
    minutes: int = 3  # time that passes before this step


# -- the steps ------------------------------------------------------------------------------------


def sign_up(person: str, name: str, name_en: str, uid: str, phone: str, pin: str, birthday: date | None) -> Callable:
    """`name` is what the ledger keeps (the member's own writing); `name_en` tells the English story."""

    def step(m: Morning) -> None:
        txn = m.commit(m.ledger.sign_up(uid, 1, phone, pin, m.now, name=name, birthday=birthday))
        m.cards[person] = uid
        m.names[txn.member_id] = m.t(name, name_en)
        m.numbers[txn.member_id] = number = len(m.numbers) + 1
        m.say(
            f"{name} 开卡成功：卡号 {uid}，本店第 {number} 位会员",
            f"{name_en} signs up with card {uid}: member no. {number} at this store",
        )
        gift = m.commit(m.ledger.new_member_gift(uid, m.now))
        m.say(f"新会员礼：{gift.points_delta} 积分", f"new-member gift: {gift.points_delta} points")

    return step


def top_up(person: str, amount_fen: int) -> Callable:
    def step(m: Morning) -> None:
        uid = m.cards[person]
        txn = m.commit(m.ledger.top_up(uid, amount_fen, f"CASH-{m.now:%H%M}-{uid[-4:]}", m.now))
        if txn.bonus_fen:
            zh_bonus, en_bonus = f"赠送 {format_fen(txn.bonus_fen)}", f"bonus {format_fen(txn.bonus_fen)}"
        else:  # say why: the rules give a bonus only from a step up
            first = min((s.min_fen for s in m.ledger.rules.topup.bonus_steps), default=0)
            zh_bonus = f"不满 {format_fen(first)} 无赠送" if first else "无赠送"
            en_bonus = f"no bonus below {format_fen(first)}" if first else "no bonus"
        m.say(
            f"充值 {format_fen(amount_fen)}，{zh_bonus}，得 {txn.points_delta} 积分；余额 {m.balance(person)}",
            f"top-up {format_fen(amount_fen)}, {en_bonus}, +{txn.points_delta} points; now {m.balance(person)}",
        )

    return step


def redeem(person: str, pin: str, reward_id: str, points: int | None = None) -> Callable:
    def step(m: Morning) -> None:
        uid = m.cards[person]
        ok, txn = m.ledger.check_pin(uid, pin, m.now)
        if txn is not None:
            m.commit(txn)
        reward = m.ledger.rules.reward(reward_id)
        done = m.commit(m.ledger.redeem(uid, reward_id, m.now, points=points, pin_verified=ok))
        worth = f"（抵 {format_fen(done.amount_fen)}）" if done.amount_fen else ""
        m.say(
            f"密码正确，兑换「{reward.name.zh_CN}」用 {-done.points_delta} 积分{worth}；余额 {m.balance(person)}",
            f"PIN ok, redeemed {reward.name.en} for {-done.points_delta} points"
            + (f" (worth {format_fen(done.amount_fen)})" if done.amount_fen else "")
            + f"; now {m.balance(person)}",
        )

    return step


def till_purchase(person: str, order_id: str, total_fen: int) -> Callable:
    """The store's till sends the order; the kiosk takes the member's tier discount off (the
    till API does the same over HTTP: docs/pos-api.md)."""

    def step(m: Morning) -> None:
        uid, key = m.cards[person], charges.order_key("till-1", order_id)
        quote = charges.quote(m.ledger, uid, key, total_fen, True, m.now)
        txn = m.commit(charges.charge(m.ledger, uid, key, total_fen, True, m.now, pin_verified=True))
        if quote.discount_fen:
            zh_off = f"会员折扣减 {format_fen(quote.discount_fen)}，"
            en_off = f"member discount -{format_fen(quote.discount_fen)}, "
        else:
            zh_off, en_off = "此等级无折扣，", "no discount at this tier, "
        m.say(
            f"收银台下单 {order_id} 共 {format_fen(total_fen)}，{zh_off}会员刷卡付 {format_fen(txn.amount_fen)}，"
            f"得 {txn.points_delta} 积分；余额 {m.balance(person)}",
            f"the till sends order {order_id} for {format_fen(total_fen)}: {en_off}the member taps and pays "
            f"{format_fen(txn.amount_fen)} from the card, +{txn.points_delta} points; now {m.balance(person)}",
        )

    return step


def till_refund(person: str, order_id: str, refund_id: str, amount_fen: int) -> Callable:
    def step(m: Morning) -> None:
        key = charges.order_key("till-1", order_id)
        txn = m.commit(charges.refund(m.ledger, key, refund_id, amount_fen, m.now))
        m.say(
            f"顾客退回一件商品：退款 {format_fen(amount_fen)} 回到会员卡，扣回 {-txn.points_delta} 积分；"
            f"余额 {m.balance(person)}",
            f"the customer brings one item back: {format_fen(amount_fen)} refunded to the card, "
            f"{-txn.points_delta} points taken back; now {m.balance(person)}",
        )
        m.refused(lambda: charges.refund(m.ledger, key, "R9", txn.amount_fen * 100, m.now))

    return step


def birthday_gift(person: str) -> Callable:
    def step(m: Morning) -> None:
        uid = m.cards[person]
        assert m.ledger.view(uid, m.now).birthday_gift_due
        txn = m.commit(m.ledger.birthday_gift(uid, m.now))
        m.say(
            f"生日快乐！生日礼 {txn.points_delta} 积分；余额 {m.balance(person)}",
            f"happy birthday! gift of {txn.points_delta} points; now {m.balance(person)}",
        )
        m.refused(lambda: m.ledger.birthday_gift(uid, m.now))

    return step


def lose_and_replace(person: str, new_uid: str) -> Callable:
    def step(m: Morning) -> None:
        old = m.cards[person]
        m.commit(m.ledger.block_card(old, "member phoned: card lost", m.now))
        m.say(f"会员来电挂失卡 {old}", f"member phoned in: card {old} blocked as lost")
        m.say("有人拿这张卡来刷：", "someone taps the lost card:")
        m.refused(lambda: m.ledger.top_up(old, 10000, "CASH-X", m.now))
        m.commit(m.ledger.replace_card(old, new_uid, m.now))
        m.cards[person] = new_uid
        m.say(
            f"补卡：新卡 {new_uid} 继承余额和积分 {m.balance(person)}",
            f"replacement card {new_uid} carries the balance and points: {m.balance(person)}",
        )
        m.refused(lambda: m.ledger.lookup(old))

    return step


def return_card(person: str) -> Callable:
    def step(m: Morning) -> None:
        uid = m.cards[person]
        _, _, account = m.ledger.state.card_account(uid)
        txn = m.commit(m.ledger.return_card(uid, m.now))
        m.say(
            f"退卡：退还 {format_fen(txn.amount_fen)}（赠送金额 {format_fen(account.bonus_fen)} 和 {account.points} 积分不退）",
            f"card returned: refund {format_fen(txn.amount_fen)} (bonus {format_fen(account.bonus_fen)} "
            f"and {account.points} points lapse)",
        )

    return step


def pin_lockout(person: str, wrong_pin: str, reward_id: str) -> Callable:
    def step(m: Morning) -> None:
        uid = m.cards[person]
        tries = 0
        while True:
            ok, txn = m.ledger.check_pin(uid, wrong_pin, m.now)
            assert not ok and txn is not None
            m.commit(txn)
            tries += 1
            if txn.pin_locked_until is not None:
                break
        until = txn.pin_locked_until.astimezone(_shanghai()).strftime("%H:%M")
        m.say(
            f"连续 {tries} 次输错密码，锁定到 {until}", f"{tries} wrong PINs in a row: locked until {until}"
        )
        m.refused(lambda: m.ledger.redeem(uid, reward_id, m.now, pin_verified=True))

    return step


def card_fee_rules() -> Callable:
    """The owner puts the programme's card rules in force (HQ publishes them as `fees` and
    `staff_rewards` in the rules document)."""

    def step(m: Morning) -> None:
        rules = m.ledger.rules
        m.ledger.use_rules(replace(
            rules,
            fees=FeeRules(card_fee_fen=3800, waiver_topup_fen=50000),
            staff_rewards=StaffRewardRules(per_card_fen=800, topup_steps=(RewardStep(50000, 800),)),
        ))
        m.say("店长：会员卡每张收费 ¥38.00，一次性储值 ¥500.00 以上免收卡费；"
              "每卖出一张卡奖励售卡人 ¥8.00，一次性储值 ¥500.00 再奖励 ¥8.00。",
              "the owner: \"A card costs ¥38.00, free when you top up ¥500.00 or more at once. Whoever "
              "sells a card gets ¥8.00, and another ¥8.00 for a ¥500.00 top-up.\"")

    return step


def staff_sale(person: str, name: str, name_en: str, uid: str, phone: str, pin: str, staff_id: str) -> Callable:
    """A staff member taps their card, then the new member signs up and tops up ¥500: the fee is
    waived and the sale (card and top-up) is credited to the staff member."""

    def step(m: Morning) -> None:
        txn = m.commit(m.ledger.sign_up(uid, 1, phone, pin, m.now, name=name, staff_id=staff_id))
        m.cards[person] = uid
        m.names[txn.member_id] = m.t(name, name_en)
        m.numbers[txn.member_id] = len(m.numbers) + 1
        m.say(f"店员 {staff_id} 先刷员工卡，{name} 开卡：应付卡费 {format_fen(txn.amount_fen)}",
              f"staff member {staff_id} taps their card first; {name_en} signs up: card fee due "
              f"{format_fen(txn.amount_fen)}")
        fee, rest = m.ledger.settle_card_fee(uid, 50000, f"CASH-{m.now:%H%M}", m.now, staff_id=staff_id)
        m.commit(fee)
        topup = m.commit(m.ledger.top_up(uid, rest, f"CASH-{m.now:%H%M}", m.now, staff_id=staff_id))
        m.say(f"现金付 ¥500.00：全部储值（赠送 {format_fen(topup.bonus_fen)}），卡费免收；余额 {m.balance(person)}",
              f"pays ¥500.00 cash: all of it is stored value (bonus {format_fen(topup.bonus_fen)}), the card "
              f"fee is waived; now {m.balance(person)}")
        reward = txn.staff_reward_fen + topup.staff_reward_fen
        m.say(f"店员 {staff_id} 的销售奖励：售卡 {format_fen(txn.staff_reward_fen)} + 储值 "
              f"{format_fen(topup.staff_reward_fen)} = {format_fen(reward)}（计入总部销售业绩报表）",
              f"staff member {staff_id} earns {format_fen(txn.staff_reward_fen)} for the card + "
              f"{format_fen(topup.staff_reward_fen)} for the top-up = {format_fen(reward)} "
              "(HQ: `kiosk hq report --section staff`)")

    return step


def _shanghai():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


MORNING: list[Step] = [
    Step(
        "开卡（王芳）",
        "Sign-up (Wang Fang)",
        sign_up("wang", "王芳", "Wang Fang", "04A1B2C3", "13800138001", "258013", date(1991, 5, 12)),
    ),
    Step("充值", "Top-up", top_up("wang", 50000)),
    Step(
        "开卡（李伟）", "Sign-up (Li Wei)", sign_up("li", "李伟", "Li Wei", "04D4E5F6", "13900139002", "471936", None)
    ),
    Step("充值", "Top-up", top_up("li", 100000)),
    Step("积分兑换", "Points redemption", redeem("li", "471936", "coffee")),
    Step("收银台消费", "Purchase at the till", till_purchase("li", "A1001", 12800)),
    Step("退货退款", "Refund at the till", till_refund("li", "A1001", "R1", 3000)),
    Step("生日礼", "Birthday gift", birthday_gift("wang")),
    Step("积分抵现", "Points voucher", redeem("wang", "258013", "voucher", points=500)),
    Step(
        "开卡（张敏）",
        "Sign-up (Zhang Min)",
        sign_up("zhang", "张敏", "Zhang Min", "04112233", "13700137003", "825036", None),
    ),
    Step("充值", "Top-up", top_up("zhang", 20000)),
    Step("收银台消费", "Purchase at the till", till_purchase("zhang", "A1002", 4580)),
    Step("挂失与补卡", "Lost card and replacement", lose_and_replace("zhang", "04445566")),
    Step(
        "开卡（陈杰）",
        "Sign-up (Chen Jie)",
        sign_up("chen", "陈杰", "Chen Jie", "04778899", "13600136004", "693102", None),
    ),
    Step("充值", "Top-up", top_up("chen", 50000)),
    Step("退卡", "Card return with refund", return_card("chen")),
    Step("密码锁定", "PIN lockout", pin_lockout("li", "000001", "tote")),
    Step("会员卡收费规则", "Card fee rules", card_fee_rules()),
    Step("店员售卡：储值免卡费", "A staff sale: the top-up waives the card fee",
         staff_sale("zhao", "赵丽", "Zhao Li", "04998877", "13500135005", "740258", "S-0012")),
]


# -- running it -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="keep the store in DIR (empty or absent) instead of a temporary directory deleted "
                             "at the end; DIR/snapshot.json is TinyDB JSON, readable with any JSON viewer")
    parser.add_argument("--lang", choices=LANGS, default=default_lang(),
                        help="tell the story in English or Chinese (default: zh_CN when $LANG is Chinese, else en)")
    parser.add_argument("--verbose", action="store_true", help="also print the kiosk's and HQ's log lines")


def default_lang() -> str:
    import os

    env = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "zh_CN" if env.startswith("zh") else "en"


def run(args: argparse.Namespace) -> int:
    from kiosk.store.store import Store
    from kiosk.ui.i18n import translator

    if not args.verbose:
        logging.getLogger("kiosk").setLevel(logging.WARNING)  # the story, not the logs
    lang = getattr(args, "lang", "en")
    translator().set_locale(lang)  # the screen part says what the screens say, in this language

    def t(zh: str, en: str) -> str:
        return zh if lang == "zh_CN" else en

    if args.data_dir is not None and args.data_dir.exists() and any(args.data_dir.iterdir()):
        print(t(f"kiosk demo：{args.data_dir} 不是空目录，请给一个空的或新的目录",
                f"kiosk demo: {args.data_dir} is not empty; give an empty or new directory"))
        return 2
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    try:
        store = Store.open(data_dir, DEVICE_ID, pepper=PEPPER)
        try:
            morning = run_morning(store, MORNING, lang)
            print_summary(morning)
            before = state_to_dict(store.ledger.state), [txn.txn_id for txn in store.outbox()]
            store.checkpoint()
        finally:
            store.close()
        with Store.open(data_dir, DEVICE_ID, pepper=PEPPER) as again:
            after = state_to_dict(again.ledger.state), [txn.txn_id for txn in again.outbox()]
            problems = again.check()
            if after != before or problems:
                print(t(f"✗ 重新打开后数据不一致：{problems}", f"✗ the reopened store differs: {problems}"))
                return 1
            print(t("✓ 关闭并重新打开存储：数据完全一致", "✓ store closed and reopened: everything is there"))
            from kiosk.demo.sync import run_sync_demo

            if run_sync_demo(again, data_dir / "sync-demo", lang=lang) != 0:
                return 1
        from kiosk.demo.session import run_screen_demo

        if run_screen_demo(data_dir / "screen", morning.now, PEPPER, lang=lang):
            return 1
        print(t(f"  数据目录：{data_dir}", f"  data dir: {data_dir}")
              + ("" if args.data_dir else t("（临时，已删除）", " (temporary, deleted)")))
        return 0
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def run_morning(store, steps: list[Step], lang: str = "en") -> Morning:
    morning = Morning(store, lang=lang)
    print(morning.t("会员卡自助机 · 门店的一个早晨", "Membership kiosk · a morning at the store"))
    print(morning.t(f"自助机 {DEVICE_ID}\n", f"kiosk {DEVICE_ID}\n"))
    for number, step in enumerate(steps, 1):
        morning.tick(step.minutes)
        local = morning.now.astimezone(_shanghai()).strftime("%H:%M")
        print(f"[{local}] {number:2d}. {morning.t(step.zh, step.en)}")
        step.run(morning)
    return morning


def print_summary(m: Morning) -> None:
    state = m.ledger.state
    t = m.t
    print(t("\n汇总", "\nSummary"))
    print(f"  {t('卡号', 'card'):<10}{t('状态', 'status'):<10}{t('等级', 'tier'):<10}{t('余额', 'balance'):>13}"
          f"{t('积分', 'points'):>8}  {t('会员', 'member')}")
    for uid, card in state.cards.items():
        account = state.accounts[card.member_id]
        tier = m.ledger.tier_of(account, m.now)
        status = t(*STATUS.get(card.status.value, (card.status.value, card.status.value)))
        print(
            f"  {uid:<10}{status:<10}{tier.name.get(m.lang):<10}{format_fen(account.balance_fen):>13}"
            f"{account.points:>8}  No. {m.numbers.get(card.member_id, '?')} {m.names.get(card.member_id, '')}"
        )
    total = sum(a.balance_fen for a in state.accounts.values())
    print(t(f"  储值合计：{format_fen(total)}", f"  stored value total: {format_fen(total)}"))
    print(t(f"  交易：{m.committed} 笔，拒绝：{m.refusals} 次", f"  transactions committed: {m.committed}, refused: {m.refusals}"))
    print(t(f"  待上传总部：{m.store.outbox_depth()} 笔（下面同步到总部）",
            f"  waiting for HQ: {m.store.outbox_depth()} (synced to HQ below)"))
