"""`one_of`: the rows `IN` would select, on SQLite and on PostgreSQL (one array parameter)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.kit.sql import one_of
from app.models import Account, Role
from tests.fixtures import factories


@pytest.mark.parametrize("wanted", [(), (0,), (0, 2), (0, 1, 2)])
async def test_one_of_selects_what_in_selects(db_session, wanted) -> None:
    accounts = [await factories.account(db_session, Role.doctor) for _ in range(3)]
    ids = [accounts[n].id for n in wanted] + [uuid.uuid4()]  # one id that matches nothing
    chosen = await db_session.scalars(select(Account.id).where(one_of(db_session, Account.id, ids)))
    expected = await db_session.scalars(select(Account.id).where(Account.id.in_(ids)))
    assert set(chosen) == set(expected) == {accounts[n].id for n in wanted}


async def test_one_of_nothing_selects_nothing(db_session) -> None:
    await factories.account(db_session, Role.doctor)
    assert (
        await db_session.scalars(select(Account.id).where(one_of(db_session, Account.id, [])))
    ).all() == []


async def test_on_postgresql_the_values_travel_as_one_array_parameter(db_session) -> None:
    dialect = db_session.get_bind().dialect
    if dialect.name != "postgresql":
        pytest.skip("set TEST_POSTGRES_URL to run")
    ids = [uuid.uuid4() for _ in range(200)]
    compiled = (
        select(Account.id).where(one_of(db_session, Account.id, ids)).compile(dialect=dialect)
    )
    assert "= ANY ($1::UUID[])" in compiled.string
    assert list(compiled.params.values()) == [ids]
