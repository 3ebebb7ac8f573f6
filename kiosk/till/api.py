"""The till API over HTTP (Starlette): authentication, strict request checks, and the routes
of kiosk/till/openapi.py onto kiosk/till/service.py.

Every request but the OpenAPI document needs a till's bearer token; an unknown one is a 401
and the log says only that a token was refused (never the token). A request body is a JSON
object of at most 4 KiB with exactly the fields the document lists, each of its type and range:
anything else is a 400 naming the field, and nothing changes. Endpoints are plain functions,
which Starlette runs in its thread pool, so a long-poll never holds up the event loop."""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kiosk.ledger.strict_json import JsonError, loads
from kiosk.till import openapi
from kiosk.till.service import ChargeRequest, TillError, TillService
from kiosk.till.tokens import TillTokens

log = logging.getLogger("kiosk.till")
MAX_BODY = 4096
_ID = re.compile(openapi.ID_PATTERN.replace("$", r"\Z"))
_VOUCHER = re.compile(openapi.VOUCHER_PATTERN.replace("$", r"\Z"))


def build_app(service: TillService, tokens: TillTokens) -> Starlette:
    """The ASGI app: serve it with uvicorn (kiosk/till/server.py)."""

    def guarded(handler):
        async def endpoint(request: Request) -> JSONResponse:
            till = _till(request, tokens)
            if till is None:
                log.warning("till request refused: unknown or missing token (%s %s)", request.method, request.url.path)
                return _error(TillError(401, "unauthorized", "a till token is needed: Authorization: Bearer <token>"))
            body = await request.body() if request.method == "POST" else b""
            try:
                status, payload = await run_in_threadpool(handler, till, request, body)
            except TillError as exc:
                return _error(exc)
            return JSONResponse(payload, status_code=status)

        return endpoint

    def status(till: str, request: Request, body: bytes) -> tuple[int, dict]:
        _no_query(request)
        return 200, service.status(till)

    def create_charge(till: str, request: Request, body: bytes) -> tuple[int, dict]:
        _no_query(request)
        data = parse_body(body, openapi.CHARGE_REQUEST)
        req = ChargeRequest(
            order_id=data["order_id"],
            amount_fen=data["amount_fen"],
            apply_discount=data["apply_discount"],
            timeout_s=data.get("timeout_s", 120),
            locale=data.get("locale", "zh_CN"),
            voucher_id=data.get("voucher_id", ""),
        )
        return service.charge(till, req)

    def get_charge(till: str, request: Request, body: bytes) -> tuple[int, dict]:
        order_id = _path_id(request)
        query = request.query_params
        for name in query:
            if name not in ("wait_s", "since") or len(query.getlist(name)) > 1:
                raise TillError(400, "bad_request", f"unknown or repeated query parameter {name[:40]!r}", name[:40])
        wait_s = _query_int(query.get("wait_s"), "wait_s", 0, openapi.WAIT_MAX_S, 0)
        since = _query_int(query.get("since"), "since", -1, 1_000_000, -1)
        return 200, service.charge_status(till, order_id, wait_s, since)

    def cancel_charge(till: str, request: Request, body: bytes) -> tuple[int, dict]:
        _no_query(request)
        if body.strip() not in (b"", b"{}"):
            raise TillError(400, "bad_request", "cancel takes no body", "body")
        return 200, service.cancel(till, _path_id(request))

    def create_refund(till: str, request: Request, body: bytes) -> tuple[int, dict]:
        _no_query(request)
        data = parse_body(body, openapi.REFUND_REQUEST)
        return 200, service.refund(till, data["order_id"], data["refund_id"], data["amount_fen"],
                                   data.get("locale", "zh_CN"))

    def create_void(till: str, request: Request, body: bytes) -> tuple[int, dict]:
        _no_query(request)
        data = parse_body(body, openapi.VOID_REQUEST)
        return 200, service.void(till, data["order_id"], data.get("locale", "zh_CN"))

    document = openapi.document()

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(document)

    routes = [
        Route("/v1/openapi.json", openapi_json, methods=["GET"]),
        Route("/v1/status", guarded(status), methods=["GET"]),
        Route("/v1/charges", guarded(create_charge), methods=["POST"]),
        Route("/v1/charges/{order_id}", guarded(get_charge), methods=["GET"]),
        Route("/v1/charges/{order_id}/cancel", guarded(cancel_charge), methods=["POST"]),
        Route("/v1/refunds", guarded(create_refund), methods=["POST"]),
        Route("/v1/voids", guarded(create_void), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_exception_handler(404, _not_found)
    app.add_exception_handler(405, _not_allowed)
    return app


def _till(request: Request, tokens: TillTokens) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return tokens.till_for(token.strip())


def _error(exc: TillError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _error(TillError(404, "not_found", "no such endpoint (the API's paths start with /v1/)"))


async def _not_allowed(request: Request, exc: Exception) -> JSONResponse:
    response = _error(TillError(405, "method_not_allowed", f"{request.method[:20]} is not allowed here"))
    allow = (getattr(exc, "headers", None) or {}).get("Allow")
    if allow:
        response.headers["Allow"] = allow  # RFC 9110: a 405 lists the methods that are
    return response


def _no_query(request: Request) -> None:
    for name in request.query_params:
        raise TillError(400, "bad_request", f"unknown query parameter {name[:40]!r}", name[:40])


def _path_id(request: Request) -> str:
    order_id = request.path_params["order_id"]
    if not _ID.match(order_id):
        raise TillError(400, "bad_request", "order_id must be 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)",
                        "order_id")
    return order_id


def _query_int(value: str | None, name: str, lo: int, hi: int, default: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,7}", value) or not lo <= int(value) <= hi:
        raise TillError(400, "bad_request", f"{name} must be an integer {lo}..{hi}", name)
    return int(value)


def parse_body(body: bytes, schema: dict) -> dict[str, Any]:
    """The request body checked against its schema's fields (the subset of JSON Schema the
    document uses: type, required, enum, pattern, length and range); TillError names the field."""
    if len(body) > MAX_BODY:
        raise TillError(400, "bad_request", f"the body is over {MAX_BODY} bytes", "body")
    try:
        data = loads(body)
    except (JsonError, ValueError) as exc:
        raise TillError(400, "bad_request", f"the body is not valid JSON: {str(exc)[:120]}", "body") from None
    if not isinstance(data, dict):
        raise TillError(400, "bad_request", "the body must be a JSON object", "body")
    props = schema["properties"]
    for name in data:
        if name not in props:
            raise TillError(400, "bad_request", f"unknown field {name[:40]!r} (expected {sorted(props)})", name[:40])
    for name in schema["required"]:
        if name not in data:
            raise TillError(400, "bad_request", f"{name} is missing", name)
    for name, value in data.items():
        _check(name, value, props[name])
    return data


def _check(name: str, value: object, spec: dict) -> None:
    kind = spec["type"]
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or not spec["minimum"] <= value <= spec["maximum"]:
            raise TillError(400, "bad_request", f"{name} must be an integer {spec['minimum']}..{spec['maximum']}", name)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise TillError(400, "bad_request", f"{name} must be true or false", name)
    elif kind == "string":
        if not isinstance(value, str):
            raise TillError(400, "bad_request", f"{name} must be a string", name)
        if "enum" in spec and value not in spec["enum"]:
            raise TillError(400, "bad_request", f"{name} must be one of {spec['enum']}", name)
        if spec.get("pattern") == openapi.VOUCHER_PATTERN and not _VOUCHER.match(value):
            raise TillError(400, "bad_request", f"{name} must be 1-100 of A-Z a-z 0-9 _ . : - (starting with a letter or digit)",
                            name)
        if spec.get("pattern") == openapi.ID_PATTERN and not _ID.match(value):
            raise TillError(400, "bad_request", f"{name} must be 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)",
                            name)
