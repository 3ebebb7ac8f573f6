"""`kiosk hq ...`: run the HQ receiver and HQ's admin operations."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.hq.vouchers import CampaignResult

DESCRIPTION = """\
Headquarters (HQ): the receiver that stores every kiosk transaction in SQL and acknowledges it
after the commit, and the operations HQ staff run: register a member, block a lost card (挂失),
replace a card (补卡), return a card (退卡), publish rules and the reward catalogue, list devices
and conflicts. Every change reaches the kiosks over MQTT (published at once when the broker is
reachable, otherwise by the running `kiosk hq serve`)."""

EPILOG = """\
files:
  /var/lib/kiosk-hq/hq.sqlite3   the default SQLite database (WAL mode)
  /etc/kiosk/hq-broker.password  a usual place for the broker password (mode 600)

examples:
  kiosk hq --db /var/lib/kiosk-hq/hq.sqlite3 init
  kiosk hq --db /var/lib/kiosk-hq/hq.sqlite3 --broker mqtt.example:8883 --tls-ca ca.pem \\
      --tls-cert hq.pem --tls-key hq.key serve
  kiosk hq --db "postgresql://hq@db/kiosk" serve --group hq --client-id hq-2
  kiosk hq block-card 04A1B2C3 --reason "reported lost by phone"
  kiosk hq replace-card 04A1B2C3 04D4E5F6
  echo 246810 | kiosk hq register-member 04A1B2C3 --phone 13800000001 --pin-stdin
  kiosk hq publish-rules rules-v7.json
  kiosk hq devices --json

exit status:
  0 done; 1 refused or failed (the message says why, e.g. card_blocked); 2 bad usage, or no HQ
  database at --db (only `init` and `serve` create one)"""

log = logging.getLogger("kiosk.hq")


def campaign_progress(every_s: float = 2.0) -> Callable[[CampaignResult], None]:
    """A progress line on stderr at most every `every_s` seconds while a segment is issued (a
    100k-member segment takes minutes; the result line on stdout stays the script's answer)."""
    last = time.monotonic()

    def say(so_far: CampaignResult) -> None:
        nonlocal last
        if time.monotonic() - last >= every_s:
            last = time.monotonic()
            print(f"... {so_far.issued} issued, {so_far.skipped} skipped so far / 已发放 {so_far.issued}",
                  file=sys.stderr, flush=True)

    return say


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=os.environ.get("KIOSK_HQ_DB", "/var/lib/kiosk-hq/hq.sqlite3"), metavar="URL",
                        help="SQLite file (default $KIOSK_HQ_DB or /var/lib/kiosk-hq/hq.sqlite3) or a PostgreSQL "
                             'DSN ("postgresql://user@host/db" or "host=... dbname=...")')
    parser.add_argument("--broker", default=os.environ.get("KIOSK_HQ_BROKER", ""), metavar="HOST[:PORT]",
                        help="MQTT broker (default $KIOSK_HQ_BROKER; none: changes are saved and published "
                             "later by `kiosk hq serve`)")
    parser.add_argument("--user", default="hq", metavar="NAME", help="broker user (default hq)")
    parser.add_argument("--password-file", type=Path, metavar="FILE",
                        help="broker password, mode 600 (default $KIOSK_HQ_BROKER_PASSWORD)")
    parser.add_argument("--tls-ca", type=Path, metavar="FILE", help="the broker's CA certificate (PEM): TLS, port 8883")
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="HQ's client certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key (PEM)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="hq_command", metavar="HQ_COMMAND", title="commands")

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=description)

    command("init", "create the HQ database and its tables (safe to run again)",
            "Create the HQ database at --db (a SQLite file and its folder, or the tables in an existing "
            "PostgreSQL database). Every other command except `serve` needs it to exist and says so.")
    serve = command("serve", "run a receiver (run several in one group to split a fleet)",
                    "Receive every kiosk's transactions over MQTT, store each once in SQL and acknowledge it "
                    "after the commit; publish rules, blocked lists and snapshots back. Creates the database "
                    "at its first start. Needs --broker.")
    serve.add_argument("--group", default="hq", help="shared-subscription group the receivers split (default hq)")
    serve.add_argument("--client-id", default=None, metavar="ID",
                       help="this receiver's MQTT client id (default: hq plus a random suffix); unique per receiver")

    reg = command("register-member", "sign up a member at HQ (PIN read from stdin)",
                  "Sign up a member with a card at HQ (e.g. from the counter or a call centre): the kiosks "
                  "receive the member with the next snapshot.")
    reg.add_argument("uid", help="the card's UID in hex, as the reader shows it (e.g. 04A1B2C3)")
    reg.add_argument("--phone", required=True, help="the member's mobile number (masked in reports)")
    reg.add_argument("--name", default="", help="the member's name (optional)")
    reg.add_argument("--birthday", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                     help="for the birthday gift (optional)")
    reg.add_argument("--pin-stdin", action="store_true", required=True,
                     help="read the PIN from stdin (never from the command line, where `ps` shows it)")
    reg.add_argument("--pepper-file", type=Path, metavar="FILE", help="the chain's PIN pepper (mode 600)")
    reg.add_argument("--staff", default="", metavar="STAFF_ID",
                     help="the staff member who sold the card (kiosk hq staff): credited with the sale")

    block = command("block-card", "挂失: put a lost card on the blocked list",
                    "挂失: block a lost or stolen card. Every kiosk receives the blocked list and refuses the "
                    "card; the balance stays with the member for a replacement card.")
    block.add_argument("uid", help="the card's UID in hex (e.g. 04A1B2C3)")
    block.add_argument("--reason", default="reported lost", help='kept with the change (default "reported lost")')
    unblock = command("unblock-card", "take a found card off the blocked list",
                      "The member found the card: take it off the blocked list so the kiosks accept it again.")
    unblock.add_argument("uid", help="the card's UID in hex")
    unblock.add_argument("--reason", default="found", help='kept with the change (default "found")')
    replace = command("replace-card", "补卡: balance and points move to a new card; the old one is blocked",
                      "补卡: issue a replacement. The new card takes over the member, balance and points; the "
                      "old card is blocked at every kiosk.")
    replace.add_argument("old_uid", help="the lost or broken card's UID in hex")
    replace.add_argument("new_uid", help="the new (blank) card's UID in hex")
    exchange = command("exchange-card", "换卡: a damaged card is exchanged for a new one, at once",
                       "换卡: the member brings back a damaged card. The new card takes over the member, balance "
                       "and points at once (no waiting period); the old card is retired. The rules' exchange "
                       "fee is charged with it (never from the balance).")
    exchange.add_argument("old_uid", help="the damaged card's UID in hex")
    exchange.add_argument("new_uid", help="the new (blank) card's UID in hex")
    ret = command("return-card", "退卡: refund the paid balance and close the card",
                  "退卡: the member gives the card back. The paid part of the balance is refunded (bonus credit "
                  "lapses when the rules say so), the card is closed and refused at every kiosk.")
    ret.add_argument("uid", help="the card's UID in hex")
    rules = command("publish-rules", "put a rules/catalogue document in force (version must increase)",
                    "Check a rules document (tiers, points, top-up bonus, rewards, gifts, PIN and offline "
                    "policy; see kiosk/data/rules.default.json) and put it in force. Nothing changes when it "
                    "is refused.")
    rules.add_argument("file", type=Path, help="the rules document (JSON); its version must be higher than the one in force")
    rules.add_argument("--store", action="append", default=[], metavar="STORE",
                       help="this store only (repeat for several; default: the whole chain)")
    devices = command("devices", "kiosks with last contact, online state and outbox depth",
                      "The kiosks HQ has heard from: store, last contact, online or not, outbox depth (what "
                      "each still has to send) and software version.")
    devices.add_argument("--store", default=None, help="one store's kiosks only")
    devices.add_argument("--json", action="store_true", help="JSON instead of a table")
    conflicts = command("conflicts", "transactions whose before-amounts disagreed with HQ",
                        "Transactions applied at HQ whose before-amounts did not match (offline spending at "
                        "two kiosks), and events a kiosk sent again with other content. Reported, never "
                        "dropped.")
    conflicts.add_argument("--all", action="store_true", help="resolved ones too")
    conflicts.add_argument("--resolve", metavar="DEVICE:SEQ", help="mark one conflict handled")
    conflicts.add_argument("--json", action="store_true", help="JSON instead of lines")
    incidents = command("incidents", "what kiosks reported that is not money",
                        "The kiosks' incident reports: a blocked card presented, a payment abandoned, money "
                        "taken but not credited, a suspect card copy...")
    incidents.add_argument("--device", default=None, metavar="ID", help="one kiosk only")
    incidents.add_argument("--kind", default=None, help="one kind only, e.g. blocked_card_presented, paid_not_credited")
    incidents.add_argument("--json", action="store_true", help="JSON instead of lines")
    vouchers = command("vouchers", "代金券: give a voucher to every member of a segment",
                       "Vouchers (代金券) from HQ: `issue` gives one of a voucher type from the rules in force to "
                       "every member now in a segment (e.g. a win-back for dormant members). The kiosks receive "
                       "them with the next account snapshots; the same campaign run again gives nobody a second.")
    vsub = vouchers.add_subparsers(dest="vouchers_action", metavar="ACTION", required=True)
    vissue = vsub.add_parser("issue", help="a voucher for each member of a segment",
                             description="Give a voucher of --type to each member now in --segment.")
    vissue.add_argument("--segment", required=True, choices=("active", "at_risk", "dormant", "lost"),
                        help="by days since the last visit, as `kiosk hq report` counts them")
    vissue.add_argument("--type", required=True, dest="voucher_type", metavar="TYPE",
                        help="a voucher type id of the rules in force (vouchers.types)")
    vissue.add_argument("--campaign", default="", metavar="NAME",
                        help="the campaign's name (default: today's date): a member gets one voucher per campaign")
    command("status", "events stored and applied per device, and gaps waiting",
            "Per kiosk: events stored, the highest sequence number, events applied to the ledger and those "
            "waiting for a gap to fill.")
    from kiosk.hq.report import command as report_command

    report_command.add_parser(sub)
    from kiosk.hq import settings_command, staff

    staff.add_parser(sub)
    settings_command.add_parser(sub)
    from kiosk.hq.console import command as console_command

    console_command.add_parsers(sub)
    from kiosk.hq.console import notes_command

    notes_command.add_parser(sub)


def broker_settings(args: argparse.Namespace):
    from kiosk.hq.broker import BrokerSettings

    if not args.broker:
        return None
    host, _, port = args.broker.rpartition(":") if ":" in args.broker else (args.broker, "", "")
    password = os.environ.get("KIOSK_HQ_BROKER_PASSWORD", "")
    if args.password_file:
        password = args.password_file.read_text().strip()
    return BrokerSettings(
        host=host, port=int(port or (8883 if args.tls_ca else 1883)), username=args.user, password=password,
        tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.hq_command:
        print("kiosk hq: choose a command (kiosk hq --help)", file=sys.stderr)
        return 2
    from kiosk.hq import admin
    from kiosk.hq.broker import BrokerUnreachable
    from kiosk.hq.db import FIX_MISSING, DatabaseError, MissingDatabase, open_database
    from kiosk.hq.schema import create_schema, has_schema

    try:
        broker = broker_settings(args)
    except (ValueError, OSError) as exc:
        print(f"kiosk hq: broker settings: {exc}", file=sys.stderr)
        return 2
    if args.hq_command == "serve":
        return _serve(args, broker)
    if args.hq_command == "init":
        return _init(args.db)
    from kiosk.hq.console import command as console_command

    if args.hq_command in console_command.COMMANDS:
        return console_command.run(args)
    from kiosk.hq.console import notes_command

    if args.hq_command in notes_command.COMMANDS:
        return notes_command.run(args)
    try:
        db = open_database(args.db, create=False)
    except MissingDatabase as exc:
        print(f"kiosk hq {args.hq_command}: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"kiosk hq: {exc}", file=sys.stderr)
        return 1
    try:
        if not has_schema(db):
            print(f"kiosk hq {args.hq_command}: {db.where} is not an HQ database (it has no HQ tables): "
                  f"{FIX_MISSING}", file=sys.stderr)
            db.close()
            return 2
        create_schema(db)  # adds tables a newer version brought; the database itself was there
    except DatabaseError as exc:
        print(f"kiosk hq: {exc}", file=sys.stderr)
        db.close()
        return 1
    try:
        code = _admin(args, db)
        if code == 0 and broker and args.hq_command in _CHANGES:
            _publish_now(db, broker)
        return code
    except admin.AdminError as exc:
        print(f"kiosk hq {args.hq_command}: refused: {exc}", file=sys.stderr)
        return 1
    except BrokerUnreachable as exc:
        print(f"kiosk hq: saved, not yet published ({exc}); `kiosk hq serve` will publish it", file=sys.stderr)
        return 0
    finally:
        db.close()


# HQ has no card writer (docs/hq.md "The new card is written at a kiosk")
WRITTEN_AT_A_KIOSK = (
    "  hand the card over as it is: the member's first tap at a kiosk, with their PIN, writes it / "
    "会员首次在自助机刷卡并输入密码后即写卡启用"
)

_CHANGES = {
    "register-member", "block-card", "unblock-card", "replace-card", "exchange-card", "return-card", "publish-rules"
}


def _init(url: str) -> int:
    """The explicit way to create HQ's database (`serve` also does at its first start)."""
    from kiosk.hq.db import DatabaseError, open_database
    from kiosk.hq.schema import create_schema

    try:
        db = open_database(url)
        try:
            create_schema(db)
        finally:
            db.close()
    except DatabaseError as exc:
        print(f"kiosk hq init: {exc}", file=sys.stderr)
        return 1
    print(f"HQ database ready at {db.where}")
    return 0


def _settle_gc() -> None:
    """For the long-lived receiver: what it imported lives as long as it does, so it is frozen out
    of the collector's walks (a full collection walked it all, a few times a batch), and a young
    collection waits for 10,000 new objects instead of 700 (a batch's transactions mostly die
    with it). About a sixth of a receiver's CPU per transaction (bench/hq_ingest.py)."""
    gc.freeze()
    gc.set_threshold(10_000)


def _serve(args, broker) -> int:
    from kiosk.hq.receiver import Receiver

    if broker is None:
        print("kiosk hq serve: --broker HOST[:PORT] (or $KIOSK_HQ_BROKER) is required", file=sys.stderr)
        return 2
    receiver = Receiver(args.db, broker, group=args.group, client_id=args.client_id)
    signal.signal(signal.SIGTERM, lambda *_: receiver._stop.set())
    _settle_gc()
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator and systemd
        print(f"kiosk hq serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _publish_now(db, broker) -> None:
    from kiosk.hq.broker import connect
    from kiosk.hq.publisher import Publisher

    client = connect(broker)
    try:
        sent = Publisher(db, client).publish_pending()
        print(f"published {sent} message(s) to the kiosks")
    finally:
        client.disconnect()
        client.loop_stop()


def _admin(args, db) -> int:
    from kiosk.hq import admin, devices, ledger
    from kiosk.ledger.money import format_fen

    cmd = args.hq_command
    if cmd == "report":
        from kiosk.hq.report import command as report_command

        return report_command.run(args, db)
    if cmd == "staff":
        from kiosk.hq import staff

        return staff.run(args, db)
    if cmd == "settings":
        from kiosk.hq import settings_command

        return settings_command.run(args, db)
    if cmd == "register-member":
        pin = sys.stdin.readline().strip()
        pepper = args.pepper_file.read_bytes().strip() if args.pepper_file else b""
        txn = admin.register_member(db, args.uid, args.phone, pin, name=args.name, birthday=args.birthday,
                                    pepper=pepper, staff_id=args.staff)
        print(f"registered member {txn.member_id} with card {txn.card_uid} ({txn.txn_id})")
        print(WRITTEN_AT_A_KIOSK)
    elif cmd == "block-card":
        txn = admin.block_card(db, args.uid, args.reason)
        print(f"card {txn.card_uid} blocked / 已挂失 ({txn.txn_id})")
    elif cmd == "unblock-card":
        txn = admin.unblock_card(db, args.uid, args.reason)
        print(f"card {txn.card_uid} unblocked / 已解除挂失 ({txn.txn_id})")
    elif cmd == "replace-card":
        txn = admin.replace_card(db, args.old_uid, args.new_uid)
        print(
            f"card {txn.card_uid} replaced by {txn.new_card_uid} / 补卡完成: "
            f"balance {format_fen(txn.balance_after_fen)}, {txn.points_after} points ({txn.txn_id})"
        )
        print(WRITTEN_AT_A_KIOSK)
    elif cmd == "exchange-card":
        txn = admin.exchange_card(db, args.old_uid, args.new_uid)
        print(f"card {txn.card_uid} exchanged for {txn.new_card_uid} / 换卡完成 ({txn.txn_id})")
        print(WRITTEN_AT_A_KIOSK)
    elif cmd == "return-card":
        txn = admin.return_card(db, args.uid)
        print(f"card {txn.card_uid} returned / 已退卡: refund {format_fen(txn.amount_fen)} ({txn.txn_id})")
    elif cmd == "publish-rules":
        rules = admin.publish_rules(db, args.file.read_bytes(), str(args.file), stores=tuple(args.store))
        print(f"rules version {rules.version} in force for {', '.join(args.store) or 'the chain'}")
    elif cmd == "devices":
        rows = devices.list_devices(db, args.store)
        if args.json:
            print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1))
        else:
            print(f"{'store':<12} {'device':<16} {'state':<8} {'outbox':>7}  last contact           software")
            for r in rows:
                state = "online" if r.online else "offline"
                print(f"{r.store:<12} {r.device_id:<16} {state:<8} {r.outbox_depth:>7}  {r.last_contact:<22} {r.software}")
    elif cmd == "conflicts":
        if args.resolve:
            device, _, seq = args.resolve.rpartition(":")
            if not device or not seq.isdigit():
                print("kiosk hq conflicts: --resolve wants DEVICE:SEQ", file=sys.stderr)
                return 2
            if not ledger.resolve_conflict(db, device, int(seq)):
                print(f"no open conflict {args.resolve}", file=sys.stderr)
                return 1
            print(f"conflict {args.resolve} marked resolved")
            return 0
        rows = ledger.list_conflicts(db, include_resolved=args.all)
        if args.json:
            print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1))
        else:
            for c in rows:
                mark = f" (resolved {c.resolved_at})" if c.resolved_at else ""
                print(f"{c.txn_id:<20} {c.kind:<16} member {c.member_id}: {c.detail}{mark}")
            print(f"{len(rows)} conflict(s)")
            divergent = ledger.list_divergent(db)
            for d in divergent:
                print(f"{d.device_id}:{d.seq:<14} seq reused with different content (received {d.received_at}): {d.body[:300]}")
            if divergent:
                print(f"{len(divergent)} event(s) sent again with different content: the kiosk reuses sequence numbers")
    elif cmd == "incidents":
        from kiosk.hq.incidents import list_incidents

        rows = list_incidents(db, args.device, args.kind)
        if args.json:
            print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1))
        else:
            for r in rows:
                detail = " ".join(f"{k}={v}" for k, v in sorted(r.detail.items()))
                print(f"{r.at:<22} {r.device_id:<12} {r.kind:<24} {r.card_uid:<20} {detail}")
            print(f"{len(rows)} incident(s)")
    elif cmd == "vouchers":
        from kiosk.hq.vouchers import issue_to_segment

        result = issue_to_segment(db, args.segment, args.voucher_type, args.campaign, progress=campaign_progress())
        print(f"{result.issued} voucher(s) of {args.voucher_type} issued to {args.segment} members / 已发放代金券"
              f" ({result.skipped} skipped: given already or no active card)")
    elif cmd == "status":
        for device, (stored, highest, applied) in sorted(ledger.event_counts(db).items()):
            waiting = stored - applied
            print(f"{device:<16} stored {stored:>8}  highest seq {highest:>8}  applied {applied:>8}  waiting {waiting}")
    return 0
