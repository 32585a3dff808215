"""Chat delivery benchmark: this service vs Matrix Synapse, same machine, same run.

    .venv/bin/python bench/chat_bench.py [--messages 50] [--sequential 300] [--workers 1]
                                         [--skip-synapse]

Scenarios, each on both systems:
  fan-in      20 patients, each in their own conversation with one doctor, send concurrently
              (each one waits for its own acknowledgement before the next message);
  sequential  one patient sends messages one after another to the doctor.
Measured at the doctor's client: messages per second (first send to last receipt),
send-to-receive latency p50/p99, and lost / duplicated messages. And CPU per message: the user +
system time (/proc/<pid>/stat) the scenario cost the server's processes (ours: uvicorn and its
workers; Synapse: its one process) and, apart, the PostgreSQL backends connected to its database,
divided by the messages received. (Redis, which ours publishes through, is a server shared with
other work on this machine and is not counted.)

Ours: `--workers` uvicorn workers (default 1, against Synapse's one process) on PostgreSQL +
Redis; clients send `chat.send` and receive `chat.message` over the websocket. Synapse (from
PyPI, in bench/.venv-synapse, made on first run): one homeserver on PostgreSQL, loopback only,
presence off, rate limits lifted, users registered through the shared-secret admin API; clients
PUT /send and the doctor long-polls /sync. Everything started here is stopped and its
databases dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import yaml
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Environment, Settings  # noqa: E402
from app.db import create_engine, create_sessionmaker  # noqa: E402
from app.models import Role  # noqa: E402
from tests.chat.live import live_chat  # noqa: E402
from tests.fixtures import factories  # noqa: E402
from tests.fixtures.databases import migrate  # noqa: E402

PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
SYNAPSE_VENV = ROOT / "bench" / ".venv-synapse"
PATIENTS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Tally:
    """Send and receive times per message id, for one scenario on one system."""

    sent: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    expected: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # CPU seconds the scenario cost the server's processes and its PostgreSQL backends.
    cpu_server: float = 0.0
    cpu_postgres: float = 0.0

    def receive(self, message_id: str) -> None:
        """Record a receipt at the doctor's client."""
        if message_id in self.received:
            self.duplicates += 1
            return
        if message_id in self.sent:
            self.received[message_id] = time.perf_counter()
            if len(self.received) >= self.expected:
                self.done.set()

    def report(self, system: str, scenario: str) -> dict[str, object]:
        """Throughput, latency percentiles, loss and duplication."""
        latencies = sorted(
            (self.received[k] - self.sent[k]) * 1000 for k in self.received if k in self.sent
        )
        span = max(self.received.values(), default=0) - min(self.sent.values(), default=0)
        lost = self.expected - len(self.received)
        return {
            "system": system,
            "scenario": scenario,
            "messages": self.expected,
            "msg_per_s": round(len(self.received) / span, 1) if span > 0 else 0.0,
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
            "lost": lost,
            "duplicated": self.duplicates,
            "cpu_server_ms": self._per_message(self.cpu_server),
            "cpu_postgres_ms": self._per_message(self.cpu_postgres),
        }

    def _per_message(self, seconds: float) -> float | None:
        return round(1000 * seconds / len(self.received), 2) if self.received else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


@dataclass
class CpuMeter:
    """CPU times of a server's process tree and of the PostgreSQL backends of its database."""

    server_pid: int
    database: str

    async def snapshot(self) -> tuple[dict[int, float], dict[int, float]]:
        """(server pid -> CPU seconds, backend pid -> CPU seconds) now."""
        admin = await asyncpg.connect(PG_SERVER)
        try:
            backends = [
                r["pid"]
                for r in await admin.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
                )
            ]
        finally:
            await admin.close()
        server = {pid: cpu_seconds(pid) for pid in process_tree(self.server_pid)}
        return server, {pid: cpu_seconds(pid) for pid in backends}

    async def measure(self, scenario: Awaitable[Tally]) -> Tally:
        """Run `scenario`; its tally with the CPU it cost. A process that appears during the
        scenario counts whole; one that ends during it counts to its last snapshot (the servers
        keep their processes and pooled connections)."""
        before = await self.snapshot()
        tally = await scenario
        after = await self.snapshot()
        tally.cpu_server, tally.cpu_postgres = (
            sum(cpu - was.get(pid, 0.0) for pid, cpu in now.items())
            for was, now in zip(before, after, strict=True)
        )
        return tally


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_http(url: str, within: float = 60.0) -> None:
    """Poll `url` until it answers 200."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextlib.asynccontextmanager
async def pg_database(name: str, collate_c: bool = False) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its plain DSN."""
    admin = await asyncpg.connect(PG_SERVER)
    extra = " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" if collate_c else ""
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"{extra}')
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def process(
    args: list[str], env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process with output to `log`, terminated on exit."""
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            *args, env={**os.environ, **env}, stdout=out, stderr=out, cwd=ROOT
        )
        try:
            yield child
        finally:
            child.terminate()
            try:
                await asyncio.wait_for(child.wait(), 15)
            except TimeoutError:
                child.kill()
                await child.wait()


# ---------------------------------------------------------------- ours


async def run_ours(
    messages: int, sequential: int, workers: int, workdir: Path
) -> list[dict[str, object]]:
    """Both scenarios against `workers` uvicorn workers on PostgreSQL + Redis."""
    name = f"chat_bench_{uuid.uuid4().hex[:8]}"
    async with pg_database(name) as dsn:
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        await migrate(url)
        settings = Settings(APP_ENV=Environment.test, database_url=url)
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        chats = [await live_chat(sessionmaker, settings) for _ in range(PATIENTS)]
        # One doctor for everyone: re-point each conversation's doctor token at the first one's.
        doctor = await _one_doctor(sessionmaker, settings, chats)
        await engine.dispose()
        port = free_port()
        env = {
            "APP_ENV": "test",
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "OUTBOX_RELAY_ENABLED": "false",
            # As deployed: the periodic jobs run in `python -m app.worker`, not in the web
            # process (they would add their CPU to every message's).
            "BACKGROUND_JOBS_ENABLED": "false",
            "FAKE_WECHAT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "CHAT_RATE_LIMIT_MESSAGES": "1000000",
            "DB_POOL_SIZE": "10",
        }
        command = [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log",
        ]  # fmt: skip
        async with process(command, env, workdir / "uvicorn.log") as server:
            await wait_http(f"http://127.0.0.1:{port}/healthz")
            ws = f"ws://127.0.0.1:{port}/ws"
            meter = CpuMeter(server.pid, name)
            fan_in = await meter.measure(_ours_scenario(ws, doctor, chats, messages))
            one = await meter.measure(_ours_scenario(ws, doctor, chats[:1], sequential))
        system = f"ours ({workers} worker{'s' if workers > 1 else ''})"
        return [fan_in.report(system, "fan-in"), one.report(system, "sequential")]


async def _one_doctor(sessionmaker, settings, chats) -> str:
    """Make every conversation's doctor the same account; its token."""
    from sqlalchemy import update

    from app.models import ChatParticipant

    async with sessionmaker() as session:
        doctor = await factories.account(session, Role.doctor)
        for chat in chats:
            await session.execute(
                update(ChatParticipant)
                .where(
                    ChatParticipant.conversation_id == chat.conversation_id,
                    ChatParticipant.account_id == chat.doctor.id,
                )
                .values(account_id=doctor.id)
            )
        headers = await factories.bearer(session, settings, doctor)
        await session.commit()
    return headers["Authorization"].removeprefix("Bearer ")


async def _ws_session(url: str, token: str):
    ws = await connect(url, max_queue=None, open_timeout=10)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return ws


async def _ours_scenario(url: str, doctor_token: str, chats, per_sender: int) -> Tally:
    tally = Tally(expected=per_sender * len(chats))
    doctor = await _ws_session(url, doctor_token)

    async def listen() -> None:
        async for raw in doctor:
            frame = json.loads(raw)
            if frame["type"] == "chat.message":
                tally.receive(frame["message"]["client_msg_id"])
            elif frame["type"] == "ping":
                await doctor.send('{"type":"pong"}')

    async def patient(chat) -> None:
        ws = await _ws_session(url, chat.patient.token)
        try:
            for n in range(per_sender):
                client_id = uuid.uuid4().hex
                frame = {
                    "type": "chat.send",
                    "conversation_id": str(chat.conversation_id),
                    "client_msg_id": client_id,
                    "kind": "text",
                    "text": f"血糖 {n}",
                }
                tally.sent[client_id] = time.perf_counter()
                await ws.send(json.dumps(frame))
                while json.loads(await ws.recv())["type"] != "chat.ack":
                    pass
        finally:
            await ws.close()

    listener = asyncio.create_task(listen())
    try:
        await asyncio.gather(*(patient(chat) for chat in chats))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.done.wait(), 30)
    finally:
        listener.cancel()
        await doctor.close()
    return tally


# ---------------------------------------------------------------- Synapse

SECRET = "bench-shared-secret"


def synapse_config(workdir: Path, port: int, dsn: str) -> Path:
    """Generate a homeserver config, then lift limits, disable presence, use PostgreSQL."""
    config = workdir / "homeserver.yaml"
    subprocess.run(
        [
            str(SYNAPSE_VENV / "bin" / "python"), "-m", "synapse.app.homeserver",
            "--server-name", "bench.local", "--config-path", str(config),
            "--data-directory", str(workdir), "--generate-config", "--report-stats=no",
        ],
        check=True, capture_output=True, cwd=workdir,
    )  # fmt: skip
    data = yaml.safe_load(config.read_text())
    unlimited = {"per_second": 100000, "burst_count": 100000}
    user, rest = dsn.removeprefix("postgresql://").split("@", 1)
    host_port, database = rest.split("/", 1)
    host, _, pg_port = host_port.partition(":")
    data.update(
        {
            "listeners": [
                {
                    "port": port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "psycopg2",
                "args": {
                    "user": user,
                    "database": database,
                    "host": host,
                    "port": int(pg_port or 5432),
                    "cp_min": 5,
                    "cp_max": 10,
                },
            },
            "registration_shared_secret": SECRET,
            "presence": {"enabled": False},
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "report_stats": False,
            "rc_message": unlimited,
            "rc_login": {"address": unlimited, "account": unlimited, "failed_attempts": unlimited},
            "rc_registration": unlimited,
            "rc_room_creation": unlimited,
            "rc_joins": {"local": unlimited, "remote": unlimited},
            "rc_invites": {"per_room": unlimited, "per_user": unlimited, "per_issuer": unlimited},
            "rc_admin_redaction": unlimited,
            "rc_joins_per_room": unlimited,
            "federation_domain_whitelist": [],
        }
    )
    data["log_config"] = str(workdir / "log.yaml")
    (workdir / "log.yaml").write_text(
        "version: 1\nroot: {level: WARNING, handlers: [console]}\n"
        "handlers: {console: {class: logging.StreamHandler}}\n"
    )
    config.write_text(yaml.safe_dump(data))
    return config


async def _register(http: httpx.AsyncClient, name: str) -> str:
    nonce = (await http.get("/_synapse/admin/v1/register")).json()["nonce"]
    password = uuid.uuid4().hex
    mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
    mac.update(f"{nonce}\x00{name}\x00{password}\x00notadmin".encode())
    response = await http.post(
        "/_synapse/admin/v1/register",
        json={"nonce": nonce, "username": name, "password": password, "mac": mac.hexdigest()},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def run_synapse(messages: int, sequential: int, workdir: Path) -> list[dict[str, object]]:
    """Both scenarios against one Synapse homeserver on PostgreSQL."""
    name = f"synapse_bench_{uuid.uuid4().hex[:8]}"
    async with pg_database(name, collate_c=True) as dsn:
        port = free_port()
        config = await asyncio.to_thread(synapse_config, workdir, port, dsn)
        command = [str(SYNAPSE_VENV / "bin" / "python"), "-m", "synapse.app.homeserver", "-c"]
        async with process([*command, str(config)], {}, workdir / "synapse.log") as server:
            base = f"http://127.0.0.1:{port}"
            await wait_http(f"{base}/health", within=120)
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                doctor = await _register(http, "doctor")
                patients = [await _register(http, f"patient{n}") for n in range(PATIENTS)]
                rooms = [await _room(http, doctor, token, n) for n, token in enumerate(patients)]
            pairs = list(zip(patients, rooms, strict=True))
            meter = CpuMeter(server.pid, name)
            fan_in = await meter.measure(_synapse_scenario(base, doctor, pairs, messages))
            one = await meter.measure(
                _synapse_scenario(base, doctor, [(patients[0], rooms[0])], sequential)
            )
        return [fan_in.report("synapse", "fan-in"), one.report("synapse", "sequential")]


async def _room(http: httpx.AsyncClient, doctor: str, patient: str, n: int) -> str:
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    created = await http.post(
        "/_matrix/client/v3/createRoom",
        headers=auth(doctor),
        json={"preset": "private_chat", "invite": [f"@patient{n}:bench.local"]},
    )
    if created.status_code != 200:
        raise RuntimeError(f"createRoom: {created.status_code} {created.text}")
    room = str(created.json()["room_id"])
    joined = await http.post(f"/_matrix/client/v3/join/{room}", headers=auth(patient), json={})
    joined.raise_for_status()
    return room


async def _synapse_scenario(
    base: str, doctor: str, senders: list[tuple[str, str]], per_sender: int
) -> Tally:
    tally = Tally(expected=per_sender * len(senders))
    headers = {"Authorization": f"Bearer {doctor}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        since = (await http.get("/_matrix/client/v3/sync", params={"timeout": 0})).json()[
            "next_batch"
        ]

    async def listen() -> None:
        nonlocal since
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while True:
                params = {"since": since, "timeout": 30000}
                body = (await http.get("/_matrix/client/v3/sync", params=params)).json()
                since = body["next_batch"]
                for room in body.get("rooms", {}).get("join", {}).values():
                    for event in room.get("timeline", {}).get("events", []):
                        if event.get("type") == "m.room.message":
                            tally.receive(event["content"].get("client_msg_id", ""))

    async def patient(token: str, room: str) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as http:
            for n in range(per_sender):
                client_id = uuid.uuid4().hex
                tally.sent[client_id] = time.perf_counter()
                response = await http.put(
                    f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{client_id}",
                    json={"msgtype": "m.text", "body": f"血糖 {n}", "client_msg_id": client_id},
                )
                response.raise_for_status()

    listener = asyncio.create_task(listen())
    try:
        await asyncio.gather(*(patient(token, room) for token, room in senders))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.done.wait(), 60)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    return tally


# ---------------------------------------------------------------- main


def _table(rows: list[dict[str, object]]) -> str:
    head = (
        "| system | scenario | messages | msg/s | p50 ms | p99 ms | lost | duplicated "
        "| CPU ms/msg server | CPU ms/msg PostgreSQL |"
    )
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['scenario']} | {r['messages']} | {r['msg_per_s']} | "
            f"{r['p50_ms']} | {r['p99_ms']} | {r['lost']} | {r['duplicated']} | "
            f"{r['cpu_server_ms']} | {r['cpu_postgres_ms']} |"
        )
    return "\n".join(lines)


async def main() -> None:
    """Run both systems and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50, help="per patient in fan-in")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of ours")
    parser.add_argument("--skip-synapse", action="store_true")
    parser.add_argument("--skip-ours", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    rows: list[dict[str, object]] = []
    try:
        if not args.skip_ours:
            rows += await run_ours(args.messages, args.sequential, args.workers, workdir)
        if not args.skip_synapse:
            await _ensure_synapse()
            rows += await run_synapse(args.messages, args.sequential, workdir)
    finally:
        print(_table(rows))
        print("load average: " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
        print(f"logs: {workdir}")
    if any(r["lost"] or r["duplicated"] for r in rows if str(r["system"]).startswith("ours")):
        raise SystemExit("ours lost or duplicated messages")


async def _ensure_synapse() -> None:
    """Install Synapse into its own venv on first use (never into the project's)."""
    if (SYNAPSE_VENV / "bin" / "synapse_homeserver").exists():
        return
    await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "venv", str(SYNAPSE_VENV)], check=True
    )
    pip = str(SYNAPSE_VENV / "bin" / "pip")
    await asyncio.to_thread(
        subprocess.run, [pip, "install", "-q", "matrix-synapse[postgres]"], check=True
    )


if __name__ == "__main__":
    asyncio.run(main())
