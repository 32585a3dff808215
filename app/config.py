"""Application settings: one pydantic-settings object, read from the environment and `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal

from limits import parse as parse_rate
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.kit.key_strength import fernet_key_problem, key_problem

# Development-only secrets. Settings refuses to start with any of them outside dev/test.
_DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMTI="  # base64 of 32 bytes, dev only
_DEV_BLIND_INDEX_KEY = "dev-only-blind-index-key"
_DEV_WECHAT_SECRET = "dev-wechat-secret"  # noqa: S105
# WeChat Pay APIv3 key (32 bytes) for dev/test only; the notification decryption key in prod.
_DEV_WECHATPAY_APIV3_KEY = "dev-only-wechatpay-apiv3-key-012"
_DEV_SMS_SECRET_KEY = "dev-only-sms-secret-key"  # noqa: S105


class WeChatTemplate(BaseModel):
    """A subscription-message template chosen in the mini-program's console for one kind of
    notification: its id, and which notification data item fills each template key."""

    template_id: str = Field(min_length=1, max_length=128)
    # Template key (e.g. "thing1", "time2": its type is the key without the digits) -> the
    # name of the notification's data item that fills it.
    fields: dict[str, str]


class SmsTemplate(BaseModel):
    """An approved SMS template for one kind of notification: its id and, in order, the
    notification data items that fill its {1}, {2}, ... parameters."""

    template_id: str = Field(min_length=1, max_length=32)
    params: list[str] = Field(default_factory=list)


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
    # Redis commands awaited inside requests (chat rate limit, presence, realtime publishing)
    # give up after these: a Redis that stops answering then slows a chat send by well under a
    # second instead of many (the message is still stored; realtime degrades).
    redis_timeout_seconds: float = 0.25
    redis_connect_timeout_seconds: float = 0.5
    # PostgreSQL connections per process, kept open; past them a request waits (see below).
    db_pool_size: int = 10
    # Connections opened beyond the pool under a burst and closed when handed back: each costs
    # PostgreSQL a new backend, so 0 unless a deployment measured that it gains.
    db_max_overflow: int = 0
    # How long a request waits for a pooled connection before 503 `database_busy` (PostgreSQL).
    db_pool_timeout_seconds: float = 30.0
    # DATABASE_URL reaches PostgreSQL through a transaction-mode pooler (PgBouncer): every
    # statement goes unprepared or under a name used once, since consecutive transactions of one
    # connection may run on different server sessions; what needs one session throughout (the
    # worker's job locks) uses DATABASE_DIRECT_URL, PostgreSQL itself.
    database_transaction_pooler: bool = False
    database_direct_url: str | None = None

    jwt_secret: str = _DEV_JWT_SECRET
    jwt_issuer: str = "chronic-care"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    # Fernet keys (url-safe base64, 32 bytes), newest first; older ones still decrypt (rotation).
    field_encryption_keys: str = _DEV_FIELD_KEY
    blind_index_key: str = _DEV_BLIND_INDEX_KEY

    # Where this service is reached on this machine. `python -m app.cli serve` sets it from
    # --host/--port, so outside prod the development fakes' addresses below (WeChat, SMS,
    # payment notifications), when not set, follow the port actually served.
    served_base_url: str = "http://127.0.0.1:8000"
    wechat_api_base: str = "http://127.0.0.1:8000/_dev/wechat"
    wechat_appid: str = "wx-demo-appid"
    wechat_secret: str = _DEV_WECHAT_SECRET
    wechat_timeout_seconds: float = 5.0
    # Serve the local fake WeChat under /_dev/wechat, and WeChat Pay under /_dev/wechatpay when
    # no WECHATPAY_MCHID is set (dev only; never in prod).
    fake_wechat_enabled: bool = True
    # Dev/test only (prod refuses it): the service's clock runs this many seconds ahead of the
    # system clock, e.g. to rehearse a month end. Every process of one service must agree.
    clock_offset_seconds: float = 0.0

    ws_auth_timeout_seconds: float = 5.0
    ws_heartbeat_seconds: float = 20.0
    ws_max_lifetime_seconds: float = 6 * 3600.0
    ws_send_queue_size: int = 256
    # Largest client frame after sign-in, and before it (the auth frame only carries a token);
    # a larger one closes the socket with 1009. `app.cli serve` and the Docker image also give
    # uvicorn the first as --ws-max-size, so bigger frames are refused before they are read.
    ws_frame_max_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_auth_frame_max_bytes: int = Field(default=4 * 1024, ge=512)
    # Deepest JSON nesting a client frame may have (chat frames need 3); deeper closes with 1008.
    ws_frame_max_depth: int = Field(default=8, ge=2, le=64)
    # Open sockets per user over all processes (counted in Redis when REDIS_URL is set, else
    # per process); one more is closed with 1008 `too_many_connections`.
    ws_max_sockets_per_user: int = Field(default=10, ge=1)

    outbox_relay_enabled: bool = True
    # The schedule of `app.worker` (signal loss, rollups, partitions, doctor presence lapses,
    # follow-up reminders, attachment expiry, sign-in housekeeping, money) in each web process;
    # production turns it off and runs `python -m app.worker` as its own process(es).
    background_jobs_enabled: bool = True
    outbox_poll_seconds: float = 1.0
    outbox_batch_size: int = 50
    outbox_lease_seconds: float = 60.0
    outbox_max_attempts: int = 12
    # Per request to a partner system; keep it well under outbox_lease_seconds.
    outbox_http_timeout_seconds: float = 10.0
    # "log" (development) or "wechat": mini-program subscription messages, with an SMS
    # fallback for the kinds that have an SMS template (app/notify).
    push_provider: str = "log"

    # --- Notifications (app/notify): WeChat subscription messages and SMS ---
    # Messages open the mini-program's developer, trial or formal (released) version.
    wechat_miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    wechat_message_lang: Literal["zh_CN", "en_US", "zh_HK", "zh_TW"] = "zh_CN"
    # Notification kind -> its subscription template. The ids below are the development
    # fake's; a deployment sets the ones its mini-program's console shows (WECHAT_TEMPLATES as
    # JSON). A kind without a template is not sent through WeChat.
    wechat_templates: dict[str, WeChatTemplate] = Field(
        default_factory=lambda: {
            "chat_new_message": WeChatTemplate(
                template_id="dev-tpl-chat",
                fields={"name1": "sender_name", "thing2": "summary", "time3": "sent_at"},
            ),
            "order_dispatched": WeChatTemplate(
                template_id="dev-tpl-order-dispatched",
                fields={"character_string1": "order_no", "time2": "eta", "thing3": "hint"},
            ),
            "delivery_failed": WeChatTemplate(
                template_id="dev-tpl-delivery-failed",
                fields={"character_string1": "order_no", "thing2": "reason"},
            ),
            "alert_raised": WeChatTemplate(
                template_id="dev-tpl-alert",
                fields={"thing1": "summary", "time2": "started_at"},
            ),
            "alert_acknowledged": WeChatTemplate(
                template_id="dev-tpl-alert-acknowledged",
                fields={"thing1": "summary", "name2": "doctor", "time3": "acknowledged_at"},
            ),
            "prescription_expiring": WeChatTemplate(
                template_id="dev-tpl-prescription-expiring",
                fields={"thing1": "drug", "date2": "expires_on"},
            ),
            "payment_due": WeChatTemplate(
                template_id="dev-tpl-payment-due",
                fields={"amount1": "amount_fen", "character_string2": "order_no"},
            ),
            "handover_code": WeChatTemplate(
                template_id="dev-tpl-handover-code",
                fields={"character_string1": "order_no", "thing2": "hint"},
            ),
        }
    )
    # The time after which a WeChat access token is fetched anew, before its own expiry.
    wechat_token_refresh_margin_seconds: int = Field(default=300, ge=0)
    # Tencent Cloud SMS (API 3.0, SendSms 2021-01-11), for the kinds that must reach the
    # person when they have no subscription grant left. The base is the development fake's;
    # a deployment sets https://sms.tencentcloudapi.com and its own credentials.
    sms_api_base: str = "http://127.0.0.1:8000/_dev/sms"
    sms_region: str = "ap-guangzhou"
    sms_secret_id: str = "dev-sms-secret-id"  # noqa: S105 (a key id, not the key)
    sms_secret_key: str = _DEV_SMS_SECRET_KEY
    sms_sdk_app_id: str = "1400000000"
    sms_sign_name: str = "阳泉慢病在线"
    # A prescription's last valid day: its patient is warned from this hour (city time) on.
    prescription_expiry_notice_hour: int = Field(default=9, ge=0, le=23)
    # Notification kind -> SMS template; only these kinds fall back to SMS.
    sms_templates: dict[str, SmsTemplate] = Field(
        default_factory=lambda: {
            "delivery_failed": SmsTemplate(template_id="100001", params=["order_no", "reason"]),
            "prescription_expiring": SmsTemplate(
                template_id="100002", params=["drug", "expires_on"]
            ),
            "alert_raised": SmsTemplate(template_id="100003", params=["summary"]),
        }
    )

    # Uploaded files: "local" keeps them under blob_dir; "s3" uses any S3-compatible service.
    blob_store: Literal["local", "s3"] = "local"
    blob_dir: str = "./var/blobs"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "chronic-care"
    s3_region: str = "cn-north-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    # Chat: message limits, recall window, typing timeout, per-user send rate.
    chat_max_text_chars: int = 2000
    chat_recall_window_seconds: float = 120.0
    chat_typing_timeout_seconds: float = 6.0
    chat_rate_limit_messages: int = 30
    chat_rate_limit_window_seconds: int = 10
    chat_image_max_bytes: int = 10 * 1024 * 1024
    chat_voice_max_bytes: int = 2 * 1024 * 1024
    chat_voice_max_seconds: float = 60.0
    # Files (PDF, Office, plain text) and videos (MP4/MOV, duration read from the header); at
    # most the unsent quota below, or no upload of the largest size could be sent.
    chat_file_max_bytes: int = 20 * 1024 * 1024
    chat_video_max_bytes: int = 20 * 1024 * 1024
    chat_video_max_seconds: float = 300.0
    chat_sync_page_size: int = 100
    # Attachments uploaded but not (yet) sent in a message, per user over all conversations:
    # at most this many and this many bytes; unsent ones expire (blob deleted) after the TTL,
    # by the worker's `chat-attachment-expiry` job.
    chat_attachment_unsent_max_count: int = Field(default=10, ge=1)
    chat_attachment_unsent_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    chat_attachment_unsent_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    chat_attachment_expiry_interval_seconds: float = Field(default=300.0, gt=0)
    # Idempotency keys (app/idempotency/keys.py) are forgotten after this many hours, by the
    # worker's `idempotency-keys` job; at least a day, so a phone's offline queue still replays.
    idempotency_key_retention_hours: int = Field(default=7 * 24, ge=24)

    # --- Enrollment, doctors, assignment and care (app/catalogue, app/enrollment,
    # app/doctor, app/assignment, app/care) ---
    # Medical-record attachments: JPEG, PNG or PDF (checked by content), each at most this big.
    enrollment_record_max_bytes: int = 10 * 1024 * 1024
    enrollment_records_per_application: int = 20
    # Validity of an approved entitlement when the reviewer does not say otherwise.
    entitlement_validity_days: int = 365
    # Doctor presence expires this long after the app's last report (the app re-reports every
    # ~30 s; the gateway closes a silent socket after two heartbeats, 40 s by default).
    presence_ttl_seconds: float = 90.0
    # The most patients waiting for one doctor; further requests go to another doctor.
    consultation_queue_limit: int = 30
    # Assumed length of a consultation until a doctor has MIN_SAMPLES measured ones.
    consultation_default_minutes: float = 12.0
    # Assignment score weights (each factor is 0..1 before weighting).
    assignment_weight_specialty: float = 3.0
    assignment_weight_continuity: float = 2.5
    assignment_weight_institution: float = 1.5
    assignment_weight_load: float = 2.0
    assignment_weight_presence: float = 1.0
    # The disease course (病程): seniority for a long course, room for a new diagnosis.
    assignment_weight_course: float = 1.0
    # Reminders are sent this long before a follow-up is due.
    follow_up_reminder_lead_hours: float = 24.0

    log_level: str = "INFO"
    log_json: bool = True
    # Largest request body (413 above it); routes taking files have their own limits, below.
    request_body_max_bytes: int = 1024 * 1024

    # --- Readings, clinical analytics and live alerts (docs/domain.md: CGM, blood pressure) ---
    # Glucose is stored in mg/dL; thresholds below are mg/dL, mmHg or minutes.
    reading_batch_max_items: int = 2000
    reading_clock_skew_seconds: int = 300
    reading_backfill_window_days: int = 90
    # Points older than this on arrival are marked backfilled (and raise no live alert).
    reading_backfill_after_seconds: int = 900
    reading_import_max_bytes: int = 20_000_000
    # An import is history: rows up to this many days old are kept (an upload keeps only
    # READING_BACKFILL_WINDOW_DAYS); a file with more reading rows or devices is refused.
    reading_import_history_days: int = 3650
    # Monthly `readings` partitions wholly older than this many months are detached into the
    # schema `reading_archive` (to be dumped and dropped by the operator); unset: all are kept.
    # It must reach past the oldest reading an upload or import may still bring.
    reading_retention_months: int | None = Field(default=None, ge=1, le=1200)
    reading_import_max_rows: int = 200_000
    reading_import_max_devices: int = 20
    # Plausible density (`too_dense` otherwise): readings of one device and kind at least this
    # fraction of a CGM's sample interval apart, or this many seconds for the other kinds.
    reading_cgm_min_spacing_ratio: float = 0.5
    reading_min_spacing_seconds: int = 30
    cgm_default_interval_seconds: int = 300
    # Devices bound at once per patient (imported history devices are counted apart), and of
    # one kind; wrong pairing codes one patient may give for one registered serial.
    device_max_per_patient: int = 8
    device_max_per_kind: int = 3
    device_max_imported_per_patient: int = 60
    device_pairing_max_failures: int = 5
    # Rendered chart images kept per process (least recently used beyond this many bytes).
    chart_cache_max_bytes: int = 32 * 1024 * 1024
    # Processes drawing chart images off the event loop (app/analytics/chart_renderer.py);
    # 0 draws them in a worker thread, stalling the event loop for each render's GIL time.
    chart_render_processes: int = Field(default=1, ge=0, le=32)
    # How often the background jobs refresh stale CGM day rollups (uploads make them stale;
    # the doctor's panel computes whatever is still stale itself, which costs its request).
    cgm_rollup_interval_seconds: float = 10.0
    # Blood pressure (see app/analytics/bp.py for the definitions and their sources).
    # Without a diary or wake flags, ambulatory readings are awake in [start, end) and asleep
    # in [start, end) local time (ESH 2023 fallback windows); the rest count for 24 h only.
    bp_fallback_awake_start_hour: int = 9
    bp_fallback_awake_end_hour: int = 21
    bp_fallback_asleep_start_hour: int = 1
    bp_fallback_asleep_end_hour: int = 6
    # ABPM thresholds (mean at or above is hypertensive), ESH 2023 / Chinese 2024.
    bp_24h_systolic: int = 130
    bp_24h_diastolic: int = 80
    bp_day_systolic: int = 135
    bp_day_diastolic: int = 85
    bp_night_systolic: int = 120
    bp_night_diastolic: int = 70
    # Home (HBPM) threshold and office hypertension (grade 1 starts here).
    bp_home_systolic: int = 135
    bp_home_diastolic: int = 85
    bp_office_systolic: int = 140
    bp_office_diastolic: int = 90
    # An ambulatory recording is valid with at least this share of valid readings and at
    # least this many awake / asleep readings after editing.
    bp_abpm_min_valid_percent: float = 70.0
    bp_abpm_min_day_readings: int = 20
    bp_abpm_min_night_readings: int = 7
    # Editing: readings outside these limits (inclusive bounds are kept) are artefacts,
    # excluded from every statistic but kept as stored and drawn on the chart.
    bp_edit_systolic_min: float = 50.0
    bp_edit_systolic_max: float = 240.0
    bp_edit_diastolic_min: float = 40.0
    bp_edit_diastolic_max: float = 140.0
    bp_edit_pulse_pressure_min: float = 10.0
    bp_edit_pulse_pressure_max: float = 150.0
    # Morning surge: readings this long after (and before) rising; a sleep-trough surge at or
    # above the last value is exaggerated (Kario 2003: top decile, 55 mmHg).
    bp_surge_window_minutes: int = 120
    bp_surge_exaggerated_systolic: float = 55.0
    # HBPM: home readings before this local hour are morning ones, the rest evening; the
    # protocol lasts this many days, the first discarded; enough with this many days counted.
    bp_home_evening_from_hour: int = 12
    bp_home_protocol_days: int = 7
    bp_home_min_days: int = 3
    # How readings uploaded without a `setting` (office / home / ambulatory) are read.
    bp_unlabelled_setting: Literal["office", "home", "ambulatory"] = "ambulatory"
    alert_urgent_low_mg_dl: float = 54.0
    alert_low_recovered_mg_dl: float = 70.0
    alert_sustained_high_mg_dl: float = 250.0
    alert_sustained_high_minutes: int = 120
    alert_bp_systolic: int = 180
    alert_bp_diastolic: int = 110
    alert_signal_loss_minutes: int = 60
    # A patient whose data stopped longer ago than this is no longer "losing signal".
    alert_signal_loss_horizon_hours: int = 24
    # --- Single-lead ECG strips from wearables ---
    # Upload size, strip length and sampling rate accepted (outside: 413 / 422).
    ecg_upload_max_bytes: int = 8_000_000
    ecg_min_seconds: float = 10.0
    ecg_max_seconds: float = 300.0
    ecg_min_rate_hz: float = 100.0
    ecg_max_rate_hz: float = 2000.0
    # RR irregularity suggesting atrial fibrillation: normalised RMSSD (RMSSD / mean RR) above
    # this, judged on at least this many RR intervals (Dash et al. 2009 use 0.1).
    ecg_irregular_nrmssd: float = 0.1
    ecg_irregular_min_intervals: int = 8
    # A strip recorded longer ago than this on arrival is history: it raises no live alert.
    ecg_live_alert_hours: int = 24

    # --- E-prescriptions, pharmacy routing and delivery (app/prescription, app/pharmacy,
    # app/pharmacy/delivery) ---
    # Online prescribing policy (days' supply normal / long prescription, validity in days).
    prescription_normal_max_days: int = 7
    prescription_long_max_days: int = 84
    prescription_max_valid_days: int = 3
    # Partner callbacks older or newer than this (by their signed timestamp) are replays.
    partner_signature_window_seconds: int = 300
    # Wrong hand-over codes before the store must issue a new one.
    handover_code_max_failures: int = 5
    cold_chain_min_celsius: float = 2.0
    cold_chain_max_celsius: float = 8.0
    # A temperature reading stamped later than now plus this is refused (a phone's clock may
    # run a little ahead; a reading from the future is not evidence of anything).
    cold_chain_clock_skew_seconds: int = 120
    # A quality return (药品质量问题) may be opened this many days after hand-over.
    quality_return_window_days: int = 30
    # ETA: straight-line distance x road factor at this speed (mountain counties slower).
    courier_speed_kmh: float = 30.0
    courier_speed_mountain_kmh: float = 20.0
    courier_road_factor: float = 1.4

    # --- Insurance settlement and payment (app/insurance, app/payment) ---
    # Public base URL the payment providers post their notifications to.
    payment_notify_base_url: str = "http://127.0.0.1:8000"
    # WeChat Pay v3 (the mini-program's appid is wechat_appid). A provider whose merchant id or
    # keys are unset is simply not offered; PEM texts come from the environment or a secret store.
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com"
    wechatpay_mchid: str | None = None
    wechatpay_apiv3_key: str = _DEV_WECHATPAY_APIV3_KEY
    wechatpay_merchant_serial: str | None = None
    wechatpay_merchant_private_key: str | None = None
    # Platform certificate serial -> public key or certificate PEM (JSON object in the env).
    wechatpay_platform_public_keys: dict[str, str] = Field(default_factory=dict)
    wechatpay_notification_max_skew_seconds: int = 300
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_app_id: str | None = None
    alipay_app_private_key: str | None = None
    alipay_public_key: str | None = None
    # Refunds: an online refund not confirmed this long after it was asked for is
    # queried from the provider (and again at this interval while it is pending); a cash or card
    # refund not handed back within the hours below is escalated to the store and the admins.
    payment_refund_query_after_seconds: float = Field(default=300.0, gt=0)
    payment_refund_hand_back_hours: float = Field(default=48.0, gt=0)
    # Benefit rules: from this many days before 1 January the bureau is told which rules have no
    # version for the coming year (they would be carried over unchanged).
    benefit_rule_warning_days: int = Field(default=31, ge=1, le=366)
    # A personal share still outstanding this long after hand-over (not paid at the door) is
    # reminded to the patient once; settlements older than the window are not looked at.
    payment_due_notice_after_minutes: float = Field(default=60.0, gt=0)
    payment_due_window_days: int = Field(default=7, ge=1)
    # How often the money jobs (refund follow-up, rule warning) run in each web process.
    payment_jobs_interval_seconds: float = Field(default=60.0, gt=0)

    # --- Hardening: sign-in throttle, slow clients, docs and metrics, headers ---
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn reads the same
    # variable): addresses or networks, comma-separated. The client address decides the
    # per-address sign-in throttle, so prod refuses "*" (anyone could then claim any address).
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Password sign-in: attempts per client address and per username (limits' notation, e.g.
    # "60/minute"; counted in Redis when REDIS_URL is set, else in the process).
    sign_in_rate_per_address: str = "60/minute"
    sign_in_rate_per_username: str = "10/minute"
    # After this many failures in a row a username is locked (429 with Retry-After), first for
    # the base time, doubling with each further failure up to the maximum. Stored in the
    # database, so every process agrees; failures older than the memory are forgotten.
    password_lockout_threshold: int = 5
    password_lockout_base_seconds: int = 60
    password_lockout_max_seconds: int = 3600
    password_failure_memory_seconds: int = 24 * 3600
    # argon2 checks run on this many threads per process; this many more may wait for one, and
    # further sign-ins are refused at once (503 with Retry-After) instead of queueing CPU work.
    password_hash_concurrency: int = 1
    password_hash_queue: int = 16
    # The hashing threads run this much "nicer" than the event loop (Linux; 0 = same priority).
    password_hash_niceness: int = 10
    # A refresh token presented again this soon after its rotation (two tabs, a retry after a
    # lost response) gets the same successor instead of ending the session as a reuse.
    refresh_token_reuse_grace_seconds: float = 10.0
    # Slow clients (served by `python -m app.cli serve`): the request line and headers must
    # arrive within the header timeout; a body gets the body timeout plus one second per
    # HTTP_BODY_MIN_BYTES_PER_SECOND bytes received (Apache mod_reqtimeout's rule). 408 after.
    http_header_timeout_seconds: float = 20.0
    http_body_timeout_seconds: float = 20.0
    http_body_min_bytes_per_second: int = 500
    # /docs, /redoc and /openapi.json: served unless false; unset means served outside prod only.
    api_docs_enabled: bool | None = None
    # /metrics outside dev/test needs `Authorization: Bearer <METRICS_TOKEN>` (not served in
    # prod without one); Prometheus sends it with `authorization: {credentials: ...}`.
    metrics_token: str | None = None
    # The domain gauges of /metrics (open alerts, orders in flight, the outbox backlog) are
    # counted in the database at most this often; scrapes in between get the last count.
    metrics_state_max_age_seconds: float = Field(default=15.0, ge=0)
    # Strict-Transport-Security max-age sent in prod (0 turns it off).
    hsts_max_age_seconds: int = 365 * 24 * 3600
    # Partner webhooks may target private, loopback and link-local addresses (dev and test
    # partners run locally). Prod always refuses them, at configuration and at each send.
    webhook_private_targets_allowed: bool = True
    # Insured identity: a patient may declare their identity this many times per
    # window (429 with Retry-After beyond), counted in the database so every process agrees.
    identity_declarations_per_window: int = Field(default=5, ge=1)
    identity_declaration_window_seconds: int = Field(default=24 * 3600, ge=1)

    # --- The national medical insurance information platform (app/insurance_platform) ---
    # Where the designated-institution interface takes its envelopes (one POST per message).
    # Unset: the platform is not configured and bureau clerks attest insured identity; set:
    # identity comes from the platform's person query (1101) and clerks no longer attest.
    insurance_platform_url: str | None = None
    # This institution as the platform knows it (定点医药机构编号, 12 characters; its name),
    # the area it treats in (就医地医保区划, Yangquan 140300) and the receiving system's code.
    insurance_platform_fixmedins_code: str = Field(
        default="H14030000001", min_length=12, max_length=12
    )
    insurance_platform_fixmedins_name: str = "阳泉市慢病互联网医院"
    insurance_platform_area: str = Field(default="140300", pattern=r"^\d{6}$")
    insurance_platform_recer_sys_code: str = Field(default="YQMB", max_length=10)
    insurance_platform_infver: str = Field(default="V1.0", max_length=6)
    # The operator the service signs in as (9001) and names in every envelope (opter_type 1:
    # 经办人), with the address and MAC the sign-in reports.
    insurance_platform_opter: str = Field(default="mb-service", max_length=30)
    insurance_platform_opter_name: str = Field(default="慢病服务", max_length=50)
    insurance_platform_ip: str = "127.0.0.1"
    insurance_platform_mac: str = "00-00-00-00-00-00"
    # Whole exchange of one message, connection to answer; beyond it the caller gets 504.
    insurance_platform_timeout_seconds: float = Field(default=15.0, gt=0)
    # A sign-in number is renewed each calendar day (Asia/Shanghai) and when older than this.
    insurance_platform_sign_in_max_age_hours: float = Field(default=12.0, gt=0)
    # Serve the development fake platform under /_dev/insurance-platform (never in prod); point
    # INSURANCE_PLATFORM_URL at it to use it.
    fake_insurance_platform_enabled: bool = False

    @field_validator("sign_in_rate_per_address", "sign_in_rate_per_username")
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        parse_rate(value)  # ValueError names what is wrong with it
        return value

    @model_validator(mode="after")
    def _local_fakes_follow_the_served_address(self) -> Settings:
        # The defaults name the development fakes this service mounts on itself; served on
        # another port, a sign-in would otherwise call a port nobody listens on (502).
        if self.env == Environment.prod:
            return self
        base = self.served_base_url.rstrip("/")
        defaults = {
            "wechat_api_base": f"{base}/_dev/wechat",
            "sms_api_base": f"{base}/_dev/sms",
            "payment_notify_base_url": base,
        }
        for name, url in defaults.items():
            if name not in self.model_fields_set:
                setattr(self, name, url)
        return self

    @model_validator(mode="after")
    def _retention_outlasts_what_may_still_arrive(self) -> Settings:
        # A detached month must receive nothing more: its readings would land in the default
        # partition, beside the archive. 28 days is the shortest month.
        oldest = max(self.reading_backfill_window_days, self.reading_import_history_days)
        if self.reading_retention_months is not None and self.reading_retention_months * 28 <= (
            oldest
        ):
            raise ValueError(
                f"READING_RETENTION_MONTHS must reach past the oldest reading still accepted "
                f"({oldest} days: READING_BACKFILL_WINDOW_DAYS, READING_IMPORT_HISTORY_DAYS)"
            )
        return self

    @model_validator(mode="after")
    def _pooler_needs_postgres_and_no_jobs_in_the_web(self) -> Settings:
        if not self.database_transaction_pooler:
            return self
        if self.is_sqlite:
            raise ValueError("DATABASE_TRANSACTION_POOLER needs a PostgreSQL DATABASE_URL")
        # The periodic jobs lock through a session of their own: behind a pooler they run in
        # `python -m app.worker` with DATABASE_DIRECT_URL, not in every web process.
        if self.background_jobs_enabled:
            raise ValueError(
                "DATABASE_TRANSACTION_POOLER needs BACKGROUND_JOBS_ENABLED=false "
                "(run python -m app.worker with DATABASE_DIRECT_URL instead)"
            )
        return self

    @model_validator(mode="after")
    def _platform_needs_postgres(self) -> Settings:
        # The platform's audit trail and sign-in are written in transactions of their own
        # while the caller's is open; SQLite's single pooled connection cannot give one.
        if self.insurance_platform_url and self.is_sqlite:
            raise ValueError("INSURANCE_PLATFORM_URL needs a PostgreSQL DATABASE_URL")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> Settings:
        if self.env == Environment.prod:
            dev_values = {
                "JWT_SECRET": (self.jwt_secret, _DEV_JWT_SECRET),
                "FIELD_ENCRYPTION_KEYS": (self.field_encryption_keys, _DEV_FIELD_KEY),
                "BLIND_INDEX_KEY": (self.blind_index_key, _DEV_BLIND_INDEX_KEY),
                "WECHAT_SECRET": (self.wechat_secret, _DEV_WECHAT_SECRET),
            }
            if self.push_provider == "wechat" and self.sms_templates:
                dev_values["SMS_SECRET_KEY"] = (self.sms_secret_key, _DEV_SMS_SECRET_KEY)
            # The APIv3 key matters only where WeChat Pay is set up (it decrypts notifications).
            if self.wechatpay_mchid:
                dev_values["WECHATPAY_APIV3_KEY"] = (
                    self.wechatpay_apiv3_key,
                    _DEV_WECHATPAY_APIV3_KEY,
                )
            bad = [name for name, (value, dev) in dev_values.items() if dev in value]
            if bad:
                raise ValueError(f"refusing to start in prod with development secrets: {bad}")
            if self.fake_wechat_enabled:
                raise ValueError("FAKE_WECHAT_ENABLED must be false in prod")
            if self.fake_insurance_platform_enabled:
                raise ValueError("FAKE_INSURANCE_PLATFORM_ENABLED must be false in prod")
            if self.clock_offset_seconds:
                raise ValueError("CLOCK_OFFSET_SECONDS must be 0 in prod")
            weak = self._weak_keys()
            if weak:
                raise ValueError(
                    "refusing to start in prod with weak keys ("
                    + "; ".join(weak)
                    + "): use e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                    " and `Fernet.generate_key()` for FIELD_ENCRYPTION_KEYS"
                )
            if "*" in self.forwarded_allow_ips.split(","):
                raise ValueError(
                    "FORWARDED_ALLOW_IPS must name the proxies in prod, not '*' "
                    "(anyone could claim any client address)"
                )
        return self

    def _weak_keys(self) -> list[str]:
        weak = []
        for name, value in (
            ("JWT_SECRET", self.jwt_secret),
            ("BLIND_INDEX_KEY", self.blind_index_key),
        ):
            problem = key_problem(value)
            if problem:
                weak.append(f"{name}: {problem}")
        keys = [k.strip() for k in self.field_encryption_keys.split(",") if k.strip()]
        if not keys:
            weak.append("FIELD_ENCRYPTION_KEYS: none given")
        for position, key in enumerate(keys, start=1):
            problem = fernet_key_problem(key)
            if problem:
                weak.append(f"FIELD_ENCRYPTION_KEYS key {position}: {problem}")
        if self.metrics_token is not None:
            problem = key_problem(self.metrics_token)
            if problem:
                weak.append(f"METRICS_TOKEN: {problem}")
        return weak

    @property
    def chat_attachment_max_bytes(self) -> dict[str, int]:
        """The most bytes a chat upload of each kind may have."""
        return {
            "image": self.chat_image_max_bytes,
            "voice": self.chat_voice_max_bytes,
            "file": self.chat_file_max_bytes,
            "video": self.chat_video_max_bytes,
        }

    @property
    def serves_api_docs(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (off in prod unless enabled)."""
        if self.api_docs_enabled is None:
            return self.env != Environment.prod
        return self.api_docs_enabled

    @property
    def webhook_targets_must_be_public(self) -> bool:
        """Whether partner webhooks must resolve to public addresses only (always in prod)."""
        return self.env == Environment.prod or not self.webhook_private_targets_allowed

    @property
    def serves_fake_wechat(self) -> bool:
        """Whether the local fakes (WeChat login, pay and messages; SMS) are served; never prod."""
        return self.fake_wechat_enabled and self.env != Environment.prod

    @property
    def serves_fake_insurance_platform(self) -> bool:
        """Whether the development fake insurance platform is served; never in prod."""
        return self.fake_insurance_platform_enabled and self.env != Environment.prod

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
