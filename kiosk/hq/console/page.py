"""What a console handler gets and gives back: the request's context, its answer, and the two
refusals it may raise. Apart from the app so the page modules need not import the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from kiosk.hq.console import auth
from kiosk.hq.db import Database


@dataclass
class Ctx:
    """What a handler gets: the request's parsed parts, a connection, who is asking."""

    request: Request
    db: Database
    session: auth.Session
    lang: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> auth.User:
        return self.session.user

    def param(self, name: str) -> str:
        return str(self.request.path_params.get(name, ""))

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)


class Denied(Exception):
    """The user may not see or do this (403); raised by handlers for per-store checks."""


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class Page:
    """A rendered template, or a redirect, as a handler's answer."""

    template: str = ""
    values: dict = field(default_factory=dict)
    status: int = 200
    redirect: str = ""
    raw: Response | None = None


Handler = Callable[[Ctx], Page]
