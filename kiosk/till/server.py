"""Serving the till API with uvicorn on its own thread, beside the kiosk's screen: `kiosk run`
starts it when [till] enabled = true; tests start it on a free port the same way."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kiosk.till.api import build_app
from kiosk.till.service import TillService
from kiosk.till.settings import TillSettings
from kiosk.till.tokens import TillTokens


class TillServer:
    """The running API: `start()` returns once it listens; `stop()` lets requests finish."""

    def __init__(self, session: Any, settings: TillSettings, data_dir: Path, post: Any = None) -> None:
        import uvicorn

        self.settings = settings
        self.service = TillService(session, post=post)
        self.tokens = TillTokens.load(settings.tokens_path(data_dir))
        config = uvicorn.Config(
            build_app(self.service, self.tokens),
            host=settings.host,
            port=settings.port,
            access_log=False,  # the request line names orders; our own log says what it must
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
            ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="till-api", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls_cert else "http"
        return f"{scheme}://{self.settings.host}:{self.settings.port}"

    def start(self, timeout_s: float = 10.0) -> TillServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the till API could not listen on {self.settings.host}:{self.settings.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
