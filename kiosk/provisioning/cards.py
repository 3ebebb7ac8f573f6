"""`kiosk cards`: staff tools to issue blank cards, and re-key or wipe returned ones.

The card work itself (diversified keys, the on-card format) belongs to the card layer; this
command is the loop around it: wait for a card, do the operation, wait for it to be taken away,
show progress, and sum up. A card that fails is counted with its reason and the batch goes on.

The card layer it drives (kiosk/reader, branch `cards`):
  kiosk.reader.keys.SiteKeys.from_file(master_key_file, system_id)
  kiosk.reader.card.issue_card / rekey_card / wipe_card(reader, info, keys, ...)
and kiosk.reader.factory.open_reader(config.reader) (branch `readers`), which returns the
reader already open. Each card issued is appended to DATA_DIR/issued_cards.jsonl (mode 600,
fsynced): it numbers the reserved member ids (M-<device>-P<n>) and lists the stock. Nothing sends
it to HQ: a pre-issued card is sold by a sign-up, like a blank one. Tapped at a kiosk that HQ
says does not know it, the card is offered sign-up and personalised anew for the new member;
registered at HQ's counter (`kiosk hq register-member UID`), it is written with that member at
their first tap at a kiosk, behind their PIN (kiosk/session/flows/card_write.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from kiosk.app.config import Config, ConfigError, load_config
from kiosk.ledger.card_write import reserved_member_id
from kiosk.reader.base import CardInfo, Reader

DESCRIPTION = """\
Staff tools for the card stock. `issue` personalises blank cards one after another (keys
diversified per card from the card master key), each with a reserved member id; `rekey`
moves returned cards to a new master key; `wipe` returns cards to blank. Lay each card on the
reader when asked and take it away when told; a progress bar and a final summary show what
happened to every card."""

EPILOG = """\
files:
  /etc/kiosk/card_master.key       the key cards are personalised with (mode 600)
  /var/lib/kiosk/issued_cards.jsonl  one line per issued card (the stock; not sent to HQ)

A pre-issued card is sold by a sign-up: at a kiosk (tap it, sign up as with a blank card) or at
HQ's counter (`kiosk hq register-member UID`, then the member taps it at a kiosk and enters
their PIN: the kiosk writes the member onto it).

The kiosk service holds the reader: stop it first (`systemctl stop kiosk`).

examples:
  sudo systemctl stop kiosk; sudo kiosk cards issue --count 50; sudo systemctl start kiosk
  sudo kiosk cards wipe --count 3

exit status:
  0 every card done; 1 some cards failed or the batch stopped early; 2 bad configuration"""


@dataclass
class Summary:
    asked: int
    done: list[str] = field(default_factory=list)
    failed: Counter = field(default_factory=Counter)
    stopped: str = ""

    @property
    def processed(self) -> int:
        return len(self.done) + sum(self.failed.values())

    def lines(self, verb: str) -> list[str]:
        out = [f"{verb}: {len(self.done)} of {self.asked} cards"]
        for reason, n in self.failed.most_common():
            out.append(f"  failed {n}x: {reason}")
        if self.stopped:
            out.append(f"  stopped: {self.stopped}")
        return out


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run_batch(reader: Reader, operation: Callable[[Reader, CardInfo], str], count: int,
              wait_s: float, out: TextIO, removal_s: float = 30.0) -> Summary:
    """Do `operation` on `count` cards in turn; a failed card is counted, not fatal."""
    summary = Summary(asked=count)
    while summary.processed < count:
        out.write(f"\r{progress_bar(summary.processed, count)} lay card "
                  f"{summary.processed + 1} on the reader / 请放卡 ")
        out.flush()
        info = reader.wait_for_card(wait_s)
        if info is None:
            summary.stopped = f"no card within {wait_s:.0f}s"
            break
        try:
            summary.done.append(operation(reader, info))
        except Exception as exc:  # the card layer's errors: counted by kind, batch goes on
            summary.failed[f"{type(exc).__name__}: {exc}"] += 1
        out.write(f"\r{progress_bar(summary.processed, count)} take the card away / 请取卡    ")
        out.flush()
        if not reader.wait_for_removal(removal_s):
            summary.stopped = "the card was not taken away"
            break
    out.write(f"\r{progress_bar(summary.processed, count)}{' ' * 40}\n")
    return summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="the configuration (default /etc/kiosk/kiosk.toml)")
    p.add_argument("--wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for each card")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True, title="actions")
    issue = sub.add_parser("issue", help="personalise N blank cards",
                           description="Personalise blank cards one after another: keys diversified per "
                                       "card from the card master key, each with a reserved member id "
                                       "(M-<kiosk>-P<n>); a card is sold later by a sign-up, at a kiosk "
                                       "or at HQ's counter.")
    issue.add_argument("--count", type=int, required=True, metavar="N", help="cards to issue")
    rekey = sub.add_parser("rekey", help="re-key returned cards to the master key in FILE",
                           description="Move cards to a new card master key (say, after the old one was "
                                       "exposed); the member on each card stays the same.")
    rekey.add_argument("--new-key", type=Path, required=True, metavar="FILE",
                       help="the new master key (16 raw bytes or 32 hex digits, mode 600)")
    rekey.add_argument("--count", type=int, default=1, metavar="N", help="cards to re-key")
    wipe = sub.add_parser("wipe", help="wipe returned cards back to blank",
                          description="Return cards to their transport state (factory keys, no member "
                                      "data), ready to be issued again.")
    wipe.add_argument("--count", type=int, default=1, metavar="N", help="cards to wipe")


class IssuedLog:
    """Cards issued on this kiosk, one JSON line each, fsynced: the reserved member ids it hands
    out are numbered from it (M-<device>-P<n>). A record of the stock; nothing sends it to HQ."""

    def __init__(self, path: Path):
        self.path = path

    def count(self) -> int:
        try:
            return sum(1 for line in self.path.read_text().splitlines() if line.strip())
        except FileNotFoundError:
            return 0

    def append(self, entry: dict) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


def build_operation(action: str, config: Config, new_key: Path | None = None,
                    today: date | None = None) -> Callable[[Reader, CardInfo], str]:
    """The per-card step for `action`, over the card layer; raises ImportError when the card
    layer is not in this build, KeyFileError for an unusable key file."""
    from kiosk.reader import card as card_layer
    from kiosk.reader.keys import SiteKeys

    system_id = config.secrets.card_system_id.encode("utf-8")
    if config.secrets.card_master_key_file is None:
        raise ConfigError(config.source, "secrets.card_master_key_file",
                          "is missing (kiosk provision --card-master-key FILE)")
    site = SiteKeys.from_file(Path(config.secrets.card_master_key_file), system_id)
    device = config.device.id
    if action == "issue":
        log = IssuedLog(Path(config.device.data_dir) / "issued_cards.jsonl")
        issued_on = today or datetime.now(UTC).date()

        def issue(reader: Reader, info: CardInfo) -> str:
            member_id = reserved_member_id(device, log.count() + 1)
            card_layer.issue_card(reader, info, site, member_id, 1, issued_on, device)
            log.append({"member_id": member_id, "card_seq": 1, "uid": info.uid.hex(),
                        "card_type": str(info.type), "issued_on": issued_on.isoformat(),
                        "device_id": device})
            return member_id

        return issue
    if action == "rekey":
        assert new_key is not None
        new_site = SiteKeys.from_file(new_key, system_id)
        return lambda reader, info: card_layer.rekey_card(reader, info, site, new_site).member_id

    def wipe(reader: Reader, info: CardInfo) -> str:
        card_layer.wipe_card(reader, info, site)
        return "blank"

    return wipe


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        print("kiosk cards: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        operation = build_operation(args.action, config, getattr(args, "new_key", None))
    except ConfigError as exc:
        print(f"kiosk cards: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        print(f"kiosk cards: the card layer ({exc.name}) is not installed in this build",
              file=sys.stderr)
        return 1
    except Exception as exc:  # the card layer's KeyFileError: names the file, not the key
        print(f"kiosk cards: {exc}", file=sys.stderr)
        return 2
    try:
        from kiosk.reader.factory import open_reader
    except ModuleNotFoundError as exc:
        print(f"kiosk cards: the reader drivers ({exc.name}) are not installed in this build",
              file=sys.stderr)
        return 1
    verb = {"issue": "issued", "rekey": "re-keyed", "wipe": "wiped"}[args.action]
    started = time.monotonic()
    try:
        reader = open_reader(config.reader)
    except Exception as exc:
        print(f"kiosk cards: the reader did not open: {type(exc).__name__}: {exc} "
              "(is the kiosk service running? `systemctl stop kiosk`)", file=sys.stderr)
        return 1
    try:
        summary = run_batch(reader, operation, args.count, args.wait, sys.stderr)
    finally:
        reader.close()
    for line in summary.lines(verb):
        print(line)
    print(f"  time: {time.monotonic() - started:.0f}s")
    if args.action == "issue" and summary.done:
        print(f"  the new cards are listed in {config.device.data_dir}/issued_cards.jsonl; each is sold by "
              "a sign-up: tapped at a kiosk, or `kiosk hq register-member UID` at HQ's counter (the member's "
              "first tap at a kiosk then writes the member onto it, behind their PIN)")
    if args.action == "rekey" and summary.done:
        print("  every kiosk needs the new key: `kiosk provision --card-master-key FILE`")
    return 0 if len(summary.done) == args.count else 1
