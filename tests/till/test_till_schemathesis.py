"""Fuzz the running till API from its own OpenAPI document with schemathesis: valid and
invalid requests of every operation over real HTTP, each answer checked against the document
(no server error, a documented status, a body of its schema, invalid input refused). A few
examples per operation by default; KIOSK_FULL=1 runs many more."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from kiosk.till.openapi import document
from tests.till.till_support import Till

EXAMPLES = 300 if os.environ.get("KIOSK_FULL") else 10
schema = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def till(tmp_path_factory):
    t = Till(tmp_path_factory.mktemp("till-fuzz"))
    t.kiosk.member(50_000)
    yield t
    t.close()


def valid_data_accepted(ctx, response, case):
    """schemathesis' own positive-data check, except for money sent as a JSON number with a
    decimal point: JSON Schema counts 128.0 as an integer, the API refuses it on purpose (fen
    are whole; a till sending yuan by mistake must not be charged in fen)."""
    body = case.body if isinstance(case.body, dict) else {}
    if any(isinstance(v, float) for v in body.values()):
        return None
    return checks.positive_data_acceptance(ctx, response, case)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_document(case, till):
    query = case.query or {}
    if str(query.get("wait_s", "")).isdigit():
        query["wait_s"] = 0  # a pending charge would hold each long-poll for up to a minute
    case.call_and_validate(
        base_url=till.server.url,
        headers={"Authorization": f"Bearer {till.token}"},
        timeout=70,
        excluded_checks=[checks.positive_data_acceptance],
        additional_checks=[valid_data_accepted],
    )
    assert till.kiosk.session.internal_errors == 0
