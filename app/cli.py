"""Operator commands: migrate, load demo data, serve, export the OpenAPI document, rotate keys.

python -m app.cli migrate
python -m app.cli seed-demo
python -m app.cli serve [--demo] [--host 127.0.0.1] [--port 8000] [--workers 1]
    (any other host than a loopback one runs APP_ENV=prod unless APP_ENV is set; outside
    prod the fake WeChat, SMS and payment addresses follow --port unless set; a port in use
    exits with 3 and says so)
python -m app.cli openapi [--check] [PATH]
python -m app.cli rotate-field-keys
python -m app.cli staff create|suspend|reinstate|reset-password|move|import ...
    (see README, "Creating staff")
python -m app.cli institution create ... / store create ...
python -m app.cli load-catalogue [--effective-from DATE] [PATH]
    (a city's disease catalogue file, the Yangquan one by default; on a database that already
    has editions, publish it from a future date: see docs/catalogue.md)
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from alembic import command
from pydantic import ValidationError

from app.config import Environment, get_settings
from app.db import create_engine, create_sessionmaker
from app.health.migrations_state import PROJECT_ROOT, alembic_config
from app.kit.public_address import is_local_host

OPENAPI_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


def migrate() -> None:
    """Bring the configured database to the newest schema."""
    command.upgrade(alembic_config(get_settings().database_url), "heads")


async def seed_demo() -> str:
    """Load the demo data set (idempotent) and return the printable credentials."""
    from app import wiring
    from app.demo.seed import format_credentials, load_demo_data

    # The demo month reverses a settlement: its refund is a subscriber, as in the service.
    wiring.wire()
    settings = get_settings()
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            summary = await load_demo_data(session)
            await session.commit()
    finally:
        await engine.dispose()
    return format_credentials(summary)


def render_openapi() -> str:
    """The OpenAPI document the app generates, as committed in openapi/openapi.json."""
    from app.main import create_app

    document = create_app().openapi()
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def export_openapi(path: Path, check: bool) -> int:
    """Write the OpenAPI document, or with `check` fail when the committed one differs."""
    rendered = render_openapi()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != rendered:
            print(f"{path} is out of date: run `python -m app.cli openapi`", file=sys.stderr)
            return 1
        print(f"{path} matches the app")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered, encoding="utf-8")
    print(f"wrote {path}")
    return 0


async def rotate_field_keys() -> int:
    """Re-encrypt every encrypted field under the newest FIELD_ENCRYPTION_KEYS key."""
    from app.kit.key_rotation import rotate_encrypted_columns
    from app.models import Base

    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine)() as session:
            rotated = await rotate_encrypted_columns(session, Base.metadata)
            await session.commit()
    finally:
        await engine.dispose()
    print(f"re-encrypted {rotated} values under the newest key")
    return 0


async def _admin_act(act: Callable[[Any], Awaitable[str]]) -> int:
    """Run one admin command in a transaction of its own: print what it did and commit, or
    print why it was refused and change nothing."""
    from app.errors import AppError
    from app.staff.commands import describe_error

    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine)() as session:
            try:
                done = await act(session)
            except AppError as exc:
                print(describe_error(exc), file=sys.stderr)
                return 1
            await session.commit()
    finally:
        await engine.dispose()
    print(done)
    return 0


async def load_catalogue(session: Any, path: Path | None, effective_from: date | None) -> str:
    """Load a catalogue file (categories, diseases, its edition from its own date or the one
    given) and say what it did."""
    from app.catalogue import service as catalogue_service

    data = catalogue_service.read_catalogue_file(path or catalogue_service.YANGQUAN_CATALOGUE)
    if effective_from is not None:
        data = data.model_copy(update={"effective_from": effective_from})
    loaded = await catalogue_service.load_catalogue(session, data)
    categories = {item.category.code for item in loaded.view.items}
    edition = "published" if loaded.edition_created else "already there"
    return (
        f"catalogue edition {loaded.view.edition.effective_from} {edition}: "
        f"{len(loaded.view.items)} diseases in {len(categories)} categories "
        f"({loaded.diseases_created} diseases and {loaded.categories_created} categories new)"
    )


def _add_admin_commands(sub: Any) -> None:
    staff = sub.add_parser("staff", help="create, suspend, reinstate, move or import staff")
    acts = staff.add_subparsers(dest="act", required=True)
    create = acts.add_parser("create", help="create a doctor, pharmacist or courier")
    create.add_argument("--role", required=True, choices=["doctor", "pharmacist", "courier"])
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True, help="display name, e.g. 李医生")
    create.add_argument("--institution", help="institution code (doctor, prescription reviewer)")
    create.add_argument("--store", help="store code (store pharmacist, courier)")
    create.add_argument("--department", help="doctor's department, e.g. 内分泌科")
    create.add_argument("--title", help="doctor's title, e.g. 主治医师")
    create.add_argument("--specialties", default="", help="disease codes, e.g. M01600,M03900")
    create.add_argument("--max-patients", type=int)
    for name in ("suspend", "reinstate"):
        act = acts.add_parser(name, help=f"{name} a staff account")
        act.add_argument("username")
        act.add_argument("--reason", required=True)
    reset = acts.add_parser("reset-password", help="a new random password, printed once")
    reset.add_argument("username")
    move = acts.add_parser("move", help="move a staff member to another institution or store")
    move.add_argument("username")
    move.add_argument("--institution")
    move.add_argument("--store")
    move.add_argument("--reason", required=True)
    spreadsheet = acts.add_parser("import", help="import a staff spreadsheet (XLSX or CSV)")
    spreadsheet.add_argument("file", type=Path)
    spreadsheet.add_argument("--dry-run", action="store_true", help="check only")

    institution = sub.add_parser("institution", help="create a designated institution")
    create_institution = institution.add_subparsers(dest="act", required=True).add_parser(
        "create", help="code: H + 6-digit district code + 5-digit sequence"
    )
    create_institution.add_argument("--code", required=True)
    create_institution.add_argument("--name-zh", required=True)
    create_institution.add_argument("--name-en", required=True)
    create_institution.add_argument("--level", required=True, choices=["secondary", "tertiary"])
    create_institution.add_argument("--district", required=True)
    create_institution.add_argument("--online-pilot", action="store_true")

    store = sub.add_parser("store", help="create a partner pharmacy store")
    create_store = store.add_subparsers(dest="act", required=True).add_parser(
        "create", help="fixmedins code: P + 6-digit district code + 5-digit sequence"
    )
    for option in ("--chain", "--code", "--fixmedins-code", "--name-zh", "--name-en"):
        create_store.add_argument(option, required=True)
    create_store.add_argument("--district", required=True)
    create_store.add_argument("--address", required=True)
    create_store.add_argument("--covers", required=True, help="district codes, e.g. 140322")


def _admin_command(args: argparse.Namespace) -> Callable[[Any], Awaitable[str]]:
    """The act an admin command names, its input checked as the API checks it."""
    from app.reference.schemas import InstitutionCreate, PharmacyStoreCreate
    from app.staff import commands
    from app.staff.schemas import StaffCreate, StaffMove

    if args.command == "institution":
        data = InstitutionCreate(
            code=args.code, name_zh=args.name_zh, name_en=args.name_en, level=args.level,
            district_code=args.district, is_online_pilot=args.online_pilot,
        )  # fmt: skip
        return lambda session: commands.create_institution(session, data)
    if args.command == "store":
        store = PharmacyStoreCreate(
            chain_code=args.chain, code=args.code, fixmedins_code=args.fixmedins_code,
            name_zh=args.name_zh, name_en=args.name_en, district_code=args.district,
            address_zh=args.address, covers=[c for c in args.covers.split(",") if c],
        )  # fmt: skip
        return lambda session: commands.create_store(session, store)
    if args.act == "create":
        person = StaffCreate(
            role=args.role, username=args.username, display_name=args.name,
            institution_code=args.institution, store_code=args.store,
            department_zh=args.department, title_zh=args.title,
            specialties=[c for c in args.specialties.split(",") if c],
            max_active_patients=args.max_patients,
        )  # fmt: skip
        return lambda session: commands.create_staff(session, person)
    if args.act == "suspend":
        return lambda session: commands.suspend_staff(session, args.username, args.reason)
    if args.act == "reinstate":
        return lambda session: commands.reinstate_staff(session, args.username, args.reason)
    if args.act == "reset-password":
        return lambda session: commands.reset_password(session, args.username)
    if args.act == "move":
        move = StaffMove(institution_code=args.institution, store_code=args.store,
                         reason=args.reason)  # fmt: skip
        return lambda session: commands.move_staff(session, args.username, move)
    content = args.file.read_bytes()
    return lambda session: commands.import_staff(session, content, args.dry_run)


def served_base_url(host: str, port: int) -> str:
    """The address a client on this machine reaches a server bound to `host`:`port` at (a
    wildcard bind is reached on loopback)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}"


def port_problem(host: str, port: int) -> str | None:
    """Why `host`:`port` cannot be listened on, in plain words (Chinese, then English), or None.

    Tried before uvicorn starts, which would otherwise log a bare errno and exit."""
    # The address family uvicorn picks for the host (IPv6 when it has a colon).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return (
            f"无法解析监听地址 {host}：{exc.strerror}\n"
            f"cannot resolve the host {host}: {exc.strerror}"
        )
    _, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a previous run is not "taken".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"端口 {port} 已被占用（{host}）：请先停止占用它的程序，"
                    "或用 --port 换一个端口。\n"
                    f"port {port} on {host} is already in use (address already in use): stop "
                    "what holds it or choose another with --port."
                )
            return (
                f"无法在 {host}:{port} 上监听：{exc.strerror}\n"
                f"cannot listen on {host}:{port}: {exc.strerror}"
            )
    return None


def run_server(host: str, port: int, workers: int, demo: bool) -> int:
    """Run the API under uvicorn with the slow-client timeouts (app/http_timeouts.py).

    A development server is safe on loopback only (published dev secrets, the fake WeChat that
    signs anyone in). Bound anywhere else, it runs as prod unless APP_ENV says otherwise, and
    prod refuses to start with development or weak keys.
    """
    try:
        settings = get_settings()
        if not is_local_host(host) and "env" not in settings.model_fields_set:
            os.environ["APP_ENV"] = Environment.prod.value
            get_settings.cache_clear()
            print(f"serving on {host} (not loopback) without APP_ENV: prod", file=sys.stderr)
            settings = get_settings()
    except ValidationError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2
    problem = port_problem(host, port)
    if problem:
        print(problem, file=sys.stderr)
        return 3
    if settings.env != Environment.prod and "served_base_url" not in settings.model_fields_set:
        # The development fakes' addresses follow this port (app/config.py); the environment
        # carries it to every worker process uvicorn starts.
        os.environ["SERVED_BASE_URL"] = served_base_url(host, port)
        get_settings.cache_clear()
        settings = get_settings()
    if demo:
        migrate()
        print(asyncio.run(seed_demo()))
        print(f"API: http://{host}:{port}  docs: http://{host}:{port}/docs")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        http="app.http_timeouts:TimedHttpToolsProtocol",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # Websocket frames past the largest the gateway takes are refused unread (1009).
        ws_max_size=settings.ws_frame_max_bytes,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m app.cli`."""
    parser = argparse.ArgumentParser(
        prog="python -m app.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    sub.add_parser("seed-demo", help="load the demo data (idempotent) and print credentials")
    serve = sub.add_parser("serve", help="run the API with uvicorn")
    serve.add_argument("--demo", action="store_true", help="migrate and load demo data first")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    openapi = sub.add_parser("openapi", help="write (or --check) openapi/openapi.json")
    openapi.add_argument("--check", action="store_true")
    openapi.add_argument("path", nargs="?", type=Path, default=OPENAPI_PATH)
    sub.add_parser("rotate-field-keys", help="re-encrypt identifiers under the newest key")
    catalogue = sub.add_parser("load-catalogue", help="load a city's disease catalogue file")
    catalogue.add_argument("path", nargs="?", type=Path, default=None)
    catalogue.add_argument("--effective-from", type=date.fromisoformat, default=None)
    _add_admin_commands(sub)
    args = parser.parse_args(argv)

    if args.command == "migrate":
        migrate()
        return 0
    if args.command == "seed-demo":
        migrate()
        print(asyncio.run(seed_demo()))
        return 0
    if args.command == "openapi":
        return export_openapi(args.path, args.check)
    if args.command == "rotate-field-keys":
        return asyncio.run(rotate_field_keys())
    if args.command == "load-catalogue":
        try:
            return asyncio.run(
                _admin_act(lambda session: load_catalogue(session, args.path, args.effective_from))
            )
        except ValidationError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 2
    if args.command in ("staff", "institution", "store"):
        try:
            act = _admin_command(args)
        except ValidationError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(_admin_act(act))
    return run_server(args.host, args.port, args.workers, args.demo)


if __name__ == "__main__":
    sys.exit(main())
