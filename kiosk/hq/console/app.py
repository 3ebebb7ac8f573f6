"""The console's web application: routes, the per-request checks, and the plumbing.

Every route is declared once in ROUTES with the permission it needs; `_guard` runs before any
handler: no session -> redirect to /login (nothing else is read); no permission -> 403; a POST
without this session's CSRF token -> 403. Handlers are plain functions run in a worker thread
with a connection from a small pool (a Database is one connection, one thread at a time)."""

from __future__ import annotations

import contextlib
import queue
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kiosk.hq.console import auth, i18n
from kiosk.hq.console.page import Ctx, Denied, Handler, NotFound, Page  # noqa: F401 - the handlers' API
from kiosk.hq.db import Database, open_database
from kiosk.ledger.money import format_fen

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "kiosk_console"
LOGIN_COOKIE = "kiosk_console_login"
LANG_COOKIE = "kiosk_console_lang"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class Pool:
    """Up to `size` connections, each used by one request at a time."""

    def __init__(self, url: str, size: int = 4):
        self.url, self.size, self._free, self._opened = url, size, queue.LifoQueue(), 0
        self._all: list[Database] = []

    def get(self) -> Database:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if self._opened < self.size:
            self._opened += 1
            db = open_database(self.url)
            self._all.append(db)
            return db
        return self._free.get(timeout=30)

    def put(self, db: Database) -> None:
        self._free.put(db)

    def close(self) -> None:
        for db in self._all:
            db.close()




def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True))
    env.filters["fen"] = lambda fen: format_fen(int(fen))
    return env


class Console:
    def __init__(self, db_url: str, https: bool = False, pool_size: int = 4):
        self.pool = Pool(db_url, pool_size)
        self.https = https
        self.env = make_env()
        self.limiter = auth.AddressLimiter()

    # -- rendering -------------------------------------------------------------------------

    def render(self, request: Request, template: str, values: dict, status: int = 200,
               session: auth.Session | None = None, lang: str = "") -> HTMLResponse:
        lang = lang or language(request)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = self.env.get_template(template).render(
            t=lambda text: i18n.t(lang, text), lang=lang, langs=i18n.LANG_NAMES, session=session,
            user=session.user if session else None, csrf=session.csrf if session else "",
            here=quote(here, safe="/"), nav=_nav(session.user) if session else [], **values,
        )
        return secure_headers(HTMLResponse(html, status_code=status))

    def cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, secure=self.https, samesite="strict", path="/")

    # -- the guard ---------------------------------------------------------------------------

    def route(self, permission: str | None, handler: Handler) -> Callable:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                data = await request.form()
                form = {k: v for k, v in data.items() if isinstance(v, str)}
            return await run_in_threadpool(self._serve, request, permission, handler, form)

        return endpoint

    def _serve(self, request: Request, permission: str | None, handler: Handler, form: dict[str, str]) -> Response:
        db = self.pool.get()
        try:
            session = auth.session_for(db, request.cookies.get(SESSION_COOKIE, ""))
            if session is None:
                return RedirectResponse(f"/login?next={quote(request.url.path, safe='/')}", status_code=303)
            lang = language(request)
            if request.method == "POST" and not auth.same_token(session.csrf, form.get("csrf", "")):
                return self.render(request, "error.html", {"message": "The form expired: please try again."}, 403, session)
            if permission is not None and not session.user.may(permission):
                return self.render(request, "error.html", {"message": "You may not open this page."}, 403, session)
            try:
                page = handler(Ctx(request, db, session, lang, form))
            except Denied:
                return self.render(request, "error.html", {"message": "You may not open this page."}, 403, session)
            except NotFound:
                return self.render(request, "error.html", {"message": "Not found."}, 404, session)
            if page.raw is not None:
                return secure_headers(page.raw, csp=False)
            if page.redirect:
                return RedirectResponse(page.redirect, status_code=303)
            return self.render(request, page.template, page.values, page.status, session)
        finally:
            self.pool.put(db)

    # -- login -----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
        if request.method == "GET":
            response = self.render(request, "login.html", {"login_csrf": token, "next": safe_next(request.query_params.get("next", ""))})
            self.cookie(response, LOGIN_COOKIE, token, max_age=3600)
            return response
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        return await run_in_threadpool(self._login, request, token, form)

    def _login(self, request: Request, token: str, form: dict[str, str]) -> Response:
        values = {"login_csrf": token, "next": safe_next(form.get("next", "")), "username": form.get("username", "")}
        if not request.cookies.get(LOGIN_COOKIE) or not auth.same_token(token, form.get("csrf", "")):
            return self.render(request, "login.html", {**values, "error": "The form expired: please try again."}, 403)
        address = request.client.host if request.client else "?"
        if not self.limiter.allow(address):
            return self.render(request, "login.html", {**values, "error": "Too many attempts from this address: wait a few minutes."}, 429)
        db = self.pool.get()
        try:
            cookie, _ = auth.login(db, form.get("username", ""), form.get("password", ""))
        except auth.LoginRefused as refused:
            message = {
                "locked": "Too many wrong passwords: this account is locked for a while.",
            }.get(refused.code, "Wrong username or password.")
            return self.render(request, "login.html", {**values, "error": message}, 401)
        finally:
            self.pool.put(db)
        response = RedirectResponse(values["next"] or "/", status_code=303)
        self.cookie(response, SESSION_COOKIE, cookie, max_age=auth.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    def logout(self, ctx: Ctx) -> Page:
        auth.logout(ctx.db, ctx.request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return Page(raw=response)

    async def switch_language(self, request: Request) -> Response:
        lang = request.path_params["lang"]
        response = RedirectResponse(safe_next(request.query_params.get("next", "")) or "/", status_code=303)
        if lang in i18n.LANGS:
            self.cookie(response, LANG_COOKIE, lang, max_age=365 * 86400)
        return response


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in i18n.LANGS else i18n.DEFAULT_LANG


def safe_next(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


def secure_headers(response: Response, csp: bool = True) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    if csp:
        response.headers["Content-Security-Policy"] = CSP
    return response


NAV = [
    ("/members", "Members", "members.view"),
    ("/fleet", "Fleet", "fleet.view"),
    ("/conflicts", "Conflicts", "conflicts.view"),
    ("/approvals", "Approvals", "approvals.view"),
    ("/rules", "Rules", "rules.view"),
    ("/campaigns", "Campaigns", "campaigns.view"),
    ("/reports", "Reports", "reports.view"),
    ("/followups", "Follow-ups", "followups.view"),
    ("/audit", "Audit log", "audit.view"),
    ("/users", "Users", "users.manage"),
]


def _nav(user: auth.User) -> list[tuple[str, str]]:
    return [(path, label) for path, label, permission in NAV if user.may(permission)]


def home(ctx: Ctx) -> Page:
    first = _nav(ctx.user)
    return Page(redirect=first[0][0] if first else "/login")


def create_app(db_url: str, https: bool = False) -> Starlette:
    from kiosk.hq.console import (
        campaigns,
        pages_approvals,
        pages_campaigns,
        pages_cards,
        pages_fleet,
        pages_hq,
        pages_members,
        pages_notes,
        pages_reports,
        pages_rules,
    )

    console = Console(db_url, https)
    r = console.route
    routes = [
        Route("/login", console.login_page, methods=["GET", "POST"]),
        Route("/lang/{lang}", console.switch_language, methods=["GET"]),
        Route("/logout", r(None, console.logout), methods=["POST"]),
        Route("/", r(None, home), methods=["GET"]),
        *[Route(path, r(permission, handler), methods=[method]) for method, path, permission, handler in
          pages_members.ROUTES + pages_cards.ROUTES + pages_hq.ROUTES + pages_reports.ROUTES
          + pages_approvals.ROUTES + pages_rules.ROUTES + pages_fleet.ROUTES + pages_notes.ROUTES
          + pages_campaigns.ROUTES],
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        campaigns.resume(db_url)  # those a stop or power cut left half done
        yield
        console.pool.close()

    app = Starlette(routes=routes, lifespan=lifespan, max_body_size=2_000_000)
    app.state.console = console
    return app
