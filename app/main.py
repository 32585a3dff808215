"""The application factory and its lifespan (engine, clients, realtime hub, background work)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import wiring, worker
from app.analytics.chart_renderer import ChartRenderer
from app.api import include_routers
from app.auth.fake_wechat import create_fake_wechat_app
from app.auth.wechat import WeChatClient
from app.chat.runtime import ChatRuntime
from app.config import Settings, get_settings
from app.db import create_engine, create_lock_engine, create_sessionmaker
from app.errors import install_error_handlers
from app.insurance_platform.client import HttpInsurancePlatform
from app.insurance_platform.fake import FAKE_PLATFORM_PATH, create_fake_insurance_platform_app
from app.insurance_platform.fake_directory import DatabaseDirectory
from app.insurance_platform.persons import PlatformPersonSource
from app.kit.blobstore import create_blob_store
from app.kit.clock import shifted_by
from app.kit.gc_tuning import serving_gc
from app.notify.fakes import create_fake_sms_app, fake_wechat_messages_router
from app.observability import RequestContextMiddleware, configure_logging
from app.openapi_contract import document_contract, operation_id
from app.openapi_errors import document_problem_responses
from app.outbox.handlers import build_handlers, outbox_http_client
from app.outbox.relay import OutboxRelay
from app.payment.fake_wechatpay import create_fake_wechatpay_app
from app.payment.providers import dev_merchant
from app.payment.providers.dev_merchant import FAKE_WECHATPAY_PATH
from app.realtime.hub import create_hub
from app.request_bodies import BodySizeLimitMiddleware, upload_limits
from app.web_security import (
    LocalOnlyDevelopmentMiddleware,
    SecurityHeadersMiddleware,
    development_by_default,
)

log = structlog.get_logger(__name__)

FAKE_WECHAT_PATH = "/_dev/wechat"
FAKE_SMS_PATH = "/_dev/sms"
DOCS_ASSETS_PATH = "/docs-assets"  # Swagger UI and ReDoc files, served by this service
# Connections of the insurance platform client's own transactions (its message log, sign-in).
PLATFORM_LOG_CONNECTIONS = 4


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for `settings` (the environment's when not given)."""
    settings = settings or get_settings()
    wiring.wire()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clock = ExitStack()
        if settings.clock_offset_seconds:  # dev/test only (prod refuses it)
            clock.enter_context(shifted_by(timedelta(seconds=settings.clock_offset_seconds)))
        engine = create_engine(settings)
        http = httpx.AsyncClient(timeout=settings.wechat_timeout_seconds)
        hub = create_hub(settings)
        sessionmaker = create_sessionmaker(engine)
        app.state.blobs = create_blob_store(settings)
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.http = http
        app.state.hub = hub
        if not hasattr(app.state, "wechat"):
            app.state.wechat = WeChatClient(
                http, settings.wechat_api_base, settings.wechat_appid, settings.wechat_secret
            )
        platform_engine = None
        if settings.insurance_platform_url and not hasattr(app.state, "insurance_platform"):
            # The platform's message log and sign-in commit in transactions of their own while
            # the caller's is open: on a pool of their own, a request never waits on its own
            # pool for a second connection (every one of which may be held by such requests).
            platform_engine = create_engine(settings, pool_size=PLATFORM_LOG_CONNECTIONS)
            app.state.insurance_platform = HttpInsurancePlatform(
                http, settings, create_sessionmaker(platform_engine)
            )
        if hasattr(app.state, "insurance_platform"):
            # Insured identity comes from the platform's person query (identity endpoints).
            app.state.identity_source = PlatformPersonSource(app.state.insurance_platform)
        await hub.start()
        app.state.chat_runtime = ChatRuntime(settings, hub)
        tasks: list[asyncio.Task[None]] = []
        outbox_http = outbox_http_client(settings)
        if settings.outbox_relay_enabled:
            relay = OutboxRelay(
                sessionmaker,
                build_handlers(
                    settings,
                    outbox_http,
                    wiring.OUTBOX_KINDS,
                    sessionmaker,
                    wiring.PUSH_PROVIDERS,
                ),
                settings,
            )
            tasks.append(asyncio.create_task(relay.run_forever(), name="outbox-relay"))
        locks = engine
        if settings.background_jobs_enabled:
            # The demo's periodic work; production runs `python -m app.worker` instead. Their
            # locks hold connections of their own, never the requests'.
            locks = create_lock_engine(settings, engine, len(worker.SCHEDULE))
            jobs = worker.JobContext(
                locks, sessionmaker, settings, hub, app.state.blobs, outbox_http
            )
            tasks.append(asyncio.create_task(worker.run_schedule(jobs), name="periodic-jobs"))
        # /readyz reports whether each of these is still running.
        app.state.background_tasks = tasks
        log.info("service started", env=settings.env, database=engine.url.get_backend_name())
        try:
            with serving_gc():
                yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await app.state.chat_runtime.close()
            await asyncio.to_thread(app.state.chart_renderer.close)
            guard = getattr(app.state, "sign_in_guard", None)
            if guard is not None:
                guard.close()
            await hub.stop()
            await outbox_http.aclose()
            await http.aclose()
            if locks is not engine:
                await locks.dispose()
            if platform_engine is not None:
                await platform_engine.dispose()
            await engine.dispose()
            clock.close()

    configure_logging(settings.log_level, settings.log_json)
    # The API description and its pages: off in prod unless API_DOCS_ENABLED (the committed
    # openapi/openapi.json is the published one; `app.openapi()` still builds it).
    # The pages load Swagger UI and ReDoc from this service (fastapi-offline ships them), never
    # from a CDN: jsDelivr and unpkg are unreliable from mainland China.
    docs = settings.serves_api_docs
    pages: dict[str, Any] = (
        {"static_url": DOCS_ASSETS_PATH}
        if docs
        else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    )
    app = (FastAPIOffline if docs else FastAPI)(
        **pages,
        generate_unique_id_function=operation_id,
        title="Chronic-care platform API",
        version="0.1.0",
        description=(
            "Online chronic-disease care for the Yangquan pilot: wearable readings, doctor "
            "assignment, chat, e-prescriptions, pharmacy delivery and insurance settlement. "
            "Errors are application/problem+json; people-facing text is Simplified Chinese "
            "unless Accept-Language prefers English.\n\n"
            'Lists: every list answers one page, `{"items": [...], "next": ...}`, and takes '
            "`?cursor=&limit=`. `limit` is the page size (default 50, at most 200; readings: "
            "default 500, at most 5000). Omit `cursor` for the first page and pass the previous "
            "page's `next` for the following one; `next` is null on the last page. A cursor is "
            "opaque (it carries the sort key of the page's last item, so items are neither "
            "repeated nor skipped when new ones arrive); a malformed one answers 422 "
            "`invalid_cursor`. Nightscout's API keeps Nightscout's own shapes."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Its processes start on the first chart (and again after the lifespan closes them).
    app.state.chart_renderer = ChartRenderer(settings.chart_render_processes)
    # Inside the request context (request id, language), so its 413 carries them.
    app.add_middleware(
        BodySizeLimitMiddleware,
        default_limit=settings.request_body_max_bytes,
        route_limits=upload_limits(settings),
    )
    if development_by_default(settings):
        app.add_middleware(LocalOnlyDevelopmentMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    document_problem_responses(app)
    document_contract(app)
    include_routers(app)
    if settings.serves_fake_wechat:
        fake_wechat = create_fake_wechat_app(settings.wechat_appid, settings.wechat_secret)
        fake_wechat.include_router(
            fake_wechat_messages_router(settings.wechat_appid, settings.wechat_secret)
        )
        app.mount(FAKE_WECHAT_PATH, fake_wechat)
        app.mount(
            FAKE_SMS_PATH,
            create_fake_sms_app(
                settings.sms_secret_id, settings.sms_secret_key, settings.sms_sdk_app_id
            ),
        )
        if dev_merchant.in_use(settings):
            app.mount(FAKE_WECHATPAY_PATH, create_fake_wechatpay_app(settings))
    if settings.serves_fake_insurance_platform:
        # The fake learns persons, terms and drug classes it was not told from this service's
        # database, so the demo journey runs with it.
        directory = DatabaseDirectory(lambda: app.state.sessionmaker)
        app.mount(FAKE_PLATFORM_PATH, create_fake_insurance_platform_app(directory))
    return app
