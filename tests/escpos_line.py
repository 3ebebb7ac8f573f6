"""An ESC/POS printer's end of a serial line, emulated on a pseudo-terminal: it keeps every byte
the kiosk sends and answers the paper-sensor question (DLE EOT 4) with the status byte a real
printer would, so the real python-escpos Serial (pyserial) talks to it as to a printer."""

from __future__ import annotations

import os
import select
import threading
import tty

from kiosk.receipt.paper import PAPER_STATUS

PAPER_OK, PAPER_LOW, PAPER_OUT = 0x12, 0x1E, 0x72  # DLE EOT 4 answers: fixed bits, near end, end


class PrinterLine:
    def __init__(self, paper: int | None = PAPER_OK) -> None:
        self.paper = paper  # the status byte answered; None: the printer never answers
        self.received = bytearray()
        self.questions = 0
        self._controller, self._line = os.openpty()
        tty.setraw(self._controller)
        self.device = os.ttyname(self._line)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self._controller], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._controller, 65536)
            except OSError:
                return
            self.received += chunk
            # the kiosk waits for the answer before it sends more, so a question ends what came
            if self.received.endswith(PAPER_STATUS):
                self.questions += 1
                if self.paper is not None:
                    os.write(self._controller, bytes([self.paper]))

    def __enter__(self) -> PrinterLine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        os.close(self._controller)
        os.close(self._line)
