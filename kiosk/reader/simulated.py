"""A reader with no hardware: chip models from kiosk.reader.chips are placed on it and taken
off by a test, by keys on the keyboard, or by lines on a local socket. Used by the demo, by
`kiosk run --simulate` and by the card-format tests, so it behaves like a real driver: typed
errors, a fresh activation for every tap, and the card re-selected after a refused command.

A wallet of named cards can live in a JSON file (written atomically after every change) so
cards keep their contents between runs.

Socket protocol (one line per command, one line answered "ok ..." or "error ..."):
    list                 names of the cards in the wallet, the one on the reader starred
    tap NAME             place card NAME on the reader (removing any other)
    remove               take the card off
    new NAME KIND        add a blank card: classic1k, classic4k, ntag213/215/216, ultralight,
                         ntag424
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socketserver
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from kiosk.reader import chips
from kiosk.reader.base import (
    AuthFailed,
    CardGone,
    CardInfo,
    KeyType,
    NotSupported,
    Reader,
)
from kiosk.reader.chips import Chip, MifareClassic, Ntag

log = logging.getLogger(__name__)

KINDS: dict[str, Callable[[], Chip]] = {
    "classic1k": lambda: chips.new_classic(),
    "classic4k": lambda: chips.new_classic(four_k=True),
    "ntag213": lambda: chips.new_ntag(kind="ntag213"),
    "ntag215": lambda: chips.new_ntag(kind="ntag215"),
    "ntag216": lambda: chips.new_ntag(kind="ntag216"),
    "ultralight": lambda: chips.new_ntag(kind="ultralight"),
    "ntag424": lambda: chips.new_ntag424(),
}


class Wallet:
    """Named chips, optionally kept in a JSON file (mode 600, replaced atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.cards: dict[str, Chip] = {}
        if path is not None and path.exists():
            self.load()

    def load(self) -> None:
        """Read the card file; a damaged one is a ValueError naming the file, nothing loaded."""
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text("utf-8"))
            cards = {str(name): chips.chip_from_dict(d) for name, d in data["cards"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{self.path}: not a simulated card file ({e})") from None
        self.cards = cards

    def save(self) -> None:
        if self.path is None:
            return
        data = {"cards": {name: chip.to_dict() for name, chip in self.cards.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".wallet-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def add(self, name: str, chip: Chip) -> Chip:
        self.cards[name] = chip
        self.save()
        return chip

    def new(self, name: str, kind: str) -> Chip:
        if kind not in KINDS:
            raise ValueError(f"unknown card kind {kind!r}; one of {', '.join(KINDS)}")
        return self.add(name, KINDS[kind]())


class SimulatedReader(Reader):
    def __init__(self, wallet: Wallet | None = None, keymap: dict[str, str] | None = None):
        self.wallet = wallet or Wallet()
        self.keymap = keymap or {}
        self._chip: Chip | None = None
        self._changed = threading.Condition()
        # every place() and remove() is a new state of the field; wait_for_card notes the one
        # it selected, so a card swapped for another without a lift still reads as a removal
        self._taps = 0
        self._selected_tap: int | None = None
        self._server: socketserver.BaseServer | None = None

    # -- the field
    def place(self, chip: Chip | str) -> None:
        """Put a chip (or the wallet's card of that name) on the reader."""
        if isinstance(chip, str):
            chip = self.wallet.cards[chip]
        with self._changed:
            if self._chip is not None and self._chip is not chip:
                self._chip.remove()
            chip.place()
            self._chip = chip
            self._taps += 1
            self._changed.notify_all()

    def remove(self) -> None:
        with self._changed:
            if self._chip is not None:
                self._chip.remove()
            self._chip = None
            self._taps += 1
            self._changed.notify_all()
        self.wallet.save()

    @property
    def chip(self) -> Chip | None:
        return self._chip if self._chip is not None and self._chip.present else None

    def on_key(self, key: str) -> None:
        """Keyboard taps: a mapped key toggles its card on the reader; space or 0 removes."""
        if key in (" ", "0"):
            self.remove()
            return
        name = self.keymap.get(key)
        if name is None:
            return
        if self._chip is self.wallet.cards.get(name) and self.chip is not None:
            self.remove()
        else:
            self.place(name)

    # -- Reader
    def open(self) -> None:
        pass

    def close(self) -> None:
        self.stop_socket()
        self.wallet.save()

    def firmware(self) -> str:
        return "simulated 1.0"

    def wait_for_card(self, timeout: float) -> CardInfo | None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.chip is not None, timeout):
                return None
            chip = self._chip
            assert chip is not None
            chip.select()
            self._selected_tap = self._taps
            return CardInfo(chip.uid, chip.card_type, chip.atqa, chip.sak, chip.ats)

    def wait_for_removal(self, timeout: float) -> bool:
        """True once the field is empty, or holds another tap than the card selected last
        (another card, or the same one put down again)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.chip is None or self._taps != self._selected_tap, timeout
            )

    def _call(self, kind: type, fn: Callable[[Chip], bytes | None]) -> bytes | None:
        chip = self.chip
        if chip is None:
            raise CardGone("no card on the reader")
        if not isinstance(chip, kind):
            raise NotSupported(f"{chip.card_type} does not take this command")
        try:
            return fn(chip)
        except chips.ChipSilent as e:
            if not chip.present:
                with self._changed:
                    self._changed.notify_all()
            else:
                chip.select()
            raise CardGone(str(e)) from None
        except (chips.ChipAuthError, chips.ChipNak) as e:
            chip.select()  # as a driver re-activates the target after a refusal
            raise AuthFailed(str(e)) from None

    def _after_write(self) -> None:
        self.wallet.save()

    def mifare_auth(self, block: int, key_type: KeyType, key: bytes) -> None:
        self._call(MifareClassic, lambda c: c.authenticate(block, key_type, key))

    def mifare_read(self, block: int) -> bytes:
        return self._call(MifareClassic, lambda c: c.read_block(block))  # type: ignore[return-value]

    def mifare_write(self, block: int, data: bytes) -> None:
        try:
            self._call(MifareClassic, lambda c: c.write_block(block, data))
        finally:
            self._after_write()

    def ntag_read(self, page: int) -> bytes:
        return self._call(Ntag, lambda c: c.read(page))  # type: ignore[return-value]

    def ntag_write(self, page: int, data: bytes) -> None:
        try:
            self._call(Ntag, lambda c: c.write(page, data))
        finally:
            self._after_write()

    def ntag_pwd_auth(self, password: bytes) -> bytes:
        return self._call(Ntag, lambda c: c.pwd_auth(password))  # type: ignore[return-value]

    def read_signature(self) -> bytes:
        chip = self.chip
        if isinstance(chip, Ntag) and not chip.variant.version:
            raise NotSupported("this Ultralight has no originality signature")
        return self._call(Ntag, lambda c: c.read_sig())  # type: ignore[return-value]

    def ntag_read_counter(self) -> int:
        chip = self.chip
        if isinstance(chip, Ntag) and not chip.variant.version:
            raise NotSupported("this Ultralight has no NFC counter")
        count = self._call(Ntag, lambda c: c.ntag_command(b"\x39\x02"))
        self._after_write()  # the counter rose with this tap: the wallet must not forget it
        return int.from_bytes(count, "little")  # type: ignore[arg-type]

    # -- the local socket
    def serve_socket(self, path: Path) -> None:
        """Answer the line protocol on a Unix socket at `path` in a background thread."""
        reader = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for raw in self.rfile:
                    answer = reader.command_line(raw.decode("utf-8", "replace"))
                    self.wfile.write(answer.encode() + b"\n")

        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        server.daemon_threads = True
        os.chmod(path, 0o600)
        self._server = server
        threading.Thread(target=server.serve_forever, name="sim-reader", daemon=True).start()

    def stop_socket(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def command_line(self, line: str) -> str:
        words = line.split()
        try:
            match words:
                case ["list"]:
                    names = [
                        n + ("*" if c is self.chip else "") for n, c in self.wallet.cards.items()
                    ]
                    return "ok " + " ".join(sorted(names))
                case ["tap", name]:
                    if name not in self.wallet.cards:
                        return f"error no card named {name}"
                    self.place(name)
                    return f"ok {name} on the reader"
                case ["remove"]:
                    self.remove()
                    return "ok removed"
                case ["new", name, kind]:
                    chip = self.wallet.new(name, kind)
                    return f"ok {name} {chip.card_type} {chip.uid.hex()}"
                case _:
                    return "error commands: list | tap NAME | remove | new NAME KIND"
        except ValueError as e:
            return f"error {e}"


def socket_path(wallet_path: Path) -> Path:
    """Where a simulated reader with card file `wallet_path` listens for taps."""
    return wallet_path.with_name(wallet_path.name + ".sock")


class _ServingReader(SimulatedReader):
    """A simulated reader that answers the line protocol while it is open."""

    def __init__(self, wallet: Wallet, keymap: dict[str, str], sock: Path) -> None:
        super().__init__(wallet, keymap)
        self._sock = sock

    def open(self) -> None:
        if self._server is None:
            self.serve_socket(self._sock)


def from_config(config) -> SimulatedReader:
    """The reader for `[reader] driver = "simulated"`: `port` names the card file (JSON),
    empty for cards in memory only. With a file, taps also come over FILE.sock, and keys 1-9
    tap the wallet's cards in name order."""
    if not config.port:
        return SimulatedReader()
    path = Path(config.port)
    wallet = Wallet(path)
    keymap = {str(i + 1): name for i, name in enumerate(sorted(wallet.cards)[:9])}
    return _ServingReader(wallet, keymap, socket_path(path))
