"""Application settings: one pydantic-settings object, read from the environment and `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets. Settings refuses to start with any of them outside dev/test.
_DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMTI="  # base64 of 32 bytes, dev only
_DEV_BLIND_INDEX_KEY = "dev-only-blind-index-key"
_DEV_WECHAT_SECRET = "dev-wechat-secret"  # noqa: S105


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Environment = Field(default=Environment.dev, alias="APP_ENV")
    database_url: str = "sqlite+aiosqlite:///./var/chronic-care.db"
    redis_url: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10

    jwt_secret: str = _DEV_JWT_SECRET
    jwt_issuer: str = "chronic-care"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    # Fernet keys (url-safe base64, 32 bytes), newest first; older ones still decrypt (rotation).
    field_encryption_keys: str = _DEV_FIELD_KEY
    blind_index_key: str = _DEV_BLIND_INDEX_KEY

    wechat_api_base: str = "http://127.0.0.1:8000/_dev/wechat"
    wechat_appid: str = "wx-demo-appid"
    wechat_secret: str = _DEV_WECHAT_SECRET
    wechat_timeout_seconds: float = 5.0
    # Serve the local fake WeChat under /_dev/wechat (dev only; never in prod).
    fake_wechat_enabled: bool = True

    ws_auth_timeout_seconds: float = 5.0
    ws_heartbeat_seconds: float = 20.0
    ws_max_lifetime_seconds: float = 6 * 3600.0
    ws_send_queue_size: int = 256

    outbox_relay_enabled: bool = True
    outbox_poll_seconds: float = 1.0
    outbox_batch_size: int = 50
    outbox_lease_seconds: float = 60.0
    outbox_max_attempts: int = 12
    # Per request to a partner system; keep it well under outbox_lease_seconds.
    outbox_http_timeout_seconds: float = 10.0
    push_provider: str = "log"

    # Uploaded files: "local" keeps them under blob_dir; "s3" uses any S3-compatible service.
    blob_store: Literal["local", "s3"] = "local"
    blob_dir: str = "./var/blobs"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "chronic-care"
    s3_region: str = "cn-north-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> Settings:
        if self.env == Environment.prod:
            dev_values = {
                "JWT_SECRET": (self.jwt_secret, _DEV_JWT_SECRET),
                "FIELD_ENCRYPTION_KEYS": (self.field_encryption_keys, _DEV_FIELD_KEY),
                "BLIND_INDEX_KEY": (self.blind_index_key, _DEV_BLIND_INDEX_KEY),
                "WECHAT_SECRET": (self.wechat_secret, _DEV_WECHAT_SECRET),
            }
            bad = [name for name, (value, dev) in dev_values.items() if dev in value]
            if bad:
                raise ValueError(f"refusing to start in prod with development secrets: {bad}")
            if self.fake_wechat_enabled:
                raise ValueError("FAKE_WECHAT_ENABLED must be false in prod")
            if len(self.jwt_secret) < 32:
                raise ValueError("JWT_SECRET must be at least 32 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the environment)."""
    return Settings()
