"""Text people read: Simplified Chinese by default, English when Accept-Language prefers it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

Language = Literal["zh", "en"]
_current_language: ContextVar[Language] = ContextVar("language", default="zh")


def negotiate(accept_language: str | None) -> Language:
    """Pick zh or en from an Accept-Language header (q-values honoured; zh when unsure)."""
    if not accept_language:
        return "zh"
    best: tuple[float, Language] = (0.0, "zh")
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("zh", "en") and quality > best[0]:
            best = (quality, "zh" if primary == "zh" else "en")
    return best[1]


def set_language(language: Language) -> None:
    """Set the language of the current request."""
    _current_language.set(language)


def current_language() -> Language:
    """The language of the current request (zh outside a request)."""
    return _current_language.get()


def translate(key: str, **params: object) -> str:
    """The message `key` in the current language, formatted with `params`."""
    return translate_to(current_language(), key, **params)


def translate_to(language: Language, key: str, **params: object) -> str:
    """The message `key` in `language`: for text read by someone other than the caller (a
    notification to the patient, sent in the mini-program's language)."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry[language].format(**params)


def register_messages(messages: dict[str, dict[Language, str]]) -> None:
    """Add a domain's messages to the catalogue (each domain keeps its own in messages.py)."""
    clashes = set(messages) & set(MESSAGES)
    if clashes:
        raise ValueError(f"message codes defined twice: {sorted(clashes)}")
    MESSAGES.update(messages)


# Shared codes: code -> {zh, en}. Codes are stable; texts may be reworded. Domain packages
# register theirs with register_messages() from their own messages.py.
MESSAGES: dict[str, dict[Language, str]] = {
    "bad_request": {"zh": "请求无法处理", "en": "The request cannot be processed"},
    "conflict": {"zh": "操作与当前状态冲突", "en": "The request conflicts with the current state"},
    "bad_gateway": {"zh": "上游服务异常，请稍后重试", "en": "An upstream service failed"},
    "validation_failed": {"zh": "请求数据格式不正确", "en": "The request is malformed"},
    "upload_file_missing": {
        "zh": "上传内容中没有文件（表单字段 file）",
        "en": "The upload has no file (form field `file`)",
    },
    "invalid_cursor": {
        "zh": "分页游标无效，请从第一页重新获取",
        "en": "The page cursor is invalid; start again from the first page",
    },
    "not_found": {"zh": "未找到该资源", "en": "The resource was not found"},
    "route_not_found": {"zh": "请求的接口不存在", "en": "No such endpoint"},
    "method_not_allowed": {"zh": "该接口不支持此请求方法", "en": "Method not allowed"},
    "internal_error": {
        "zh": "服务器内部错误，请稍后重试",
        "en": "Internal server error, please retry later",
    },
    "not_authenticated": {"zh": "请先登录", "en": "Sign-in required"},
    "token_invalid": {"zh": "登录凭证无效或已过期", "en": "The token is invalid or expired"},
    "session_revoked": {
        "zh": "登录已失效，请重新登录",
        "en": "The session has ended, sign in again",
    },
    "forbidden_role": {"zh": "当前账号无权执行此操作", "en": "Your role may not do this"},
    "invalid_credentials": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "account_disabled": {"zh": "账号已停用", "en": "The account is disabled"},
    "wechat_code_invalid": {
        "zh": "微信登录凭证无效或已使用，请重新登录",
        "en": "The WeChat login code is invalid or already used",
    },
    "wechat_unavailable": {
        "zh": "微信服务暂时不可用，请稍后重试",
        "en": "WeChat is unavailable, please retry later",
    },
    "refresh_token_invalid": {
        "zh": "刷新凭证无效，请重新登录",
        "en": "The refresh token is invalid, sign in again",
    },
    "sign_in_throttled": {
        "zh": "登录尝试过于频繁，请 {retry_after} 秒后再试",
        "en": "Too many sign-in attempts; try again in {retry_after} s",
    },
    "sign_in_locked": {
        "zh": "密码错误次数过多，账号已暂时锁定，请 {retry_after} 秒后再试",
        "en": "Too many wrong passwords; sign-in is locked, try again in {retry_after} s",
    },
    "sign_in_busy": {
        "zh": "登录请求过多，请稍后重试",
        "en": "Too many sign-ins at once, please retry shortly",
    },
    "request_timeout": {
        "zh": "请求发送超时，连接已关闭",
        "en": "The request was not sent in time; the connection was closed",
    },
    "refresh_token_reused": {
        "zh": "检测到刷新凭证被重复使用，已注销该登录，请重新登录",
        "en": "A refresh token was reused; the session was revoked, sign in again",
    },
    "district_not_found": {"zh": "行政区划代码不存在", "en": "No such district code"},
    "institution_code_taken": {
        "zh": "该机构编码已存在",
        "en": "An institution with this code already exists",
    },
    "drug_code_taken": {
        "zh": "该医保药品编码已存在",
        "en": "A drug with this national code already exists",
    },
    "conflict_duplicate": {"zh": "记录已存在", "en": "The record already exists"},
    "payload_too_large": {"zh": "请求内容过大", "en": "The request body is too large"},
    "development_server_local_only": {
        "zh": "开发模式的服务只接受本机访问；对外提供服务请设置 APP_ENV=prod",
        "en": "A development server answers this machine only; set APP_ENV=prod to serve others",
    },
    "value_not_storable": {
        "zh": "请求数据包含无法保存的内容（如空字符或超出范围的值）",
        "en": "The request holds a value that cannot be stored (e.g. a NUL character)",
    },
    "malformed_body": {
        "zh": "请求内容无法解析（格式错误或嵌套过深）",
        "en": "The request body cannot be parsed (malformed or nested too deeply)",
    },
    "unsupported_media_type": {
        "zh": "不支持的内容类型，请使用 application/json",
        "en": "Unsupported content type, use application/json",
    },
    "database_unreachable": {
        "zh": "数据库暂时无法连接",
        "en": "The database is unreachable",
    },
    "database_busy": {
        "zh": "服务繁忙，数据库连接已全部占用，请稍后重试",
        "en": "The service is busy (all database connections in use), please retry shortly",
    },
    "schema_not_at_head": {
        "zh": "数据库结构版本与程序不一致，请先执行迁移",
        "en": "The database schema is not at the code's migration head; run the migrations",
    },
    "too_many_requests": {
        "zh": "请求过于频繁，请 {retry_after} 秒后再试",
        "en": "Too many requests; try again in {retry_after} s",
    },
    "service_unavailable": {
        "zh": "服务暂时不可用，请稍后重试",
        "en": "The service is temporarily unavailable",
    },
    "concurrent_update": {
        "zh": "另一个请求同时修改了同一记录，本次未生效，请刷新后再试",
        "en": "Another request changed the same record at the same moment; nothing was done, "
        "reload and retry",
    },
    "idempotency_key_reused": {
        "zh": "该 Idempotency-Key 已用于另一个请求（路径或内容不同），请为新请求使用新的键",
        "en": "This Idempotency-Key was used for another request (another path or body); use "
        "a new key for a new request",
    },
}
