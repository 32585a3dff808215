"""Partner webhooks reach the public internet only (prod): a URL on loopback, the private
network or the metadata endpoint is refused when an admin sets it, and again at every send,
where the request goes to the very address that was checked (DNS rebinding cannot redirect it)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.config import Settings
from app.kit import public_address
from app.kit.crypto import FieldCipher
from app.models import Role, StoreIntegration
from app.outbox.types import ClaimedMessage, RetryableDeliveryError
from app.pharmacy.webhooks import PARTNER_WEBHOOK, partner_webhook_handler
from tests.fixtures import factories
from tests.fixtures.prod_settings import PROD_SETTINGS
from tests.fixtures.servers import serve_in_loop

SECRET = "partner-shared-secret-0123456789abcdef"


@pytest.fixture
def resolver(monkeypatch) -> Callable[[dict[str, list[str]]], list[str]]:
    """Answer DNS for made-up names: each lookup takes the next answer of the name's list (the
    last one repeats); an answer is one or more comma-separated addresses. Returns the log of
    names looked up."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def install(answers: dict[str, list[str]]) -> list[str]:
        def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if name not in answers:
                return real(host, port, *args, **kwargs)
            looked_up.append(name)
            queue = answers[name]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, int(port or 0)),
                )
                for address in answer.split(",")
            ]

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return looked_up

    return install


@pytest.fixture
def public_only(app, settings) -> Settings:
    """The app under the prod rule for webhook targets."""
    strict = settings.model_copy(update={"webhook_private_targets_allowed": False})
    app.state.settings = strict
    return strict


async def _put(client, db_session, settings, url: str):
    admin = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )
    store = await factories.store(db_session)
    response = await client.put(
        f"/api/v1/pharmacy/stores/{store.id}/integration",
        json={"webhook_url": url, "secret": SECRET},
        headers=admin,
    )
    stored = await db_session.scalar(
        select(StoreIntegration).where(StoreIntegration.store_id == store.id)
    )
    return response, stored


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "http://192.168.1.20/hook",
        "http://100.64.0.1/hook",
        "http://[::1]:8000/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://0.0.0.0:8000/hook",
        "http://localhost:8000/hook",
    ],
)
async def test_an_admin_cannot_point_a_webhook_at_a_non_public_address(
    client, db_session, settings, public_only, url
) -> None:
    response, stored = await _put(client, db_session, settings, url)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "webhook_target_not_public"
    assert stored is None


async def test_a_name_that_resolves_to_the_metadata_endpoint_is_refused(
    client, db_session, settings, public_only, resolver
) -> None:
    # One of its addresses is not public: refused, whichever a client would pick.
    resolver({"partner.example.cn": ["8.8.8.8,169.254.169.254"]})
    response, stored = await _put(client, db_session, settings, "https://partner.example.cn/h")
    assert response.status_code == 422 and stored is None


async def test_a_name_that_does_not_resolve_is_refused(
    client, db_session, settings, public_only
) -> None:
    response, _ = await _put(client, db_session, settings, "https://no-such-partner.invalid/h")
    assert response.status_code == 422
    assert response.json()["code"] == "webhook_target_unresolvable"


async def test_a_public_target_is_accepted(
    client, db_session, settings, public_only, resolver
) -> None:
    resolver({"partner.example.cn": ["1.1.1.1"]})
    response, stored = await _put(client, db_session, settings, "https://partner.example.cn/h")
    assert response.status_code == 200, response.text
    assert stored is not None and stored.webhook_url == "https://partner.example.cn/h"


async def test_development_partners_on_loopback_are_allowed_outside_prod(
    client, db_session, settings
) -> None:
    response, _ = await _put(client, db_session, settings, "http://127.0.0.1:8000/hook")
    assert response.status_code == 200


def test_prod_always_requires_public_webhook_targets() -> None:
    prod = Settings(**PROD_SETTINGS, webhook_private_targets_allowed=True)
    assert prod.webhook_targets_must_be_public is True


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2400:3200::1", True),
        ("169.254.169.254", False),
        ("127.0.0.53", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("100.100.100.200", False),  # Alibaba Cloud's metadata service (shared address space)
        ("224.0.0.251", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo around 127.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 around 127.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 around 8.8.8.8
        ("fd00::1", False),
    ],
)
def test_addresses_are_judged_by_the_ipv4_address_inside(address: str, public: bool) -> None:
    assert public_address.is_public(ipaddress.ip_address(address)) is public


class Recorder:
    """A partner endpoint on loopback that records what reaches it."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def app(self) -> Starlette:
        async def receive(request: Request) -> JSONResponse:
            self.hosts.append(request.headers["host"])
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", receive, methods=["POST"])])


@pytest.fixture
async def partner() -> AsyncIterator[tuple[Recorder, int]]:
    recorder = Recorder()
    async with serve_in_loop(recorder.app()) as url:
        yield recorder, int(url.rsplit(":", 1)[1])


def _message(url: str, settings: Settings) -> ClaimedMessage:
    payload = {
        "url": url,
        "json": {"event": "order.created"},
        "secret": FieldCipher.of_setting(settings.field_encryption_keys).encrypt(SECRET),
    }
    return ClaimedMessage(
        id=1, kind=PARTNER_WEBHOOK, payload=payload, idempotency_key="k-1", attempts=1
    )


async def test_a_name_rebound_to_loopback_after_configuration_is_not_sent_to(
    settings, partner, resolver
) -> None:
    recorder, port = partner
    # Public when the admin set it; loopback (where our partner stands in) at send time.
    looked_up = resolver({"partner.rebind.test": ["1.1.1.1", "127.0.0.1"]})
    strict = settings.model_copy(update={"webhook_private_targets_allowed": False})
    url = f"http://partner.rebind.test:{port}/hook"
    await public_address.check_url(url)
    async with httpx.AsyncClient(timeout=5) as http:
        deliver = partner_webhook_handler(strict, http)
        with pytest.raises(RetryableDeliveryError, match="not public"):
            await deliver(_message(url, strict))
    assert looked_up == ["partner.rebind.test", "partner.rebind.test"]
    assert recorder.hosts == []


async def test_the_webhook_goes_to_the_address_that_was_checked(
    settings, partner, resolver, monkeypatch
) -> None:
    recorder, port = partner
    # Loopback counts as public here so the checked address can be our local partner; any
    # later lookup would answer an address where nothing listens.
    monkeypatch.setattr(public_address, "is_public", lambda address: True)
    looked_up = resolver({"partner.pinned.test": ["127.0.0.1", "127.0.0.2", "127.0.0.2"]})
    strict = settings.model_copy(update={"webhook_private_targets_allowed": False})
    async with httpx.AsyncClient(timeout=5) as http:
        await partner_webhook_handler(strict, http)(
            _message(f"http://partner.pinned.test:{port}/hook", strict)
        )
    assert looked_up == ["partner.pinned.test"]  # resolved once, by the check
    assert recorder.hosts == [f"partner.pinned.test:{port}"]
