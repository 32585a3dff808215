"""Every error code the code raises has a Chinese and an English text."""

from __future__ import annotations

import re
from pathlib import Path

import app.main
from app.errors import AppError
from app.i18n import MESSAGES


def _subclasses(cls: type) -> list[type]:
    return [s for c in cls.__subclasses__() for s in (c, *_subclasses(c))]


ERROR_CALL = re.compile(
    r"\b(?:AppError|NotFound|Unauthorized|Forbidden|Conflict|BadGateway|ServiceUnavailable|"
    r"[A-Z]\w*Error)\(\s*\"([a-z][a-z0-9_]+)\""
)


def test_every_raised_code_is_translated() -> None:
    root = Path(app.main.__file__).parent
    raised = {
        code
        for path in root.rglob("*.py")
        for code in ERROR_CALL.findall(path.read_text(encoding="utf-8"))
    }
    defaults = {cls.code for cls in (AppError, *_subclasses(AppError))}
    missing = sorted(code for code in raised | defaults if code not in MESSAGES)
    assert missing == []
