# syntax=docker/dockerfile:1
# Multi-stage image: install pinned dependencies where a compiler is, run slim as a non-root user.
# Runs several uvicorn workers against PostgreSQL and Redis given by the environment, as prod
# (the image refuses to start with development or weak keys; APP_ENV=dev must be asked for):
#   docker build -t chronic-care .
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql+asyncpg://... \
#     -e REDIS_URL=redis://... -e JWT_SECRET=... -e FIELD_ENCRYPTION_KEYS=... \
#     -e BLIND_INDEX_KEY=... -e WECHAT_SECRET=... -e FORWARDED_ALLOW_IPS=<balancer> chronic-care

FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies only (pinned), from the two files that name them: without app/ the project
# builds as an empty distribution (uninstalled again), so this layer is rebuilt only when
# pyproject.toml or constraints.txt change, never for a code change. The service's own code is
# copied into the runtime stage as is.
COPY pyproject.toml constraints.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && /opt/venv/bin/pip uninstall -y chronic-care

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    APP_ENV=prod \
    FAKE_WECHAT_ENABLED=false \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_CONCURRENCY=4 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
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
# OUTBOX_RELAY_ENABLED=false and run `python -m app.outbox` as a separate worker. Periodic jobs
# run in the web process when BACKGROUND_JOBS_ENABLED; in production set it false and run the
# same image as `python -m app.worker` (one schedule table, jobs locked per job).
# `app.cli serve` adds the slow-client timeouts (HTTP_*_TIMEOUT_SECONDS) and believes
# X-Forwarded-For only from FORWARDED_ALLOW_IPS (default loopback: set it to the balancer's
# addresses, or every client shares the balancer's address in the sign-in throttle).
CMD ["sh", "-c", "mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec python -m app.cli serve --host 0.0.0.0 --port 8000 --workers \"$WEB_CONCURRENCY\""]
