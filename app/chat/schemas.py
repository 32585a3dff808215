"""Chat request and response bodies (REST and websocket frames share them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.chat.messages import NOTICE_TEMPLATES
from app.i18n import MESSAGES
from app.kit.bounded import NonNegativeInt32, PositiveInt32
from app.kit.pagination import Page
from app.models import ChatMessage

CardType = Literal["readings_summary", "agp_chart", "prescription", "delivery", "bill"]
SendKind = Literal["text", "image", "voice", "file", "video", "location", "card"]
# Which part of a draft each kind carries.
_CONTENT_OF_KIND = {
    "text": "text",
    "image": "attachment",
    "voice": "attachment",
    "file": "attachment",
    "video": "attachment",
    "location": "location",
    "card": "card",
}
# A sync cursor takes 27 characters a conversation: room for a doctor's few thousand.
MAX_CURSOR_CHARS = 100_000
# How many characters of a quoted text the quote shows.
QUOTE_PREVIEW_CHARS = 50
ClientMsgId = Field(
    min_length=1,
    max_length=64,
    pattern=r"^[A-Za-z0-9_.:-]+$",
    description="Chosen by the client (e.g. a UUID); a retry with the same id returns the "
    "original message",
)


class CardIn(BaseModel):
    """A link to a product object the sender may share; readers open it through that object's
    own endpoint. `ref_id` is the patient (readings_summary, agp_chart), a prescription, a
    pharmacy order (delivery) or a settlement (bill) of the conversation's patient."""

    model_config = ConfigDict(extra="forbid")

    card_type: CardType
    ref_id: uuid.UUID
    title: str | None = Field(default=None, max_length=64)


class SharedLocationIn(BaseModel):
    """A place as WeChat's wx.chooseLocation returns it: GCJ-02 coordinates (the system every
    map in mainland China uses), the place's name and its address."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    latitude: float = Field(ge=-90, le=90, description="GCJ-02 latitude, degrees")
    longitude: float = Field(ge=-180, le=180, description="GCJ-02 longitude, degrees")
    name: str = Field(default="", max_length=64, description="The place, e.g. 阳泉市第一人民医院")
    address: str = Field(default="", max_length=128, description="Its street address")


class MessageCreate(BaseModel):
    """One message to send: text, an uploaded image, voice clip, file or video, a location or
    a card; optionally quoting (replying to) an earlier message of the conversation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_msg_id": "6f1c2e8a-4b7d-4e3a-9c05-d2a8f7b13e64",
                    "kind": "text",
                    "text": (
                        "王阿姨，这周空腹血糖控制得不错，二甲双胍继续按原剂量吃，"
                        "下周三来复查糖化血红蛋白。"
                    ),
                }
            ]
        },
    )

    client_msg_id: str = ClientMsgId
    kind: SendKind = "text"
    # Upper bound checked by the service (413 with the configured limit); this only stops
    # absurd frames before any work is done.
    text: str | None = Field(default=None, min_length=1, max_length=100_000)
    attachment_id: uuid.UUID | None = None
    card: CardIn | None = None
    location: SharedLocationIn | None = None
    reply_to: uuid.UUID | None = Field(
        default=None,
        description="Quote (reply to) this earlier message (its id) of the same conversation",
    )

    @model_validator(mode="after")
    def _content_matches_kind(self) -> MessageCreate:
        given = {
            "text": self.text is not None,
            "attachment": self.attachment_id is not None,
            "card": self.card is not None,
            "location": self.location is not None,
        }
        expected = _CONTENT_OF_KIND[self.kind]
        if not given[expected] or any(v for k, v in given.items() if k != expected):
            raise ValueError(f"a {self.kind} message carries exactly its {expected}")
        if self.text is not None and not self.text.strip():
            raise ValueError("text must not be blank")
        return self


class ReadUpTo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to_seq: NonNegativeInt32


class ForwardRequest(BaseModel):
    """Forward a message of another conversation of mine into this one."""

    model_config = ConfigDict(extra="forbid")

    client_msg_id: str = ClientMsgId
    from_conversation_id: uuid.UUID
    seq: PositiveInt32 = Field(description="The message's seq in `from_conversation_id`")


class ChangesRequest(BaseModel):
    """The websocket's chat.changes frame: GET /sync's parameters."""

    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(default=None, max_length=MAX_CURSOR_CHARS)
    limit: int | None = Field(default=None, ge=1, le=500)


class SyncRequest(BaseModel):
    """Per-conversation cursors: the last seq the client holds (absent = it holds none)."""

    model_config = ConfigDict(extra="forbid")

    since: dict[uuid.UUID, NonNegativeInt32] = Field(default_factory=dict)
    limit: int = Field(default=100, ge=1, le=500, description="Messages per conversation")


class NoticeText(BaseModel):
    code: str
    params: dict[str, Any]
    text: dict[Literal["zh", "en"], str]


class QuotedOut(BaseModel):
    """The message a reply quotes, as a short preview; a recalled one shows only that."""

    seq: int
    kind: str
    sender_account_id: uuid.UUID | None
    recalled: bool
    preview: str | None = Field(
        description="The start of a text, a file's name or a place's name; null for other "
        "kinds (the client shows [图片], [语音], ...) and once recalled"
    )

    @classmethod
    def of(cls, quoted: ChatMessage) -> QuotedOut:
        """The preview of a quoted message, never the content of a recalled one."""
        recalled = quoted.recalled_at is not None
        preview = None
        if not recalled:
            body = quoted.body
            found = body.get("text") or body.get("file_name") or body.get("name")
            preview = str(found)[:QUOTE_PREVIEW_CHARS] if found else None
        return cls(
            seq=quoted.seq,
            kind=quoted.kind,
            sender_account_id=quoted.sender_account_id,
            recalled=recalled,
            preview=preview,
        )


class MessageOut(BaseModel):
    """A message as participants see it; a recalled message has no body any more."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    kind: str
    sender_account_id: uuid.UUID | None
    client_msg_id: str | None = Field(
        description="The sender's client message id; null for what the server made (system "
        "notices, recall notices)"
    )
    created_at: datetime
    recalled: bool
    body: dict[str, Any] | None = Field(
        description="text: {text}; image/voice/file/video: {attachment_id, content_type, "
        "size_bytes, duration_ms, file_name}; location: {latitude, longitude, name, address} "
        "(GCJ-02); card: {card_type, ref_id, title}; recall: {recalled_seq}. A forwarded "
        "copy also has forwarded_from: {message_id, sender_account_id, sent_at}"
    )
    notice: NoticeText | None = Field(description="System notices and recalls, in zh and en")
    reply_to: QuotedOut | None = Field(
        default=None, description="The message this one quotes (replies to)"
    )

    @classmethod
    def of(cls, message: ChatMessage) -> MessageOut:
        """The participant view of a stored message."""
        body = message.body
        notice = None
        if "code" in body:
            notice = render_notice(body["code"], body.get("params", {}))
        visible: dict[str, Any] | None = None
        if message.recalled_at is None:
            visible = {k: v for k, v in body.items() if k not in ("code", "params")}
        return cls(
            id=message.id,
            conversation_id=message.conversation_id,
            seq=message.seq,
            kind=message.kind,
            sender_account_id=message.sender_account_id,
            client_msg_id=message.client_msg_id,
            created_at=message.created_at,
            recalled=message.recalled_at is not None,
            body=visible,
            notice=notice,
            reply_to=None if message.reply_to is None else QuotedOut.of(message.reply_to),
        )


def render_notice(code: str, params: dict[str, Any]) -> NoticeText:
    """A notice in both languages (pushed events reach readers of either)."""
    template = NOTICE_TEMPLATES.get(code) or MESSAGES[code]
    return NoticeText(
        code=code,
        params=params,
        text={"zh": template["zh"].format(**params), "en": template["en"].format(**params)},
    )


class ParticipantOut(BaseModel):
    account_id: uuid.UUID
    role: str
    display_name: str
    read_seq: int = Field(description="Read up to this seq: read receipts for the sender")


class Counterpart(BaseModel):
    """Whom a care conversation is with, as the caller sees it."""

    account_id: uuid.UUID
    role: str
    display_name: str = Field(description="The name the person shows in the app")
    real_name: str | None = Field(
        description="The patient's registered name, shown only to a doctor caring for them"
    )


class ConversationOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str | None
    counterpart: Counterpart | None = Field(
        default=None,
        description="The other party of a care conversation (the doctor for the patient, the "
        "patient for the doctor); null for team groups",
    )
    patient_id: uuid.UUID | None
    care_relationship_id: uuid.UUID | None
    last_seq: int
    read_seq: int
    unread: int
    last_message_at: datetime | None
    closed: bool
    last_message: MessageOut | None = None


class ConversationDetail(ConversationOut):
    participants: list[ParticipantOut]


class ConversationList(Page[ConversationOut]):
    """A page of my conversations, most recently active first (never-used ones last)."""

    total_unread: int = Field(description="The badge: unread messages over all conversations")


class UnreadCounts(BaseModel):
    total_unread: int
    conversations: dict[uuid.UUID, int]


class MessagePage(Page[MessageOut]):
    """A page of messages, ascending by seq; `next` continues the same way (further back when
    paging history, further on after `after_seq`)."""


class ReadState(BaseModel):
    conversation_id: uuid.UUID
    account_id: uuid.UUID
    read_seq: int
    unread: int
    total_unread: int


class SyncedConversation(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut] = Field(description="After the client's cursor, ascending")
    has_more: bool


class SyncResponse(BaseModel):
    conversations: list[SyncedConversation]
    total_unread: int


class ChangesResponse(BaseModel):
    """What changed in all my conversations since a cursor: new messages (recalls among them,
    each naming the seq it hid) and the state of every conversation they belong to."""

    messages: list[MessageOut] = Field(
        description="Ascending by conversation, then seq; within a conversation gapless"
    )
    conversations: list[ConversationOut] = Field(
        description="The conversations of these messages, with my unread counts"
    )
    cursor: str = Field(description="Pass as `since` next time (opaque)")
    has_more: bool = Field(description="More changes wait: call again with `cursor` at once")
    total_unread: int


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    kind: str
    content_type: str
    size_bytes: int
    duration_ms: int | None
    file_name: str | None = Field(description="A file's name (file attachments only)")
    created_at: datetime
