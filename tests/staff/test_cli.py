"""The README's staff commands, each in a process of its own over a seeded database: create an
institution and a store, a doctor and a courier there, import a spreadsheet, move, suspend."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.auth.passwords import verify_password
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models import Account, AuditEvent, PharmacyStaff, PharmacyStore
from tests.fixtures.cli import run_cli

pytestmark = pytest.mark.sqlite_file


def _ok(database: Path, *args: str) -> str:
    done = run_cli(database, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def _read(database: Path, statement):  # type: ignore[no-untyped-def]
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
    try:
        async with create_sessionmaker(engine)() as session:
            return (await session.execute(statement)).all()
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("cli") / "city.db"
    _ok(database, "seed-demo")
    return database


def test_a_newcomer_creates_places_and_people_from_the_command_line(
    seeded: Path, tmp_path: Path
) -> None:
    _ok(
        seeded,
        "institution",
        "create",
        "--code",
        "H14032200003",
        "--name-zh",
        "盂县第二医院",
        "--name-en",
        "Yu County Second Hospital",
        "--level",
        "secondary",
        "--district",
        "140322",
    )
    _ok(seeded, "store", "create", "--chain", "GKYQ", "--code", "GKYQ-YX02",
        "--fixmedins-code", "P14032200002", "--name-zh", "国康大药房（盂县南街店）",
        "--name-en", "Guokang Pharmacy, Yu South Street", "--district", "140322",
        "--address", "阳泉市盂县南街9号", "--covers", "140322")  # fmt: skip
    doctor = ["--role", "doctor", "--username", "dr.cli", "--name", "命令行医生",
              "--institution", "H14032200003", "--department", "内科", "--title", "主治医师",
              "--specialties", "M01600"]  # fmt: skip
    created = _ok(seeded, "staff", "create", *doctor)
    password = re.search(r"initial password \(shown once\): (\S+)", created)
    assert password is not None
    [(password_hash,)] = asyncio.run(
        _read(seeded, select(Account.password_hash).where(Account.username == "dr.cli"))
    )
    assert verify_password(password_hash, password.group(1))

    sheet = tmp_path / "staff.csv"
    sheet.write_bytes(
        "用户名,姓名,角色,门店编码\r\ncourier.cli,命令行配送员,配送员,GKYQ-YX02\r\n".encode(
            "utf-8-sig"
        )
    )
    assert "nothing created" in _ok(seeded, "staff", "import", str(sheet), "--dry-run")
    assert "created 1 account(s)" in _ok(seeded, "staff", "import", str(sheet))
    _ok(seeded, "staff", "move", "courier.cli", "--store", "GKYQ-YX01", "--reason", "调店")
    _ok(seeded, "staff", "suspend", "courier.cli", "--reason", "离职")
    [(is_active, store_code)] = asyncio.run(
        _read(
            seeded,
            select(Account.is_active, PharmacyStore.code)
            .join(PharmacyStaff, PharmacyStaff.account_id == Account.id)
            .join(PharmacyStore, PharmacyStore.id == PharmacyStaff.store_id)
            .where(Account.username == "courier.cli"),
        )
    )
    assert is_active is False and store_code == "GKYQ-YX01"
    actors = asyncio.run(
        _read(
            seeded,
            select(AuditEvent.action, AuditEvent.actor_name)
            .where(AuditEvent.resource_type == "staff_account")
            .order_by(AuditEvent.id),
        )
    )
    assert [a for a, _ in actors][-4:] == ["create", "create", "move", "suspend"]
    assert all(name.startswith("命令行 ") for _, name in actors)


def test_a_refused_command_says_why_and_changes_nothing(seeded: Path) -> None:
    refused = run_cli(seeded, "staff", "create", "--role", "courier", "--username", "courier.x",
                   "--name", "某人", "--institution", "H14030200001")  # fmt: skip
    assert refused.returncode == 1
    assert "staff_workplace_invalid" in refused.stderr
    rows = asyncio.run(_read(seeded, select(Account.id).where(Account.username == "courier.x")))
    assert rows == []
