"""The till API tests' kiosk: the session tests' kiosk (real store, simulated reader with chip
models) driven by its own thread as Kivy's clock drives it in `kiosk run`, and the real API
served by uvicorn on a free port, reached over real HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from kiosk.sync.local_broker import free_port
from kiosk.till.server import TillServer
from kiosk.till.settings import TillSettings
from kiosk.till.tokens import TillTokens
from tests.session_support import Kiosk, make_kiosk


class Driver:
    """Pumps the session (and the reader worker) every few ms on its own thread; the test's own
    moves (a tap, the member's touches) take the same lock, as if made on the kiosk's thread."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="driver", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.kiosk.run(1)
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)

    def do(self, action):
        with self.lock:
            result = action()
            self.kiosk.run()
            return result

    def tap(self, chip) -> None:
        self.do(lambda: self.kiosk.reader.place(chip))

    def lift(self) -> None:
        self.do(self.kiosk.reader.remove)

    def wait_for(self, condition, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; kiosk in {self.kiosk.state}")
            time.sleep(0.01)


class Till:
    """A running kiosk with its till API, and an HTTP client holding one till's token."""

    def __init__(self, data_dir: Path, kiosk: Kiosk | None = None, tls: tuple[Path, Path] | None = None) -> None:
        self.data_dir = data_dir
        self.kiosk = kiosk or make_kiosk(data_dir)
        tokens = TillTokens.load(data_dir / "till-tokens.json")
        self.token = tokens.add("till-1")
        self.settings = TillSettings(enabled=True, port=free_port(), tls_cert=tls and tls[0], tls_key=tls and tls[1])
        self.driver = Driver(self.kiosk)
        self.server = TillServer(self.kiosk.session, self.settings, data_dir).start()
        self.http = httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=30, verify=False if tls else True)  # TLS: the tests check it themselves

    def post(self, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
        return self.http.post(path, json=body, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        self.driver.stop()
        self.kiosk.store.close()
