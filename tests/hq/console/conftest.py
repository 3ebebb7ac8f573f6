"""The console under test: a real uvicorn server on a free port (in a thread) over a real HQ
database holding a two-store chain, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kiosk.hq.console import auth
from kiosk.hq.console.app import create_app
from kiosk.hq.console.sample import NewMember, seed
from kiosk.hq.db import open_database
from kiosk.hq.schema import create_schema
from tests.fixtures.postgres import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"
KIOSKS = {"K1a": "S1", "K2a": "S2"}
PEOPLE = [
    NewMember("K1a", "04A1B2C3", "13800000001", "张三", 10000),
    NewMember("K1a", "04A1B2C4", "13800000002", "Alice", 5000),
    NewMember("K2a", "04B1B2C3", "13900000001", "李四", 20000),
]
# role -> username; the store manager of S1 is "s1"
USERS = {"admin": "admin", "programme-manager": "prog", "store-manager": "s1", "finance": "fin", "auditor": "aud"}


@dataclass
class Console:
    url: str
    db_url: str
    members: dict[str, str]  # card uid -> member id

    def db(self):
        return open_database(self.db_url)


class _Server:
    def __init__(self, db_url: str):
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(create_app(db_url), host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def make_console(db_url: str):
    db = open_database(db_url)
    create_schema(db)
    members = seed(db, KIOSKS, PEOPLE)
    for role, name in USERS.items():
        auth.add_user(db, name, role, PASSWORD, ("S1",) if role == "store-manager" else ())
    auth.add_user(db, "s2", "store-manager", PASSWORD, ("S2",))
    db.close()
    return _Server(db_url), members


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """argon2 at its production cost (64 MiB, 3 passes) takes 1-2 s a hash on the shared 2-core
    test machine, and every console fixture hashes six passwords and every sign-in one more: the
    tests use a cheap argon2id (the same code path; production keeps argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    quick = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(auth, "_HASHER", quick)
    monkeypatch.setattr(auth, "_DUMMY_HASH", quick.hash("not a password anyone has"))


@pytest.fixture
def console(tmp_path):
    db_url = str(tmp_path / "hq.sqlite3")
    server, members = make_console(db_url)
    with server as url:
        yield Console(url, db_url, members)


@pytest.fixture
def console_pg(postgres_dsn):
    server, members = make_console(postgres_dsn)
    with server as url:
        yield Console(url, postgres_dsn, members)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, url: str, username: str, password: str = PASSWORD, lang: str = "en") -> None:
    page.goto(f"{url}/lang/{lang}?next=/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def http_client(url: str, username: str | None = None) -> httpx.Client:
    """A plain HTTP client, signed in through the login form (with its CSRF token) when named."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)  # the HTML report draws its charts: seconds on a busy machine
    if username:
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        done = client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD})
        assert done.status_code == 303, done.text
    return client


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    """This session's CSRF token, from the sign-out form every page carries."""
    page = client.get(path, follow_redirects=True)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
