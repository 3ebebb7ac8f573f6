"""`kiosk till`: the reference till client, small on purpose so a store's integrator can read
it as the example. Only the standard library: POST the charge, then long-poll its status until
the member has paid (or not), and print the answer and the receipt lines. Over HTTPS it checks
the kiosk's certificate against the chain's CA (HQ's, which signed it) and that it names the
kiosk (its device id): a till never sends its token to a stranger."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import sys
import urllib.parse
from dataclasses import dataclass
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
  kiosk till --url https://192.168.1.23:8765 --ca ca.pem --device store01-k1 status   (HTTPS)

exit status:
  0 approved (or the status was printed); 1 declined, cancelled, timed out or refused; 2 bad usage"""

FINAL = {"approved", "declined", "cancelled", "timed_out"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("KIOSK_TILL_URL", "http://127.0.0.1:8765"),
                   help="the kiosk's till API (default http://127.0.0.1:8765 or KIOSK_TILL_URL)")
    p.add_argument("--token", default=os.environ.get("KIOSK_TILL_TOKEN", ""),
                   help="this till's token (default KIOSK_TILL_TOKEN)")
    p.add_argument("--ca", default=os.environ.get("KIOSK_TILL_CA", ""),
                   help="https: the chain's CA certificate (HQ's ca.pem) the kiosk's certificate must chain to "
                        "(default KIOSK_TILL_CA; without it the system's CAs)")
    p.add_argument("--device", default=os.environ.get("KIOSK_TILL_DEVICE", ""),
                   help="https: the kiosk's device id its certificate must name (default KIOSK_TILL_DEVICE; "
                        "without it the URL's host name must be in the certificate)")
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


@dataclass(frozen=True)
class Link:
    """Where the kiosk is and how this till proves itself and checks the kiosk."""

    url: str
    token: str
    ca: str = ""  # https: the CA file the kiosk's certificate must chain to
    device: str = ""  # https: the device id the kiosk's certificate must name

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 90) -> tuple[int, Any]:
        """One request: (HTTP status, decoded JSON)."""
        parts = urllib.parse.urlsplit(self.url.rstrip("/") + path)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=timeout, context=self._tls())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.connect()
            if parts.scheme == "https" and self.device:  # before the token leaves this till
                _check_names(conn.sock.getpeercert(), self.device)
            conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), data, headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca or None)  # verifies the chain, always
        if self.device:
            context.check_hostname = False  # the kiosk is named by its device id (checked after the handshake)
        return context


def _check_names(cert: dict, device: str) -> None:
    names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    names += [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    if device not in names:
        raise ssl.SSLCertVerificationError(f"the kiosk's certificate names {names}, not the device {device!r}")


def follow(link: Link, order: str, first: dict) -> dict:
    """Long-poll the charge until it is answered (each poll waits up to 30 s for a change)."""
    body = first
    while body.get("status") not in FINAL:
        status, body = link.call("GET", f"/v1/charges/{order}?wait_s=30&since={body.get('version', -1)}")
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
    link = Link(args.url, args.token, args.ca, args.device)
    try:
        if args.action == "charge":
            status, body = link.call("POST", "/v1/charges", {
                "order_id": args.order, "amount_fen": args.amount_fen, "apply_discount": args.discount,
                "timeout_s": args.timeout,
            })
            if status in (200, 202):
                body = follow(link, args.order, body)
        elif args.action == "refund":
            status, body = link.call("POST", "/v1/refunds",
                                     {"order_id": args.order, "refund_id": args.refund, "amount_fen": args.amount_fen})
        elif args.action == "void":
            status, body = link.call("POST", "/v1/voids", {"order_id": args.order})
        elif args.action == "cancel":
            status, body = link.call("POST", f"/v1/charges/{args.order}/cancel")
        else:
            status, body = link.call("GET", f"/v1/charges/{args.order}" if args.order else "/v1/status")
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"kiosk till: {args.url}: {exc}", file=sys.stderr)
        return 1
    show(body)
    if status >= 400:
        return 1
    return 0 if body.get("status", "approved") == "approved" or args.action == "status" else 1
