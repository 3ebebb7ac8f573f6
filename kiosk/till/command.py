"""`kiosk till`: the reference till client, small on purpose so a store's integrator can read
it as the example. Only the standard library: POST the charge, then long-poll its status until
the member has paid (or not), and print the answer and the receipt lines."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

DESCRIPTION = """\
Drive this kiosk's till API like a till does: ask the member to pay an order with their card,
refund or void it, follow or cancel a charge, or print the API's OpenAPI document. The token
comes from --token or KIOSK_TILL_TOKEN (`kiosk tills add NAME` makes one)."""

EPILOG = """\
examples:
  kiosk till charge 12800 --order A1 --discount   (¥128.00 before the member's discount)
  kiosk till status --order A1
  kiosk till refund 5000 --order A1 --refund R1
  kiosk till void --order A1
  kiosk till openapi > docs/pos-api.openapi.json

exit status:
  0 approved (or the status was printed); 1 declined, cancelled, timed out or refused; 2 bad usage"""

FINAL = {"approved", "declined", "cancelled", "timed_out"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("KIOSK_TILL_URL", "http://127.0.0.1:8765"),
                   help="the kiosk's till API (default http://127.0.0.1:8765 or KIOSK_TILL_URL)")
    p.add_argument("--token", default=os.environ.get("KIOSK_TILL_TOKEN", ""),
                   help="this till's token (default KIOSK_TILL_TOKEN)")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    charge = sub.add_parser("charge", help="ask the member to pay an order with their card",
                            description="Start a charge and wait for the member's card and PIN.")
    charge.add_argument("amount_fen", type=int, help="the order total in fen (12800 = ¥128.00)")
    charge.add_argument("--order", required=True, help="the till's order id (the idempotency key)")
    charge.add_argument("--discount", action="store_true", help="let the kiosk take the member's tier discount off")
    charge.add_argument("--timeout", type=int, default=120, help="seconds the kiosk waits for the card (10-600)")
    refund = sub.add_parser("refund", help="return stored value paid for an order",
                            description="Refund part or all of a charged order.")
    refund.add_argument("amount_fen", type=int, help="the amount to return, in fen")
    refund.add_argument("--order", required=True, help="the order id of the charge")
    refund.add_argument("--refund", required=True, help="the till's refund id (the idempotency key)")
    void = sub.add_parser("void", help="undo a charge made today", description="Void a charge made today.")
    void.add_argument("--order", required=True, help="the order id of the charge")
    status = sub.add_parser("status", help="the kiosk, or one charge", description="Show the kiosk or a charge.")
    status.add_argument("--order", help="the order id of a charge")
    cancel = sub.add_parser("cancel", help="cancel a charge not yet paid", description="Cancel a charge.")
    cancel.add_argument("--order", required=True, help="the order id of the charge")
    sub.add_parser("openapi", help="print the API's OpenAPI document", description="Print the OpenAPI document.")


def call(url: str, token: str, method: str, path: str, body: dict | None = None, timeout: float = 90) -> tuple[int, Any]:
    """One request: (HTTP status, decoded JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def follow(url: str, token: str, order: str, first: dict) -> dict:
    """Long-poll the charge until it is answered (each poll waits up to 30 s for a change)."""
    body = first
    while body.get("status") not in FINAL:
        status, body = call(url, token, "GET", f"/v1/charges/{order}?wait_s=30&since={body.get('version', -1)}")
        if status != 200:
            return body
    return body


def show(body: dict) -> None:
    lines = body.pop("receipt_lines", None)
    print(json.dumps(body, indent=2, ensure_ascii=False))
    if lines:
        print("\n".join(["", "-- receipt --", *lines]))


def run(args: argparse.Namespace) -> int:
    if args.action == "openapi":
        from kiosk.till.openapi import document

        print(json.dumps(document(), indent=2, ensure_ascii=False))
        return 0
    if not args.token:
        print("kiosk till: no token: pass --token or set KIOSK_TILL_TOKEN (`kiosk tills add NAME`)", file=sys.stderr)
        return 2
    url, token = args.url, args.token
    try:
        if args.action == "charge":
            status, body = call(url, token, "POST", "/v1/charges", {
                "order_id": args.order, "amount_fen": args.amount_fen, "apply_discount": args.discount,
                "timeout_s": args.timeout,
            })
            if status in (200, 202):
                body = follow(url, token, args.order, body)
        elif args.action == "refund":
            status, body = call(url, token, "POST", "/v1/refunds",
                                {"order_id": args.order, "refund_id": args.refund, "amount_fen": args.amount_fen})
        elif args.action == "void":
            status, body = call(url, token, "POST", "/v1/voids", {"order_id": args.order})
        elif args.action == "cancel":
            status, body = call(url, token, "POST", f"/v1/charges/{args.order}/cancel")
        else:
            status, body = call(url, token, "GET", f"/v1/charges/{args.order}" if args.order else "/v1/status")
    except (OSError, ValueError) as exc:
        print(f"kiosk till: {url}: {exc}", file=sys.stderr)
        return 1
    show(body)
    if status >= 400:
        return 1
    return 0 if body.get("status", "approved") == "approved" or args.action == "status" else 1
