"""A PgBouncer of a test's own, in transaction mode, in front of the test PostgreSQL server.

Started from its own ini and userlist in a temporary directory on a free port, and stopped (and
its directory removed) afterwards. A server pool smaller than the clients' pools makes every
client connection run its transactions on whichever server session is free, as in production.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from tests.fixtures.servers import free_port, wait_until

# Debian puts it in /usr/sbin, which a non-root PATH often lacks.
PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")


def missing_reason() -> str | None:
    """Why the PgBouncer tests cannot run here, or None."""
    if PGBOUNCER is None:
        return "pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)"
    return None


@asynccontextmanager
async def pgbouncer(server_url: str, *, pool_size: int = 4) -> AsyncIterator[int]:
    """PgBouncer in transaction mode in front of `server_url`'s PostgreSQL (every database,
    trust auth, at most `pool_size` server sessions per database); yields its port."""
    assert PGBOUNCER is not None, missing_reason()
    target = make_url(server_url)
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="cc-pgbouncer-"))
    ini = _configure(directory, target, port, pool_size)
    process = await asyncio.create_subprocess_exec(
        PGBOUNCER, str(ini), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    dsn = f"postgresql://{target.username or 'postgres'}@127.0.0.1:{port}/postgres"

    async def answers() -> bool:
        if process.returncode is not None:
            error = (await process.stderr.read()).decode() if process.stderr else ""
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: {error}")
        try:
            connection = await asyncpg.connect(dsn, statement_cache_size=0, timeout=1)
        except (OSError, asyncpg.PostgresError):
            return False
        await connection.close()
        return True

    try:
        await wait_until(answers, within=15, interval=0.05, what="pgbouncer answering")
        yield port
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _configure(directory: Path, target: URL, port: int, pool_size: int) -> Path:
    """Write pgbouncer.ini and its userlist into `directory`; the ini's path."""
    user = target.username or "postgres"
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={target.host or '127.0.0.1'} port={target.port or 5432}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {directory / 'userlist.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 500",
                f"logfile = {directory / 'pgbouncer.log'}",
                # PgBouncer will not run as root: it switches to this user, who owns the files.
                *(["user = postgres"] if os.geteuid() == 0 else []),
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        for path in (directory, *directory.iterdir()):
            shutil.chown(path, "postgres")
    return ini


def through(url: str, port: int) -> str:
    """`url` (a database on the test server) reached through the PgBouncer on `port`."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
