"""Receipts as values and text: what each slip says in both languages, the member's name and
card masked, money in yuan from integer fen (round-tripping exactly), the store's local time,
lines that fit the paper; and the [printer] table of kiosk.toml refusing bad values by field."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.app.config import ConfigError, load_config
from kiosk.ledger.money import parse_yuan
from kiosk.ledger.rules_fields import MAX_FEN
from kiosk.receipt.layout import receipt_lines, text_width, wrap
from kiosk.receipt.mask import mask_name, mask_uid
from kiosk.receipt.receipt import (
    Receipt,
    Shop,
    receipt_for_charge,
    receipt_for_refund,
    receipt_for_top_up,
)
from kiosk.receipt.settings import PrinterSettings, parse_printer

AT = datetime(2026, 12, 7, 13, 49, 41, tzinfo=UTC)  # 21:49:41 in Shanghai
ZH = Shop("静安寺店", "kiosk-01", "zh_CN")
EN = Shop("Jing'an Temple", "kiosk-01", "en")
WHO = {"at": AT, "timezone": "Asia/Shanghai", "member_name": "张三丰", "card_uid": "04A1B2C3D4", "txn_id": "kiosk-01:42"}


def top_up(shop: Shop = ZH, **kw) -> Receipt:
    values = {"amount_fen": 50000, "bonus_fen": 5000, "points_earned": 500, "balance_after_fen": 62000,
              "points_after": 1734, **WHO, **kw}
    return receipt_for_top_up(shop, **values)


def value_of(lines: list[str], label: str) -> str:
    found = [line for line in lines if line.startswith(label + " ")]
    assert len(found) == 1, (label, lines)
    return found[0][len(label):].strip()


def fen_of(text: str) -> int:
    """'¥1,234.50' -> 123450, '-¥12.80' -> -1280: what a reader of the slip understands."""
    sign = -1 if text.startswith("-") else 1
    return sign * parse_yuan(text.lstrip("-").removeprefix("¥").replace(",", ""))


# -- what the slips say -------------------------------------------------------------------------

def test_top_up_receipt_in_chinese():
    lines = receipt_lines(top_up())
    text = "\n".join(lines)
    assert lines[0].strip() == "静安寺店" and lines[1].strip() == "储值单"
    assert value_of(lines, "时间") == "2026-12-07 21:49:41"  # the store's zone, not UTC
    assert value_of(lines, "充值金额") == "¥500.00"
    assert value_of(lines, "赠送金额") == "¥50.00"
    assert value_of(lines, "到账金额") == "¥550.00"
    assert value_of(lines, "本次积分") == "+500"
    assert value_of(lines, "储值余额") == "¥620.00"
    assert value_of(lines, "积分余额") == "1,734"
    assert value_of(lines, "会员") == "张**"
    assert value_of(lines, "卡号") == "****C3D4"
    assert value_of(lines, "交易号") == "kiosk-01:42"
    assert "张三丰" not in text and "04A1B2C3D4" not in text
    assert "谢谢惠顾" in text


def test_top_up_receipt_in_english():
    lines = receipt_lines(top_up(EN, member_name="John Williams"))
    assert lines[1].strip() == "Top-up receipt"
    assert value_of(lines, "Amount topped up") == "¥500.00"
    assert value_of(lines, "Balance") == "¥620.00"
    assert value_of(lines, "Member") == "J*** W."
    assert "John" not in "\n".join(lines) and "Williams" not in "\n".join(lines)


def test_a_top_up_without_bonus_or_points_leaves_those_lines_out():
    lines = receipt_lines(top_up(bonus_fen=0, points_earned=0))
    assert not [line for line in lines if line.startswith(("赠送金额", "本次积分"))]
    assert value_of(lines, "到账金额") == "¥500.00"


def test_charge_receipt_shows_the_order_total_and_what_took_it_down():
    receipt = receipt_for_charge(
        ZH, amount_fen=10000, discount_fen=1280, voucher_fen=1000, points_used=520, points_used_fen=520,
        points_earned=100, balance_after_fen=52000, points_after=1314, order_id="A1", **WHO,
    )
    lines = receipt_lines(receipt)
    assert lines[1].strip() == "消费单"
    assert value_of(lines, "订单金额") == "¥128.00"
    assert value_of(lines, "会员折扣") == "-¥12.80"
    assert value_of(lines, "代金券") == "-¥10.00"
    assert value_of(lines, "积分抵现（520分）") == "-¥5.20"
    assert value_of(lines, "储值支付") == "¥100.00"
    assert value_of(lines, "订单号") == "A1"
    total = sum(fen_of(value_of(lines, label)) for label in ("会员折扣", "代金券", "积分抵现（520分）", "储值支付"))
    assert total == 0 - 1280 - 1000 - 520 + 10000
    assert fen_of(value_of(lines, "订单金额")) == 10000 + 1280 + 1000 + 520


def test_a_plain_charge_has_no_total_line():
    receipt = receipt_for_charge(EN, amount_fen=12800, balance_after_fen=100, points_after=0, order_id="A2", **WHO)
    lines = receipt_lines(receipt)
    assert not [line for line in lines if line.startswith("Order total")]
    assert value_of(lines, "Paid from stored value") == "¥128.00"


@pytest.mark.parametrize(("void", "title"), [(False, "退款单"), (True, "撤销单")])
def test_refund_and_void_receipts(void, title):
    receipt = receipt_for_refund(
        ZH, refund_fen=3000, points_reversed=30, balance_after_fen=55000, points_after=1284, order_id="A1",
        refund_id="R1", void=void, **WHO,
    )
    lines = receipt_lines(receipt)
    assert lines[1].strip() == title
    assert value_of(lines, "退回储值") == "¥30.00"
    assert value_of(lines, "扣回积分") == "-30"
    assert value_of(lines, "订单号") == "A1" and value_of(lines, "退款单号") == "R1"


def test_a_receipt_keeps_utc_and_refuses_a_naive_time_or_unknown_zone():
    receipt = top_up(at=AT.astimezone(timezone(timedelta(hours=-5))))
    assert receipt.at == AT and receipt.at.tzinfo is UTC
    with pytest.raises(ValueError, match="receipt at"):
        top_up(at=AT.replace(tzinfo=None))
    with pytest.raises(ValueError, match="receipt timezone"):
        top_up(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="receipt locale"):
        top_up(Shop("x", "k", "fr"))


def test_a_name_that_does_not_fit_goes_below_its_label():
    lines = receipt_lines(top_up(Shop("一家名字非常非常非常非常非常非常长的门店", "kiosk-01")), width=24)
    assert all(text_width(line) <= 24 for line in lines)
    assert "".join(line.strip() for line in lines[:3]).startswith("一家名字非常非常非常非常非常非常长的门店")


# -- masking --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "masked"), [
    ("张三丰", "张**"), ("张三", "张**"), ("欧阳娜娜", "欧**"), ("John Williams", "J*** W."),
    ("Madonna", "M***"), ("Mary Ann Lee", "M*** L."), ("", ""), ("  ", ""), ("王", "***"), ("J", "***"),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_mask_uid():
    assert mask_uid("04a1b2c3") == "****B2C3"
    assert mask_uid("") == ""


@given(st.text(st.characters(categories=("L",)), min_size=2, max_size=12),
       st.lists(st.text(st.characters(categories=("L",)), min_size=1, max_size=8), max_size=3))
def test_a_masked_name_never_holds_the_name(first, more):
    name = " ".join([first, *more])
    masked = mask_name(name)
    assert name not in masked
    assert first not in masked


# -- money and layout -----------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_FEN), st.integers(0, MAX_FEN), st.integers(0, 10 * MAX_FEN))
def test_fen_round_trip_through_the_printed_yuan(amount, bonus, balance):
    lines = receipt_lines(top_up(EN, amount_fen=amount, bonus_fen=bonus, balance_after_fen=balance))
    assert fen_of(value_of(lines, "Amount topped up")) == amount
    assert fen_of(value_of(lines, "Credited")) == amount + bonus
    assert fen_of(value_of(lines, "Balance")) == balance
    if bonus:
        assert fen_of(value_of(lines, "Bonus")) == bonus


@settings(max_examples=100, deadline=None)
@given(st.integers(1, MAX_FEN), st.integers(0, MAX_FEN))
def test_fen_round_trip_of_a_discount(amount, discount):
    receipt = receipt_for_charge(ZH, amount_fen=amount, discount_fen=discount, balance_after_fen=0, points_after=0,
                                 order_id="A1", **WHO)
    lines = receipt_lines(receipt)
    if discount:
        assert fen_of(value_of(lines, "会员折扣")) == -discount
        assert fen_of(value_of(lines, "订单金额")) == amount + discount
    assert fen_of(value_of(lines, "储值支付")) == amount


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60), st.integers(16, 48), st.sampled_from(["zh_CN", "en"]))
def test_lines_never_pass_the_paper_width(store_name, width, locale):
    lines = receipt_lines(top_up(Shop(store_name, "kiosk-01", locale), member_name=store_name), width=width)
    assert all(text_width(line) <= width for line in lines)


@given(st.text(max_size=80), st.integers(2, 30))
def test_wrap_keeps_every_character_that_is_not_a_break(text, width):
    pieces = wrap(text, width)
    assert all(text_width(p) <= width for p in pieces if len(p) > 1)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_a_receipt_narrower_than_the_minimum_is_refused():
    with pytest.raises(ValueError, match="at least 16 columns"):
        receipt_lines(top_up(), width=10)


# -- the [printer] table --------------------------------------------------------------------------

DEVICE = '[device]\nid = "k1"\nstore = "S01"\ndata_dir = "/var/lib/kiosk"\n'


def config_with(tmp_path: Path, printer: str):
    path = tmp_path / "kiosk.toml"
    path.write_text(DEVICE + "[printer]\n" + printer)
    return load_config(path)


def test_printer_is_off_by_default(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(DEVICE)
    assert load_config(path).printer == PrinterSettings(kind="off")


def test_good_printer_tables(tmp_path):
    usb = config_with(tmp_path, 'kind = "usb"\nusb_vendor = 0x0416\nusb_product = 0x5011\nstore_name = "静安寺店"\n')
    assert usb.printer.usb_vendor == 0x0416 and usb.printer.store_name == "静安寺店"
    assert usb.printer.width_chars == 48
    serial = config_with(tmp_path, 'kind = "serial"\ndevice = "/dev/ttyUSB0"\nbaudrate = 115200\nwidth_dots = 384\n')
    assert serial.printer.baudrate == 115200 and serial.printer.width_chars == 32
    assert config_with(tmp_path, 'kind = "file"\ndevice = "/dev/usb/lp0"\n').printer.device == "/dev/usb/lp0"


@pytest.mark.parametrize(("table", "field", "says"), [
    ('kind = "bluetooth"\n', "printer.kind", "must be one of"),
    ('kind = "usb"\nusb_product = 0x5011\n', "printer.usb_vendor", "is missing"),
    ('kind = "usb"\nusb_vendor = 0\nusb_product = 1\n', "printer.usb_vendor", "1..65535"),
    ('kind = "usb"\nusb_vendor = "0416"\nusb_product = 1\n', "printer.usb_vendor", "must be an integer"),
    ('kind = "usb"\nusb_vendor = 1\nusb_product = 1\ndevice = "/dev/usb/lp0"\n', "printer.device", "only applies"),
    ('kind = "serial"\n', "printer.device", "absolute device path like /dev/ttyUSB0"),
    ('kind = "serial"\ndevice = "ttyUSB0"\n', "printer.device", "absolute device path"),
    ('kind = "serial"\ndevice = "/dev/ttyUSB0"\nbaudrate = 12345\n', "printer.baudrate", "must be one of"),
    ('kind = "file"\ndevice = "/dev/usb/lp0"\nbaudrate = 9600\n', "printer.baudrate", "only applies"),
    ('kind = "file"\ndevice = "/dev/usb/lp0"\nwidth_dots = 500\n', "printer.width_dots", "58 mm or 80 mm"),
    ('kind = "file"\ndevice = "/dev/usb/lp0"\nwidth = 48\n', "printer.width", "unknown setting"),
    ('store_name = "a\\u202eb"\n', "printer.store_name", "invisible"),
    ('store_name = 7\n', "printer.store_name", "must be a string"),
    ('timeout_s = 0\n', "printer.timeout_s", "1..60"),
])
def test_bad_printer_settings_name_file_and_field(tmp_path, table, field, says):
    with pytest.raises(ConfigError) as caught:
        config_with(tmp_path, table)
    assert caught.value.field == field
    assert says in caught.value.problem
    assert str(tmp_path / "kiosk.toml") in str(caught.value)


def test_printer_must_be_a_table(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(DEVICE.replace("[device]", 'printer = "usb"\n[device]'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.field == "printer"


def test_parse_printer_on_its_own():
    assert parse_printer({}).kind == "off"
    with pytest.raises(ConfigError, match="printer.kind"):
        parse_printer({"kind": 3})


TOML_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=50),
    st.sampled_from(["off", "usb", "serial", "file", "/dev/ttyUSB0", "/dev/usb/lp0"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*(f.name for f in fields(PrinterSettings)), "colour"]), TOML_VALUES))
def test_any_printer_table_loads_or_is_refused_by_field(table):
    try:
        printer = parse_printer(table, "kiosk.toml")
    except ConfigError as exc:
        assert exc.field.startswith("printer") and exc.path == "kiosk.toml"
        return
    assert printer.kind in ("off", "usb", "serial", "file") and printer.width_dots in (384, 576)


def test_a_refund_that_gives_points_and_the_voucher_back_says_so_and_one_that_does_not_has_no_such_lines():
    back = receipt_lines(receipt_for_refund(
        ZH, refund_fen=3000, points_reversed=30, balance_after_fen=55000, points_after=1284, order_id="A1",
        void=True, points_returned=200, voucher_returned=True, **WHO,
    ))
    assert value_of(back, "退回积分") == "+200" and value_of(back, "退回代金券") == "可再次使用"
    plain = receipt_lines(receipt_for_refund(
        ZH, refund_fen=3000, balance_after_fen=55000, points_after=1284, order_id="A1", **WHO,
    ))
    assert not any("退回积分" in line or "代金券" in line for line in plain)
