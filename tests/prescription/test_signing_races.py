"""Signing-key races settled by the database (PostgreSQL, real concurrent requests to a served
app): one activation wins, one registration of a key wins, one key stays active, and a
signature racing a revocation is either refused or made while the key was still active."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Role
from tests.fixtures import factories
from tests.pharmacy.live import Live, live_service
from tests.prescription import phone as doctor_phone
from tests.prescription.phone import DoctorPhone
from tests.prescription.world import World, item, ok, rx_body

pytestmark = pytest.mark.postgres

MINE = "/api/v1/doctors/me/signing-keys"
N = 6


async def _with_admin(session: AsyncSession, world: World) -> None:
    account = await factories.account(session, Role.admin)
    world.headers["admin"] = await factories.bearer(session, world.settings, account)


async def _register(live: Live, phone: DoctorPhone) -> dict[str, Any]:
    world = live.world
    return await doctor_phone.register(live.http, phone, world.doctor.id, world.as_("doctor"))


async def _statuses(live: Live) -> list[str]:
    keys = await ok(await live.http.get(MINE, headers=live.world.as_("doctor")))
    return sorted(k["status"] for k in keys["items"])


def _codes(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


async def test_identical_activations_at_once_activate_the_key_once() -> None:
    async with live_service(_with_admin, outbox_relay_enabled=False) as live:
        phone = DoctorPhone()
        key = await _register(live, phone)
        responses = await asyncio.gather(
            *(
                live.http.post(
                    f"/api/v1/signing-keys/{key['id']}/activate",
                    json={"fingerprint": phone.fingerprint},
                    headers=live.world.as_("admin"),
                )
                for _ in range(N)
            )
        )
        assert _codes(responses) == [200] + [409] * (N - 1), [r.text for r in responses]
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {
            "illegal_transition"
        }
        assert await _statuses(live) == ["active", "retired"]


async def test_two_new_keys_activated_at_once_leave_one_active() -> None:
    async with live_service(_with_admin, outbox_relay_enabled=False) as live:
        phones = [DoctorPhone(), DoctorPhone()]
        keys = [await _register(live, phone) for phone in phones]
        responses = await asyncio.gather(
            *(
                live.http.post(
                    f"/api/v1/signing-keys/{key['id']}/activate",
                    json={"fingerprint": phone.fingerprint},
                    headers=live.world.as_("admin"),
                )
                for key, phone in zip(keys, phones, strict=True)
            )
        )
        assert _codes(responses) == [200, 200], [r.text for r in responses]
        assert await _statuses(live) == ["active", "retired", "retired"]


async def test_identical_registrations_at_once_register_the_key_once() -> None:
    async with live_service(outbox_relay_enabled=False) as live:
        world = live.world
        body = DoctorPhone().registration(world.doctor.id)
        responses = await asyncio.gather(
            *(live.http.post(MINE, json=body, headers=world.as_("doctor")) for _ in range(N))
        )
        assert _codes(responses) == [201] + [409] * (N - 1), [r.text for r in responses]
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {
            "signing_key_exists"
        }
        assert await _statuses(live) == ["active", "pending"]


async def test_signatures_racing_a_revocation_are_refused_or_made_while_active() -> None:
    async with live_service(_with_admin, outbox_relay_enabled=False) as live:
        world, http = live.world, live.http
        drugs = (world.drugs.metformin, world.drugs.acarbose, world.drugs.glargine)
        drafts = [
            await ok(
                await http.post(
                    "/api/v1/prescriptions",
                    json=rx_body(world, item(drug)),
                    headers=world.as_("doctor"),
                ),
                201,
            )
            for drug in drugs
        ]
        payloads = [await doctor_phone.payload(http, d["id"], world.as_("doctor")) for d in drafts]
        signs = [
            http.post(
                f"/api/v1/prescriptions/{d['id']}/sign",
                json={"signed_content": p["signed_content"],
                      "signature": world.phone.sign(p["signed_content"])},
                headers=world.as_("doctor"),
            )
            for d, p in zip(drafts, payloads, strict=True)
        ]  # fmt: skip
        revoke = http.post(
            f"/api/v1/signing-keys/{payloads[0]['key_id']}/revoke",
            json={"reason": "手机丢失"},
            headers=world.as_("admin"),
        )
        *signed, revoked = await asyncio.gather(*signs, revoke)
        assert revoked.status_code == 200, revoked.text
        for draft, response in zip(drafts, signed, strict=True):
            if response.status_code == 200:
                # Accepted: it was made while the key was active, and stays valid.
                read = await ok(
                    await http.get(
                        f"/api/v1/prescriptions/{draft['id']}", headers=world.as_("reviewer")
                    )
                )
                block = read["signature"]
                assert block["key_status"] == "revoked"
                assert block["signed_at"] < block["key_revoked_at"]
            else:
                assert response.status_code == 409, response.text
                assert response.json()["code"] == "signing_key_revoked"
