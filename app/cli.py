"""Operator commands: migrate, load demo data, serve, export the OpenAPI document, rotate keys.

python -m app.cli migrate
python -m app.cli seed-demo
python -m app.cli serve [--demo] [--host 127.0.0.1] [--port 8000] [--workers 1]
    (any other host than a loopback one runs APP_ENV=prod unless APP_ENV is set)
python -m app.cli openapi [--check] [PATH]
python -m app.cli rotate-field-keys
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import sys
from pathlib import Path

import uvicorn
from alembic import command
from pydantic import ValidationError

from app.config import Environment, get_settings
from app.db import create_engine, create_sessionmaker
from app.health.migrations_state import PROJECT_ROOT, alembic_config

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


def is_local_host(host: str) -> bool:
    """Whether binding `host` serves this machine only (loopback)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    return run_server(args.host, args.port, args.workers, args.demo)


if __name__ == "__main__":
    sys.exit(main())
