"""The kiosk's own share of a till charge, over real HTTP to the till API (uvicorn) with N members
in the local replica, beside a baseline measured in the same run: an HTTP round trip to a trivial
endpoint on the same server.

  request -> "tap your card" on screen: from the till sending POST /v1/charges to the session
            publishing the charge_tap view (what the screen draws);
  card read -> response: from the card event handed to the session (the member then confirms at
            once; under the PIN threshold) to the till's long-poll receiving "approved", the
            charge committed (fsync'd) in between.

    .venv/bin/python bench/pos.py [--members N] [--charges N]     (--full: 10,000 members, 1,000 charges)

Without a screen: the session is pumped by a thread woken by every post, as `kiosk run`'s app.post
wakes Kivy's clock (whose frame, up to 16 ms at 60 fps, is not counted here)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from bench.members import fill, pct  # noqa: E402
from kiosk.ledger.pin import FAST_FOR_TESTS  # noqa: E402
from kiosk.ledger.sample import default_rules  # noqa: E402
from kiosk.session.clock import SystemClock  # noqa: E402
from kiosk.session.inputs import CardKind, CardPresented, CardRead, CardRemoved  # noqa: E402
from kiosk.session.session import Session  # noqa: E402
from kiosk.session.settings import SessionSettings  # noqa: E402
from kiosk.store.store import Store  # noqa: E402
from kiosk.till.api import build_app  # noqa: E402
from kiosk.till.service import TillService  # noqa: E402
from kiosk.till.tokens import TillTokens  # noqa: E402


class Driver:
    """Pumps the session whenever something is posted (and every 50 ms), on its own thread."""

    def __init__(self, session: Session) -> None:
        self.session, self.wake, self.stop = session, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def post(self, item) -> None:
        self.session.post(item)
        self.wake.set()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(0.05)
            self.wake.clear()
            self.session.pump()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--charges", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="10,000 members, 1,000 charges")
    args = parser.parse_args()
    if args.full:
        args.members, args.charges = 10_000, 1_000

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = Store.open(Path(tmp) / "store", "bench-01", default_rules(), b"bench", FAST_FOR_TESTS)
        uids = fill(store, args.members, balance_fen=100_000)  # ¥1,000 each
        print(f"replica: {args.members} members in {time.perf_counter() - t0:.1f} s")
        session = Session(store, clock=SystemClock(), settings=SessionSettings(message_s=2))
        on_screen = {}
        shown = threading.Condition()

        def seen(view) -> None:
            with shown:
                on_screen[view.state] = time.perf_counter()
                shown.notify_all()

        session.subscribe(seen)
        driver = Driver(session)
        tokens = TillTokens.load(Path(tmp) / "till-tokens.json")
        token = tokens.add("till-1")
        app = build_app(TillService(session, post=driver.post), tokens)
        app.router.routes.append(Route("/ping", lambda request: PlainTextResponse("ok")))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        poller = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

        def wait_state(state: str, since: float) -> float:
            with shown:
                shown.wait_for(lambda: on_screen.get(state, 0) > since, timeout=10)
                return on_screen[state]

        base, to_screen, to_answer, errors = [], [], [], 0
        step = max(1, len(uids) // args.charges)
        started = time.perf_counter()
        for i in range(args.charges):
            uid = uids[(i * step) % len(uids)]
            t = time.perf_counter()
            http.get("/ping")
            base.append(time.perf_counter() - t)

            t = time.perf_counter()
            r = http.post("/v1/charges", json={"order_id": f"B{i}", "amount_fen": 1280, "apply_discount": True})
            if r.status_code != 202:
                errors += 1
                continue
            to_screen.append(wait_state("charge_tap", t) - t)
            version = r.json()["version"]
            answer: dict = {}

            def long_poll(order=f"B{i}", version=version, answer=answer) -> None:
                while answer.get("status", "pending") == "pending":
                    got = poller.get(f"/v1/charges/{order}", params={"wait_s": 10, "since": version}).json()
                    version = got["version"]
                    answer.update(got, received=time.perf_counter())

            polling = threading.Thread(target=long_poll)
            polling.start()
            t = time.perf_counter()
            driver.post(CardPresented(CardRead(uid, CardKind.MEMBER)))
            wait_state("charge_confirm", t)
            session.confirm_charge()  # the member's touch (driving-thread lock held inside)
            polling.join(timeout=20)
            if answer.get("status") != "approved":
                errors += 1
                continue
            to_answer.append(answer["received"] - t)
            driver.post(CardRemoved(uid))
            wait_state("idle", t)
        elapsed = time.perf_counter() - started
        server.should_exit = True
        driver.stop.set()
        thread.join(timeout=5)
        store.close()

    ms = 1000
    print(f"\n{'per charge (ms), ' + str(args.members) + ' members':<48}{'p50':>9}{'p99':>9}{'p99 - base':>12}")
    b50, b99 = statistics.median(base) * ms, pct(base, 0.99) * ms
    print(f"{'baseline: HTTP round trip, trivial endpoint':<48}{b50:>9.2f}{b99:>9.2f}{0:>12.2f}")
    for name, values in (("request -> 'tap your card' view published", to_screen),
                         ("card read -> approved answer at the till", to_answer)):
        p50, p99 = statistics.median(values) * ms, pct(values, 0.99) * ms
        print(f"{name:<48}{p50:>9.2f}{p99:>9.2f}{p99 - b99:>12.2f}")
    done = len(to_answer)
    print(f"\n{done} charges approved, {errors} errors, in {elapsed:.1f} s: {done / elapsed * 60:.0f} charges/minute "
          f"(target: 100/minute with no error; the member's own time not included)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
