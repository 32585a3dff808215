# syntax=docker/dockerfile:1
# Multi-stage image: install pinned dependencies where a compiler is, run slim as a non-root user.
# Runs several uvicorn workers against PostgreSQL and Redis given by the environment:
#   docker build -t chronic-care .
#   docker run -p 8000:8000 -e APP_ENV=prod -e DATABASE_URL=postgresql+asyncpg://... \
#     -e REDIS_URL=redis://... -e JWT_SECRET=... -e FIELD_ENCRYPTION_KEYS=... \
#     -e BLIND_INDEX_KEY=... -e WECHAT_SECRET=... -e FAKE_WECHAT_ENABLED=false chronic-care

FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY app ./app
# Dependencies only (pinned); the service's own code is copied into the runtime stage as is.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && /opt/venv/bin/pip uninstall -y chronic-care

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_CONCURRENCY=4 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
# uvicorn refuses websocket frames over this unread (1009); keep it equal to WS_FRAME_MAX_BYTES.
ENV UVICORN_WS_MAX_SIZE=65536
RUN groupadd --system app && useradd --system --gid app --home-dir /srv app
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY --chown=app:app alembic.ini ./
COPY --chown=app:app migrations ./migrations
COPY --chown=app:app app ./app
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c \
    "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Migrations run once per deploy (`python -m app.cli migrate` as a release step); the web
# processes only serve. The outbox relay runs in every worker (claims use SKIP LOCKED), or set
# OUTBOX_RELAY_ENABLED=false and run `python -m app.outbox` as a separate worker.
CMD ["sh", "-c", "mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port 8000 --workers \"$WEB_CONCURRENCY\" --proxy-headers --forwarded-allow-ips='*' --no-access-log"]
