"""`kiosk sim-card`: put simulated cards on a running kiosk's simulated reader, and keep the card
file it reads them from."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

DESCRIPTION = """\
Tap, remove and create the simulated membership cards of a kiosk whose reader driver is
"simulated" (`[reader] driver = "simulated"`, `port = FILE`). The running kiosk listens on
FILE.sock; `tap` and `remove` go there. `new` and `list` work on the card file directly when
no kiosk is running."""

EPILOG = """\
commands:
  list                 the cards in the file; the one on the reader is starred
  tap NAME             place card NAME on the reader (taking off any other)
  remove               take the card off the reader
  new NAME KIND        a blank card: classic1k, classic4k, ntag213, ntag215, ntag216,
                       ultralight, ntag424 (issue it by signing up at the kiosk)

files:
  FILE                 cards and their memory, JSON, mode 600, replaced atomically
  FILE.sock            the running kiosk's tap socket (one command per line)

examples:
  kiosk sim-card --cards /var/lib/kiosk/cards.json new alice classic1k
  kiosk sim-card --cards /var/lib/kiosk/cards.json tap alice
  echo remove | socat - UNIX-CONNECT:/var/lib/kiosk/cards.json.sock

exit status:
  0 done; 1 the reader or the card file refused (the message says why); 2 bad usage"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cards", type=Path, default=Path("cards.json"), metavar="FILE",
                        help="the simulated reader's card file, its [reader] port (default ./cards.json)")
    parser.add_argument(
        "words", nargs="+", metavar="COMMAND", help="list | tap NAME | remove | new NAME KIND"
    )


def _ask(sock_path: Path, line: str) -> str | None:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(sock_path))
            s.sendall(line.encode() + b"\n")
            return s.makefile().readline().strip()
    except (FileNotFoundError, ConnectionRefusedError):
        return None


def run(args: argparse.Namespace) -> int:
    from kiosk.reader.simulated import SimulatedReader, Wallet, socket_path

    line = " ".join(args.words)
    answer = _ask(socket_path(args.cards), line)
    if answer is None:
        if args.words[0] not in ("list", "new"):
            print(f"no kiosk is listening at {socket_path(args.cards)}", file=sys.stderr)
            return 1
        try:
            answer = SimulatedReader(Wallet(args.cards)).command_line(line)
        except (OSError, ValueError) as e:
            print(f"{args.cards}: {e}", file=sys.stderr)
            return 1
    ok = answer.startswith("ok")
    print(answer.removeprefix("ok ").removeprefix("error "), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
