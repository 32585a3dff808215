"""The OpenAPI description as the contract of the teams that build on it.

Three client teams (the patient mini-program, the doctor app, the pharmacy dashboard), the bureau
and platform admins, and three kinds of machines (payment providers, the pharmacy chain's
system, Nightscout uploaders) generate code from `openapi/openapi.json`. What they need from it,
added here to FastAPI's document:

- short operationIds: the endpoint function's name (a PUT twin of a PATCH route names its own);
- the clients that call each operation, as tags (`client:<name>`) after the domain tag and as
  `x-clients`: from the roles the route admits (its `require_roles` guard), or, for routes
  without a bearer token, from who signs their requests;
- binary answers (charts, attachments, records) declared as binary strings, so generators
  return bytes instead of dropping the response;
- the schemas of JSON bodies that an endpoint reads and checks itself (a signature over the raw
  bytes comes before parsing), declared with `raw_json_body`;
- the errors each operation can answer by status (401 without a valid token, 403 for a role
  that may not call it, 404 for an object that does not exist or is not the caller's) next to
  the 422 and default problem answers of app/openapi_errors.py;
- the business errors each operation can answer (409 `insured_identity_unverified`, 413
  `chat_attachment_too_large`, ...), found in its code by app/openapi_raises.py: per status,
  the codes as `x-error-codes` and one Problem example per code (generators keep the one
  `Problem` type; the codes are data, so both generators still generate every operation).

CI generates a Python client (openapi-python-client) and TypeScript types (openapi-typescript)
from the committed document and fails when either skips an operation (tests/contract).
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.authz.principal import current_principal, roles_admitted_by
from app.errors import PROBLEM_JSON
from app.i18n import MESSAGES
from app.kit.pagination import InvalidCursor
from app.models import Role
from app.openapi_raises import ErrorWalk

PATIENT_APP = "patient-miniprogram"
DOCTOR_APP = "doctor-app"
PHARMACY_DASHBOARD = "pharmacy-dashboard"
BUREAU = "insurance-bureau"
ADMIN = "platform-admin"
PAYMENT_PROVIDERS = "payment-providers"
PHARMACY_PARTNER = "pharmacy-partner-system"
NIGHTSCOUT = "nightscout-clients"
OPERATIONS = "operations"

CLIENTS: dict[str, str] = {
    PATIENT_APP: "The patient WeChat mini-program (患者微信小程序)",
    DOCTOR_APP: "The doctor mobile app (医生端)",
    PHARMACY_DASHBOARD: "The pharmacy dashboard: store pharmacists and couriers (药店配送看板)",
    BUREAU: "Insurance-bureau staff (医保局)",
    ADMIN: "Platform administrators (平台管理员)",
    PAYMENT_PROVIDERS: "WeChat Pay and Alipay notifications (signed by the provider)",
    PHARMACY_PARTNER: "The partner pharmacy chain's own system (HMAC-signed callbacks)",
    NIGHTSCOUT: "Nightscout uploaders and readers (API secret or token)",
    OPERATIONS: "Load balancers and monitoring (health and readiness)",
}

_BY_ROLE = {
    Role.patient: PATIENT_APP,
    Role.doctor: DOCTOR_APP,
    Role.pharmacist: PHARMACY_DASHBOARD,
    Role.courier: PHARMACY_DASHBOARD,
    Role.bureau: BUREAU,
    Role.admin: ADMIN,
}
# Routes without a bearer token, by who calls them.
_UNSIGNED = (
    ("/api/v1/auth/", tuple(CLIENTS)[:5]),
    ("/api/v1/payments/notify/", (PAYMENT_PROVIDERS,)),
    ("/api/v1/partner/", (PHARMACY_PARTNER,)),
    ("/healthz", (OPERATIONS,)),
    ("/readyz", (OPERATIONS,)),
    *(
        (f"/api/v1/{resource}", (NIGHTSCOUT,))
        for resource in ("entries", "treatments", "devicestatus", "profile", "status", "verifyauth")
    ),
)
_BINARY = {"type": "string", "format": "binary"}
_COMPONENT_REF = "#/components/schemas/{model}"
# Models of JSON bodies read by their endpoints from the raw bytes (see `raw_json_body`).
_RAW_BODY_MODELS: dict[str, type[BaseModel]] = {}


def raw_json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """`openapi_extra` declaring the JSON request body of an endpoint that reads and validates
    it itself as `model`; the document then lists `model`'s schema among its components."""
    _RAW_BODY_MODELS[model.__name__] = model
    schema = {"$ref": _COMPONENT_REF.format(model=model.__name__)}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _add_raw_body_schemas(document: dict[str, Any]) -> None:
    if not _RAW_BODY_MODELS:
        return
    _, top = models_json_schema(
        [(model, "validation") for model in _RAW_BODY_MODELS.values()],
        ref_template=_COMPONENT_REF,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        schemas.setdefault(name, schema)


def operation_id(route: APIRoute) -> str:
    """The operationId of a route: its endpoint function's name."""
    return route.name


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for child in dependant.dependencies:
        yield child
        yield from _dependants(child)


def _roles(route: RouteContext) -> frozenset[Role] | None:
    """The roles a route admits; None when it takes no bearer token."""
    signed_in = False
    admitted: frozenset[Role] | None = None
    for child in _dependants(route.dependant):
        roles = roles_admitted_by(child.call)
        if roles is not None:
            admitted = roles if admitted is None else admitted & roles
        signed_in = signed_in or child.call is current_principal
    if admitted is not None:
        return admitted
    return frozenset(Role) if signed_in else None


def clients_of(route: RouteContext) -> list[str]:
    """The clients that call a route, in the order of `CLIENTS`."""
    roles = _roles(route)
    if roles is not None:
        wanted = {_BY_ROLE[role] for role in roles}
    else:
        path = route.path_format or ""
        matches = [clients for prefix, clients in _UNSIGNED if path.startswith(prefix)]
        if not matches:
            raise LookupError(f"{path} takes no bearer token: name its callers in _UNSIGNED")
        wanted = set(matches[0])
    return [client for client in CLIENTS if client in wanted]


def _errors(route: RouteContext) -> dict[str, dict[str, Any]]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    roles = _roles(route)
    answers: dict[str, dict[str, Any]] = {}
    if roles is not None:
        answers["401"] = {
            "description": "No valid access token (code not_authenticated, token_invalid or "
            "session_revoked)",
            "content": problem,
        }
        if roles != frozenset(Role):
            names = ", ".join(sorted(role.value for role in roles))
            answers["403"] = {
                "description": f"The caller's role may not call this (code forbidden_role; "
                f"admitted: {names})",
                "content": problem,
            }
    if "{" in (route.path_format or ""):
        answers["404"] = {
            "description": "The object does not exist, or is not the caller's to see "
            "(code not_found or a more specific *_not_found; the same answer either way, so "
            "ids cannot be probed)",
            "content": problem,
        }
    return answers


# Codes every answer of these statuses can carry, whatever the walk finds.
_FIXED_CODES = {
    "401": ("not_authenticated", "token_invalid", "session_revoked"),
    "403": ("forbidden_role",),
    "422": ("validation_failed",),
}


def _example(status: int, code: str) -> dict[str, Any]:
    """A Problem as the handlers answer `code` (its message with its placeholders); kept once
    in the document's `components/examples` and referred to by every answer with the code."""
    message = MESSAGES.get(code, {"zh": code, "en": code})
    return {
        "summary": message["en"],
        "value": {
            "type": f"https://errors.chronic-care.cn/{code}",
            "title": code,
            "status": status,
            "code": code,
            "detail": message["zh"],
            "request_id": "4f6c1d3e9a2b4c7d8e0f1a2b3c4d5e6f",
        },
    }


def _example_ref(examples: dict[str, Any], status: int, code: str) -> dict[str, str]:
    name = f"{status}_{code}"
    examples.setdefault(name, _example(status, code))
    return {"$ref": f"#/components/examples/{name}"}


def _document_codes(
    responses: dict[str, Any], route: RouteContext, walk: ErrorWalk, examples: dict[str, Any]
) -> dict[str, Any]:
    """`responses` with the errors found in the route's code: per status its codes
    (`x-error-codes`) and an example of each; a status not yet declared gets its answer."""
    endpoint = route.original_route
    assert isinstance(endpoint, APIRoute)
    dependants = [route.dependant, *_dependants(route.dependant)]
    raised = walk.of_route([endpoint.endpoint, *(d.call for d in dependants[1:])])
    # A list's `cursor` is decoded where the list is read (`PageParams.after` and the like, on
    # values the walk cannot follow): every operation that takes one can answer it.
    if any(param.name == "cursor" for d in dependants for param in d.query_params):
        raised.add(InvalidCursor.status, InvalidCursor.code)
    # Also the statuses already declared whose answers carry fixed codes (e.g. 422
    # `validation_failed` of a body the walk finds no business 422 for).
    fixed = {int(key) for key in _FIXED_CODES if key in responses}
    for status in sorted(set(raised.codes) | fixed):
        key = str(status)
        codes = set(raised.codes.get(status, ()))
        if key in responses:
            codes |= set(_FIXED_CODES.get(key, ()))
        listed = sorted(codes)
        answer = responses.get(key)
        if answer is None:
            named = f"code {', '.join(listed)}" if listed else "codes chosen at run time"
            if listed and status in raised.dynamic:
                named += ", or others chosen at run time"
            answer = {"description": f"{HTTPStatus(status).phrase} ({named})"}
        else:
            unnamed = [code for code in listed if code not in answer["description"]]
            if unnamed:
                answer["description"] += f" (code {', '.join(unnamed)})"
            if status in raised.dynamic:
                answer["description"] += "; other codes are chosen at run time"
        answer["x-error-codes"] = listed
        answer["content"] = {
            PROBLEM_JSON: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "examples": {code: _example_ref(examples, status, code) for code in listed},
            }
        }
        responses[key] = answer
    errors = sorted(key for key in responses if key[0] in "45")
    others = [key for key in responses if key not in errors and key != "default"]
    return {key: responses[key] for key in [*others, *errors, "default"] if key in responses}


def _declare_binary(operation: dict[str, Any]) -> None:
    for response in operation.get("responses", {}).values():
        for media_type, body in response.get("content", {}).items():
            readable = media_type.endswith("json") or media_type.startswith("text/")
            if not readable and not body.get("schema"):
                body["schema"] = dict(_BINARY)


def document_contract(app: FastAPI) -> None:
    """Add the clients, binary answers and per-status errors to the app's OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        walk = ErrorWalk()
        examples: dict[str, Any] = {}
        _add_raw_body_schemas(document)
        paths = document.get("paths", {})
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            clients = clients_of(route)
            for method in route.methods or ():
                operation = paths.get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                operation["x-clients"] = clients
                operation["tags"] = [*operation.get("tags", []), *(f"client:{c}" for c in clients)]
                responses = {**_errors(route), **operation["responses"]}
                operation["responses"] = _document_codes(responses, route, walk, examples)
                _declare_binary(operation)
        document["components"]["examples"] = dict(sorted(examples.items()))
        domains = sorted({t for ops in paths.values() for o in ops.values() for t in o["tags"]})
        document["tags"] = [
            {"name": f"client:{name}", "description": text} for name, text in CLIENTS.items()
        ] + [{"name": tag} for tag in domains if not tag.startswith("client:")]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
