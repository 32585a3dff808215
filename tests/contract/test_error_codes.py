"""Every operation's business errors are in the committed OpenAPI document with their codes,
found in the code (app/openapi_raises.py); every code the service is seen to answer in a test
run is among those its operation declares (checked when the run ends:
tests/fixtures/error_recorder.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.i18n import MESSAGES
from tests.fixtures.error_recorder import undocumented

ROOT = Path(__file__).parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"

# (method, path, status, code) that the walk must find: one or two per domain.
KNOWN = [
    ("post", "/api/v1/orders", "409", "insured_identity_unverified"),
    ("post", "/api/v1/orders", "409", "out_of_stock"),
    # Raised by a dependency of the route (its required idempotency key).
    ("post", "/api/v1/orders", "422", "idempotency_key_reused"),
    # Both branches of `Conflict("entitlement_expired" if ... else "not_entitled")`.
    ("post", "/api/v1/prescriptions", "409", "entitlement_expired"),
    ("post", "/api/v1/prescriptions", "409", "not_entitled"),
    ("post", "/api/v1/chat/conversations/{conversation_id}/attachments", "413",
     "chat_attachment_too_large"),
    # Passed in by the caller of the function that raises it (a parameter bound to a literal).
    ("post", "/api/v1/chat/conversations/{conversation_id}/attachments", "413",
     "chat_voice_too_long"),
    ("post", "/api/v1/chat/conversations/{conversation_id}/attachments", "415",
     "chat_attachment_type_unsupported"),
    ("post", "/api/v1/enrollment/applications", "409", "disease_not_in_catalogue"),
    ("post", "/api/v1/auth/password-login", "429", "sign_in_throttled"),
    ("post", "/api/v1/patients/{patient_id}/readings/import", "413",
     "reading_import_too_many_rows"),
    ("post", "/api/v1/ecg-strips", "422", "ecg_duration_out_of_range"),
    ("post", "/api/v1/devices", "409", "device_already_bound"),
    ("post", "/api/v1/patients/{patient_id}/bp-sleep-periods", "409", "sleep_period_overlaps"),
    ("post", "/api/v1/prescriptions/{prescription_id}/sign", "409", "signing_key_revoked"),
    ("post", "/api/v1/entries", "401", "nightscout_unauthorized"),
    ("post", "/api/v1/identity/patients/{patient_id}/platform-verifications", "404",
     "insured_person_not_found"),
    # Staff refusals: each status by the error class it is built with (409, 404, else 422).
    ("post", "/api/v1/staff", "409", "staff_username_taken"),
    ("post", "/api/v1/staff", "404", "staff_institution_not_found"),
    ("post", "/api/v1/staff", "422", "staff_workplace_invalid"),
    ("post", "/api/v1/staff/{account_id}/suspend", "409", "staff_cannot_suspend_self"),
    ("post", "/api/v1/staff/{account_id}/move", "409", "staff_move_same_workplace"),
    ("post", "/api/v1/staff/{account_id}/move", "404", "staff_store_not_found"),
    # A method of an object kept in app.state, reached through its typed accessor
    # (`guard = sign_in_guard(state)`: a local typed by the function's return annotation).
    ("post", "/api/v1/auth/password-login", "503", "sign_in_busy"),
    # The platform's client, reached through the Protocols it and the person source implement.
    ("post", "/api/v1/identity/patients/{patient_id}/platform-verifications", "502",
     "insurance_platform_refused"),
    ("post", "/api/v1/identity/patients/{patient_id}/platform-verifications", "504",
     "insurance_platform_timeout"),
    # Raised by what the hand-over's domain event runs in its transaction (the settlement).
    ("post", "/api/v1/orders/{order_id}/handover", "409", "platform_identity_differs"),
    ("post", "/api/v1/orders/{order_id}/handover", "409", "insured_identity_unverified"),
    ("post", "/api/v1/orders/{order_id}/handover", "502", "insurance_platform_refused"),
    ("post", "/api/v1/orders/{order_id}/handover", "504", "insurance_platform_timeout"),
    # A completed quality return reverses the settlement: the platform's 2208 may refuse.
    ("post", "/api/v1/quality-returns/{return_id}/complete", "502",
     "insurance_platform_refused"),
]  # fmt: skip


@pytest.fixture(scope="module")
def paths() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]


@pytest.fixture(scope="module")
def examples() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))["components"]["examples"]


@pytest.mark.parametrize(("method", "path", "status", "code"), KNOWN)
def test_a_known_business_error_is_documented_with_its_code(
    paths, examples, method: str, path: str, status: str, code: str
) -> None:
    answer = paths[path][method]["responses"][status]
    assert code in answer["x-error-codes"]
    assert code in answer["description"]
    reference = answer["content"]["application/problem+json"]["examples"][code]["$ref"]
    example = examples[reference.rsplit("/", 1)[1]]["value"]
    assert (example["status"], example["code"]) == (int(status), code)


def test_every_listed_code_has_an_example_and_a_message(paths, examples) -> None:
    listed = 0
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                codes = answer.get("x-error-codes", [])
                content = answer["content"]["application/problem+json"] if codes else {}
                assert sorted(content.get("examples", {})) == codes, (method, path, status)
                for code in codes:
                    name = content["examples"][code]["$ref"].rsplit("/", 1)[1]
                    value = examples[name]["value"]
                    assert (value["status"], value["code"]) == (int(status), code)
                    assert code in MESSAGES, code  # so clients can show its detail
                listed += len(codes)
    assert listed > 1000


def test_every_malformed_request_answer_lists_validation_failed(paths) -> None:
    # Also where the walk finds no business 422: the body or query may still be malformed.
    answers = [
        (method, path, operation["responses"]["422"])
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "422" in operation["responses"]
    ]
    assert len(answers) > 200
    missing = [(m, p) for m, p, a in answers if "validation_failed" not in a["x-error-codes"]]
    assert missing == []


def test_a_code_chosen_at_run_time_is_listed_from_what_its_class_declares(paths) -> None:
    # `InvalidDesignatedCode(problem)`: the problem is found in the code's form at run time,
    # among the codes the class declares (`codes`); the readiness 503 names the part down.
    answer = paths["/api/v1/institutions"]["post"]["responses"]["422"]
    assert {"designated_code_format", "designated_code_area_mismatch"} <= set(
        answer["x-error-codes"]
    )
    ready = paths["/readyz"]["get"]["responses"]["503"]["x-error-codes"]
    assert {"schema_not_at_head", "redis_unreachable", "outbox_relay_stopped"} <= set(ready)


def test_a_status_whose_codes_are_computed_says_so(paths) -> None:
    # The partner's callback answers a code it computes from the callback's kind.
    answer = paths["/api/v1/partner/stores/{store_id}/callbacks"]["post"]["responses"]["409"]
    assert "chosen at run time" in answer["description"]


def test_every_list_taking_a_cursor_lists_invalid_cursor(paths) -> None:
    lists = [
        (method, path, operation)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if any(p["name"] == "cursor" for p in operation.get("parameters", []))
    ]
    assert len(lists) > 40
    missing = [
        (m, p)
        for m, p, o in lists
        if "invalid_cursor" not in o["responses"]["422"]["x-error-codes"]
    ]
    assert missing == []


def test_the_run_wide_check_reports_a_code_an_operation_does_not_list(paths) -> None:
    # tests/fixtures/error_recorder.py checks every answer the suite sees when the run ends.
    documented = ("POST", "/api/v1/orders", 409, "out_of_stock")
    unlisted = ("POST", "/api/v1/orders", 409, "chat_conversation_closed")
    other_status = ("POST", "/api/v1/orders", 404, "out_of_stock")
    left_out = ("GET", "/api/v1/entries.json", 401, "anything")  # not in the document
    observed = [documented, unlisted, other_status, left_out]
    assert undocumented(observed, paths) == [other_status, unlisted]


def test_an_order_step_other_than_the_hand_over_lists_no_settlement_error(paths) -> None:
    """Only the hand-over records the event whose subscriber settles: accepting or dispatching
    an order answers none of the settlement's errors."""
    for step in ("accept", "dispatch"):
        responses = paths[f"/api/v1/orders/{{order_id}}/{step}"]["post"]["responses"]
        listed = {code for answer in responses.values() for code in answer.get("x-error-codes", [])}
        assert not listed & {"insured_identity_unverified", "insurance_platform_refused"}, step
        assert "502" not in responses, step
