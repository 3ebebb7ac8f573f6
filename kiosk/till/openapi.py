"""The till API's OpenAPI 3.1 document: the contract a store integrator reads, served at
/v1/openapi.json and committed as docs/pos-api.openapi.json (a test keeps the two equal).
The request schemas are the ones the API enforces (kiosk/till/api.py checks each field the
same way), so a fuzzer driven by this document finds any gap between the two."""

from __future__ import annotations

from kiosk.ledger.rules import MAX_FEN

ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
LOCALES = ["zh_CN", "en"]
TIMEOUT_RANGE = (10, 600)
WAIT_MAX_S = 60

_ID = {"type": "string", "pattern": ID_PATTERN, "minLength": 1, "maxLength": 64}
VOUCHER_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"  # a voucher's id: the txn id that issued it
_VOUCHER = {"type": "string", "pattern": VOUCHER_PATTERN, "minLength": 1, "maxLength": 100}
_FEN = {"type": "integer", "minimum": 1, "maximum": MAX_FEN}
_LOCALE = {"type": "string", "enum": LOCALES, "default": "zh_CN", "description": "language of the receipt lines"}

CHARGE_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["order_id", "amount_fen", "apply_discount"],
    "properties": {
        "order_id": {**_ID, "description": "the till's order id: the idempotency key of the charge"},
        "amount_fen": {**_FEN, "description": "the order total in fen (1 yuan = 100 fen)"},
        "currency": {"type": "string", "enum": ["CNY"], "default": "CNY"},
        "apply_discount": {
            "type": "boolean",
            "description": "true: the kiosk takes the member's tier discount off amount_fen; "
            "false: amount_fen is already what the member pays",
        },
        "timeout_s": {"type": "integer", "minimum": TIMEOUT_RANGE[0], "maximum": TIMEOUT_RANGE[1], "default": 120,
                      "description": "how long the kiosk waits for the card"},
        "voucher_id": {**_VOUCHER, "description": "a voucher of the member's to use (the till scanned it); "
                       "left out: the member may pick one, and points as cash, on the kiosk's screen"},
        "locale": _LOCALE,
    },
}
REFUND_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["order_id", "refund_id", "amount_fen"],
    "properties": {
        "order_id": _ID,
        "refund_id": {**_ID, "description": "the till's refund id: the idempotency key of the refund"},
        "amount_fen": {**_FEN, "description": "stored value to return; at most what is left of the charge"},
        "currency": {"type": "string", "enum": ["CNY"], "default": "CNY"},
        "locale": _LOCALE,
    },
}
VOID_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["order_id"],
    "properties": {"order_id": _ID, "locale": _LOCALE},
}
_LINES = {"type": "array", "items": {"type": "string"}}
_CARD = {"type": "string", "description": "the card that paid (a refund: the card credited), masked: ****B2C3"}
CHARGE = {
    "type": "object",
    "required": ["order_id", "status", "stage", "version", "total_fen"],
    "properties": {
        "order_id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "approved", "declined", "cancelled", "timed_out"]},
        "stage": {"type": "string", "enum": ["queued", "waiting_for_card", "confirming", "pin", "done"]},
        "version": {"type": "integer", "description": "rises at every change; pass it as `since` to long-poll"},
        "reason": {"type": "string", "description": "declined / cancelled / timed out: why (docs/pos-api.md)"},
        "total_fen": {"type": "integer"},
        "apply_discount": {"type": "boolean"},
        "discount_fen": {"type": "integer"},
        "amount_fen": {"type": "integer", "description": "taken from the member's stored value"},
        "voucher_id": {"type": "string", "description": "the voucher used (approved); total = discount + voucher + "
                       "points as cash + amount"},
        "voucher_fen": {"type": "integer", "description": "what the voucher took off"},
        "points_used": {"type": "integer", "description": "points paid as cash"},
        "points_cash_fen": {"type": "integer", "description": "what those points paid"},
        "balance_fen": {"type": "integer", "description": "after the charge (declined for the balance: the balance)"},
        "points_earned": {"type": "integer"},
        "points": {"type": "integer"},
        "txn_id": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "refunded_fen": {"type": "integer"},
        "voided": {"type": "boolean"},
        "card": _CARD,
        "receipt_lines": _LINES,
    },
}
REFUND = {
    "type": "object",
    "required": ["order_id", "status"],
    "properties": {
        "order_id": {"type": "string"},
        "refund_id": {"type": "string"},
        "status": {"type": "string", "enum": ["approved", "declined"]},
        "reason": {"type": "string"},
        "refundable_fen": {"type": "integer"},
        "amount_fen": {"type": "integer"},
        "points_back": {"type": "integer", "description": "points earned by the charge taken back"},
        "points_cash_back": {"type": "integer", "description": "points paid as cash given back"},
        "voucher_back": {"type": "string", "description": "the voucher given back (a whole refund or a void, "
                         "while the voucher is still valid)"},
        "voucher_withdrawn": {"type": "string", "description": "the voucher this order earned (spend X, get a voucher), "
                              "taken back: what is left of the order no longer reaches the threshold"},
        "voucher_kept_fen": {"type": "integer", "description": "of amount_fen, kept because the withdrawn voucher was "
                             "used already: the card gets amount_fen - voucher_kept_fen + voucher_repaid_fen"},
        "voucher_repaid_fen": {"type": "integer", "description": "beyond amount_fen: what the refunds of the order that "
                               "earned this order's voucher kept for it, paid back with the refund (or void) that "
                               "completes this order, once"},
        "balance_fen": {"type": "integer"},
        "points": {"type": "integer"},
        "txn_id": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "card": _CARD,
        "receipt_lines": _LINES,
    },
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        }
    },
}
STATUS = {
    "type": "object",
    "required": ["api_version", "till", "device_id", "kiosk_state"],
    "properties": {
        "api_version": {"type": "integer"},
        "till": {"type": "string"},
        "device_id": {"type": "string"},
        "kiosk_state": {"type": "string"},
        "charge_in_progress": {"type": ["string", "null"]},
    },
}


def _json(schema_ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


def _errors(*statuses: int) -> dict:
    text = {
        400: "a field is wrong: error.field names it; nothing changed",
        401: "no or unknown till token",
        404: "no such order from this till",
        409: "a conflict: another charge in progress, the kiosk in use, an id reused, already approved",
        503: "the kiosk's session did not answer in time",
    }
    return {str(s): _json("#/components/schemas/Error", text[s]) for s in statuses}


_ORDER_PARAM = {"name": "order_id", "in": "path", "required": True, "schema": _ID}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Membership kiosk till API",
            "version": "1",
            "description": "Charges, refunds and voids paid with the member card, driven by the store's till. "
            "Money is integer fen. Every request but this document needs `Authorization: Bearer <till token>` "
            "(`kiosk tills add NAME`). See docs/pos-api.md.",
        },
        "components": {
            "securitySchemes": {"till": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ChargeRequest": CHARGE_REQUEST, "RefundRequest": REFUND_REQUEST, "VoidRequest": VOID_REQUEST,
                "Charge": CHARGE, "Refund": REFUND, "Error": ERROR, "Status": STATUS,
            },
        },
        "security": [{"till": []}],
        "paths": {
            "/v1/status": {
                "get": {
                    "operationId": "status",
                    "summary": "the kiosk: its device id, its state, the charge in progress",
                    "responses": {"200": _json("#/components/schemas/Status", "the kiosk"), **_errors(401)},
                }
            },
            "/v1/charges": {
                "post": {
                    "operationId": "createCharge",
                    "summary": "ask the member to pay an order with their card",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ChargeRequest"}}}},
                    "responses": {
                        "200": _json("#/components/schemas/Charge", "this order was answered already: the first answer"),
                        "202": _json("#/components/schemas/Charge", "started: the kiosk shows the amount and waits for the card"),
                        **_errors(400, 401, 409, 503),
                    },
                }
            },
            "/v1/charges/{order_id}": {
                "get": {
                    "operationId": "getCharge",
                    "summary": "the charge as it stands; long-poll with wait_s and since",
                    "parameters": [
                        _ORDER_PARAM,
                        {"name": "wait_s", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 0, "maximum": WAIT_MAX_S, "default": 0}},
                        {"name": "since", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": -1, "maximum": 1_000_000, "default": -1}},
                    ],
                    "responses": {"200": _json("#/components/schemas/Charge", "the charge"), **_errors(400, 401, 404, 503)},
                }
            },
            "/v1/charges/{order_id}/cancel": {
                "post": {
                    "operationId": "cancelCharge",
                    "summary": "cancel a charge the member has not paid yet",
                    "parameters": [_ORDER_PARAM],
                    "responses": {"200": _json("#/components/schemas/Charge", "the charge after the cancel"),
                                  **_errors(400, 401, 404, 409, 503)},
                }
            },
            "/v1/refunds": {
                "post": {
                    "operationId": "createRefund",
                    "summary": "return stored value paid for an order (whole or part), with points in proportion",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/RefundRequest"}}}},
                    "responses": {"200": _json("#/components/schemas/Refund", "approved or declined"),
                                  **_errors(400, 401, 404, 409, 503)},
                }
            },
            "/v1/voids": {
                "post": {
                    "operationId": "createVoid",
                    "summary": "undo a charge made today entirely",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/VoidRequest"}}}},
                    "responses": {"200": _json("#/components/schemas/Refund", "approved or declined"),
                                  **_errors(400, 401, 404, 503)},
                }
            },
        },
    }
