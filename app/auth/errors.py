"""Sign-in refusals with their HTTP statuses (texts in app/i18n.py)."""

from __future__ import annotations

from app.errors import ServiceUnavailable, TooManyRequests


class SignInThrottled(TooManyRequests):
    """Too many attempts from one address or for one username in the window."""

    code = "sign_in_throttled"


class SignInLocked(SignInThrottled):
    """The username failed too often in a row and is locked for a while (back-off)."""

    code = "sign_in_locked"


class SignInBusy(ServiceUnavailable):
    """More password checks are waiting than the process takes on; retry shortly."""

    code = "sign_in_busy"

    def __init__(self) -> None:
        super().__init__(extra={"retry_after_seconds": 1})
