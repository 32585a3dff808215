"""Readiness texts: which part of the process is down (database codes are shared, app/i18n.py)."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "redis_unreachable": {
            "zh": "Redis 暂时无法连接：实时推送与限流不可用",
            "en": "Redis is unreachable: realtime delivery and shared rate limits are down",
        },
        "realtime_not_listening": {
            "zh": "实时消息通道尚未就绪",
            "en": "The realtime listener is not subscribed to Redis yet",
        },
        "outbox_relay_stopped": {
            "zh": "消息投递任务未运行",
            "en": "The outbox relay is not running",
        },
        "background_jobs_stopped": {
            "zh": "后台定时任务未运行",
            "en": "A periodic background job is not running",
        },
    }
)
