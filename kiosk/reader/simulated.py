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

from kiosk.reader import chips, tag
from kiosk.reader.base import AuthFailed, CardGone, CardInfo, NotSupported
from kiosk.reader.chips import Chip, MifareClassic, Ntag
from kiosk.reader.spec import Capabilities, DriverSpec
from kiosk.reader.tag import TagReader

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


class SimulatedReader(TagReader):
    """The card commands go through kiosk.reader.tag to the chip model's own frame handler,
    as they would go to a card through a reader chip."""

    capabilities = Capabilities(iso_dep=False)  # the NTAG 424 model is reached by emulators
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

    def selected(self) -> CardInfo | None:
        chip = self.chip
        if chip is None:
            return None
        return CardInfo(chip.uid, chip.card_type, chip.atqa, chip.sak, chip.ats)

    def _guard(self, chip: Chip, call: Callable[[], bytes]) -> bytes:
        """Run one chip-model command, its errors typed as a driver types them."""
        try:
            return call()
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

    def transceive(self, frame: bytes) -> bytes:
        chip = self.chip
        if chip is None:
            raise CardGone("no card on the reader")
        if isinstance(chip, MifareClassic):
            send = chip.command
        elif isinstance(chip, Ntag):
            send = chip.ntag_command
        else:
            raise NotSupported(f"{chip.card_type} takes no native commands")
        try:
            return bytes(self._guard(chip, lambda: send(bytes(frame))))
        finally:
            if frame[:1] and (frame[0] in tag.WRITES or frame[0] == tag.READ_CNT):
                self.wallet.save()  # a write, or a counter that rose: the wallet keeps it

    def crypto1_auth(self, frame: bytes) -> None:
        chip = self.chip
        if not isinstance(chip, MifareClassic):
            raise CardGone("no MIFARE Classic card on the reader")
        self._guard(chip, lambda: chip.command(bytes(frame)))

    def read_signature(self) -> bytes:
        chip = self.chip
        if isinstance(chip, Ntag) and not chip.variant.version:
            raise NotSupported("this Ultralight has no originality signature")
        return super().read_signature()

    def ntag_read_counter(self) -> int:
        chip = self.chip
        if isinstance(chip, Ntag) and not chip.variant.version:
            raise NotSupported("this Ultralight has no NFC counter")
        return super().ntag_read_counter()

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
    """The reader for a `[reader] driver = "simulated"` configuration (see from_port)."""
    return from_port(config.port)


def from_port(port: str) -> SimulatedReader:
    """`port` names the card file (JSON), empty for cards in memory only. With a file, taps
    also come over FILE.sock, and keys 1-9 tap the wallet's cards in name order."""
    if not port:
        return SimulatedReader()
    path = Path(port)
    wallet = Wallet(path)
    keymap = {str(i + 1): name for i, name in enumerate(sorted(wallet.cards)[:9])}
    return _ServingReader(wallet, keymap, socket_path(path))


DRIVER = DriverSpec(
    name="simulated",
    build=lambda port: from_port(port),
    capabilities=SimulatedReader.capabilities,
    port_help="a card file (JSON) whose cards keys 1-9 and FILE.sock tap; empty: cards in memory",
)
