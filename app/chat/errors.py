"""Chat's refusals with their HTTP statuses (codes translated in app/chat/messages.py)."""

from __future__ import annotations

from app.errors import AppError, TooManyRequests


class RateLimited(TooManyRequests):
    code = "chat_rate_limited"


class TooLarge(AppError):
    status = 413
    code = "chat_message_too_large"


class UnsupportedType(AppError):
    status = 415
    code = "chat_attachment_type_unsupported"


class Invalid(AppError):
    status = 422
    code = "validation_failed"
