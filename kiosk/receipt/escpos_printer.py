"""The ESC/POS adapter: receipts drawn as bitmaps (raster.py) and sent with python-escpos, which
speaks the dialects of the common thermal printers over USB, serial and device files.

Printing runs on a thread of its own, one receipt at a time, so a slow serial line or a
printer that hangs never holds up the session (and the screen) it was asked from. Each
receipt opens the printer afresh, so a printer unplugged and plugged back in works again
from the next receipt. Failures are logged with the transaction id and the printer's error,
never the member's name or card, and counted."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PIL import Image

from kiosk.receipt.paper import Paper, ask_paper
from kiosk.receipt.raster import render_receipt
from kiosk.receipt.receipt import Receipt

log = logging.getLogger(__name__)

QUEUE_SIZE = 16  # receipts waiting; more than this and the printer is clearly not printing
UNANSWERED_LIMIT = 3  # paper questions left unanswered in a row before the adapter stops asking
_STOP = object()


def escpos_job(printer: Any, image: Image.Image) -> None:
    """One receipt on an opened python-escpos printer: initialise, the bitmap, feed and cut."""
    printer.hw("INIT")
    printer.image(image, impl="bitImageRaster", center=False)
    printer.cut()


def width_profile(width_dots: int) -> Any:
    """python-escpos's default profile with the paper's width in dots filled in (the default
    leaves it unknown, and then the library prints a warning to stdout at every image)."""
    from escpos.capabilities import get_profile

    profile = get_profile(None)
    data = dict(profile.profile_data)
    data["media"] = {"dpi": 203, "width": {"mm": "Unknown", "pixels": width_dots}}
    profile.profile_data = data  # on this instance only; the library's table is untouched
    return profile


class PaperOut(Exception):
    """The printer says its roll is empty: the job is not sent (it would vanish unprinted)."""


def _problem(exc: BaseException) -> str:
    """The printer's error in one short line (python-escpos puts the cause on a second line)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:200]


class EscposPrinter:
    """`connect()` returns an unopened python-escpos printer (Usb, Serial or File); it is
    opened, used for one receipt and closed."""

    def __init__(
        self,
        connect: Callable[[], Any],
        width_dots: int,
        font_path: str,
        name: str = "printer",
        queue_size: int = QUEUE_SIZE,
    ):
        self.connect = connect
        self.width_dots = width_dots
        self.font_path = font_path
        self.name = name
        self.printed = 0
        self.failed = 0
        self.dropped = 0  # not printed because too many were already waiting
        self.last_problem = ""
        self.paper = Paper.UNKNOWN
        self._unanswered = 0  # paper questions in a row without an answer; a device file: the limit
        self._queue: queue.Queue[Any] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- the port -----------------------------------------------------------------------------

    def print_receipt(self, receipt: Receipt) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait(receipt)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            log.warning("receipt for %s not printed: %d receipts already waiting for %s",
                        receipt.txn_id, self._queue.maxsize, self.name)

    def describe(self) -> str:
        paper = "" if self.paper is Paper.UNKNOWN else f"paper {self.paper}, "
        text = f"{self.name}: {paper}{self.printed} printed, {self.failed} failed"
        if self.dropped:
            text += f", {self.dropped} dropped"
        return text + (f" (last: {self.last_problem})" if self.last_problem else "")

    def close(self, timeout_s: float = 5.0) -> None:
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)
        self._thread = None

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Whether everything queued so far was printed (or failed) within `timeout_s`."""
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True)
        waiter.start()
        return done.wait(timeout_s)

    # -- inside ---------------------------------------------------------------------------------

    def print_now(self, receipt: Receipt) -> None:
        """Print on this thread; raises what the printer raised."""
        image = render_receipt(receipt, self.width_dots, self.font_path)
        printer = self.connect()
        try:
            self._check_paper(printer)
            escpos_job(printer, image)
        finally:
            printer.close()

    def _check_paper(self, printer: Any) -> None:
        """Ask the paper sensor before the job (while the printer answers); no paper: raise."""
        if self._unanswered >= UNANSWERED_LIMIT:
            return
        paper = ask_paper(printer)
        if paper is None:
            self._unanswered = UNANSWERED_LIMIT
            return
        self._unanswered = self._unanswered + 1 if paper is Paper.UNKNOWN else 0
        if paper is not Paper.UNKNOWN:
            self.paper = paper
        if paper is Paper.OUT:
            raise PaperOut("the printer has no paper: load a new roll")

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="receipt-printer", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._print_one(item)
            finally:
                self._queue.task_done()

    def _print_one(self, receipt: Receipt) -> None:
        try:
            self.print_now(receipt)
        except Exception as exc:
            problem = _problem(exc)
            with self._lock:
                self.failed += 1
                self.last_problem = problem
            log.warning("receipt for %s not printed on %s: %s", receipt.txn_id, self.name, problem)
            return
        with self._lock:
            self.printed += 1
            self.last_problem = ""
