"""`kiosk cards`: staff tools to issue blank cards, and re-key or wipe returned ones.

The card work itself (diversified keys, the on-card format) belongs to the card layer; this
command is the loop around it: wait for a card, do the operation, wait for it to be taken away,
show progress, and sum up. A card that fails is counted with its reason and the batch goes on.

Integration contract with the card layer (kiosk/reader, branch `cards`):
  kiosk.reader.factory.open_reader(config.reader) -> Reader
  kiosk.reader.card.issue(reader, info, master_key) -> str   (the new card's id)
  kiosk.reader.card.rekey(reader, info, master_key, new_master_key) -> str
  kiosk.reader.card.wipe(reader, info, master_key) -> str
Each raises kiosk.reader.base.ReaderError (or ValueError for a foreign card) on failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kiosk.config import ConfigError, load_config
from kiosk.reader.base import CardInfo, Reader

DESCRIPTION = """\
Staff tools for the card stock. `issue` personalises blank cards one after another (keys
diversified per card from the card master key) and registers them at HQ when online; `rekey`
moves returned cards to a new master key; `wipe` returns cards to blank. Lay each card on the
reader when asked and take it away when told; a progress bar and a final summary show what
happened to every card."""

EPILOG = """\
subcommands:
  issue --count N            personalise N blank cards
  rekey --new-key FILE       re-key cards to the master key in FILE (16 bytes / 32 hex digits)
  wipe [--count N]           wipe returned cards back to blank

options:
  --config FILE     the configuration (default /etc/kiosk/kiosk.toml)
  --wait S          seconds to wait for each card before stopping (default 60)

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
    p.add_argument("--config", type=Path, default=None, metavar="FILE")
    p.add_argument("--wait", type=float, default=60.0, metavar="S")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    issue = sub.add_parser("issue", help="personalise blank cards")
    issue.add_argument("--count", type=int, required=True, metavar="N")
    rekey = sub.add_parser("rekey", help="re-key returned cards to a new master key")
    rekey.add_argument("--new-key", type=Path, required=True, metavar="FILE")
    rekey.add_argument("--count", type=int, default=1, metavar="N")
    wipe = sub.add_parser("wipe", help="wipe returned cards to blank")
    wipe.add_argument("--count", type=int, default=1, metavar="N")


def _card_layer(action: str) -> Callable | str:
    try:
        factory = importlib.import_module("kiosk.reader.factory")
        card = importlib.import_module("kiosk.reader.card")
    except ModuleNotFoundError as exc:
        return f"{exc.name} is not installed in this build"
    if not hasattr(card, action) or not hasattr(factory, "open_reader"):
        return f"kiosk.reader.card.{action} is not in this build"
    return getattr(card, action)


def run(args: argparse.Namespace) -> int:
    from kiosk.provisioning.masterkey import KeyFileError, read_master_key

    if args.count < 1:
        print("kiosk cards: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        if config.secrets.card_master_key_file is None:
            raise ConfigError(config.source, "secrets.card_master_key_file",
                              "is missing (kiosk provision --card-master-key FILE)")
        key = read_master_key(config.secrets.card_master_key_file)
        new_key = read_master_key(args.new_key) if args.action == "rekey" else None
    except (ConfigError, KeyFileError) as exc:
        print(f"kiosk cards: {exc}", file=sys.stderr)
        return 2
    func = _card_layer(args.action)
    if isinstance(func, str):
        print(f"kiosk cards: {func}", file=sys.stderr)
        return 1
    from kiosk.logging_setup import register_secret
    from kiosk.reader.factory import open_reader

    register_secret(key)
    if new_key is not None:
        register_secret(new_key)

    def operation(reader: Reader, info: CardInfo) -> str:
        if new_key is not None:
            return func(reader, info, key, new_key)
        return func(reader, info, key)

    verb = {"issue": "issued", "rekey": "re-keyed", "wipe": "wiped"}[args.action]
    started = time.monotonic()
    with open_reader(config.reader) as reader:
        summary = run_batch(reader, operation, args.count, args.wait, sys.stderr)
    for line in summary.lines(verb):
        print(line)
    print(f"  time: {time.monotonic() - started:.0f}s")
    return 0 if len(summary.done) == args.count else 1
