"""HQ's own card operations charge what the rules in force at the member's home store say: store
S1 runs a document of its own (a pilot) with other fees and no bonus forfeit on a return; a
replacement or exchange for an S1 member, from the console or the command line, charges S1's
fee, one for an S2 member the chain's; the return preview follows S1's return rule."""

from __future__ import annotations

import json
from importlib.resources import files

from kiosk.hq import admin
from kiosk.hq.console.sample import NewMember, seed
from tests.hq.console.conftest import csrf_of, http_client
from tests.hq.test_hq_commands import hq_cli

CHAIN_FEES = {"replacement_fee_fen": 1000, "exchange_fee_fen": 500}
S1_FEES = {"replacement_fee_fen": 3000, "exchange_fee_fen": 1500}


def publish(db) -> None:
    doc = json.loads(files("kiosk.data").joinpath("rules.default.json").read_bytes())
    admin.publish_rules(db, json.dumps({**doc, "version": 2, "fees": CHAIN_FEES}), "chain.json")
    pilot = {**doc, "version": 3, "fees": S1_FEES, "card_return": {"forfeit_bonus": False}}
    admin.publish_rules(db, json.dumps(pilot), "s1.json", stores=("S1",))


def fees(db) -> list[tuple[str, int]]:
    """(the fee's card, its amount) of every counter fee HQ charged, in order."""
    rows = db.all("SELECT body FROM events WHERE device_id = 'hq' AND kind = 'card_fee' ORDER BY seq")
    return [(json.loads(b)["card_uid"], json.loads(b)["amount_fen"]) for (b,) in rows]


def test_the_console_and_the_command_charge_the_home_stores_fees(console):
    db = console.db()
    publish(db)
    s1, admin_client = http_client(console.url, "s1"), http_client(console.url, "admin")
    done = s1.post("/cards/04A1B2C3/replace", data={"csrf": csrf_of(s1), "new_uid": "04A1B2D1"})
    assert "done=replaced" in done.headers["location"]
    done = admin_client.post("/cards/04B1B2C3/replace", data={"csrf": csrf_of(admin_client), "new_uid": "04B1B2D1"})
    assert "done=replaced" in done.headers["location"]
    out = hq_cli("exchange-card", "04A1B2C4", "04A1B2D2", db=console.db_url)
    assert out.returncode == 0, out.stderr
    assert fees(db) == [("04A1B2D1", 3000), ("04B1B2D1", 1000), ("04A1B2D2", 1500)]
    db.close()


def test_the_return_preview_follows_the_home_stores_return_rule(console):
    db = console.db()
    # a member of each store with a bonus on the card (a ¥500 top-up earns ¥25 in the sample rules)
    seed(db, {"K1b": "S1", "K2b": "S2"}, [NewMember("K1b", "04D1B2C3", "13700000001", "Bo", 50000),
                                          NewMember("K2b", "04D2B2C3", "13700000002", "Di", 50000)])
    publish(db)
    s1_member, s2_member = admin.preview_return(db, "04D1B2C3"), admin.preview_return(db, "04D2B2C3")
    assert s1_member.balance_before_fen == s2_member.balance_before_fen == 52500
    assert s1_member.amount_fen == 52500  # S1's pilot refunds the bonus too
    assert s2_member.amount_fen == 50000  # the chain's rule forfeits it
    page = http_client(console.url, "s1").get("/cards/04D1B2C3/return").text
    assert "¥525.00" in page
    db.close()
