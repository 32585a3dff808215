"""The id of the request being served, for everything that names it (problem details, audit
rows, log lines). Set by the request middleware (app/observability.py); a module of its own at
the bottom of the imports, so that errors and the audit can read it without importing logging."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
