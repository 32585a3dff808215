"""Chat endpoints: conversations, messages, read state, recall, sync and attachments.

Anything outside the caller's conversations answers 404. Routes that take a body check
participation first (a dependency), so a malformed request cannot tell ids apart either.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.authz.principal import CurrentPrincipal
from app.chat import attachments as chat_attachments
from app.chat import sending as chat_sending
from app.chat import service as chat_service
from app.chat.attachments import AttachmentKind
from app.chat.repository import Membership
from app.chat.runtime import ChatRuntime, chat_runtime
from app.chat.schemas import (
    MAX_CURSOR_CHARS,
    AttachmentOut,
    ChangesResponse,
    ConversationDetail,
    ConversationList,
    ConversationOut,
    ForwardRequest,
    MessageCreate,
    MessageOut,
    MessagePage,
    ReadState,
    ReadUpTo,
    SyncRequest,
    SyncResponse,
    UnreadCounts,
)
from app.db import DbSession
from app.kit.bounded import NonNegativeInt32, PositiveInt32
from app.kit.downloads import user_upload_response
from app.kit.pagination import PageQuery
from app.models import ChatMessage
from app.request_bodies import FILE_FORM, uploaded_file

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])
# Sorts after every real time in the conversation list's key (never-used conversations).
NEVER = datetime.min.replace(tzinfo=UTC)


def _runtime(request: Request) -> ChatRuntime:
    return chat_runtime(request.app.state)


async def _participant(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Membership:
    return await chat_service.membership(session, principal, conversation_id)


Runtime = Annotated[ChatRuntime, Depends(_runtime)]
Participant = Annotated[Membership, Depends(_participant)]


def _stored(stored: tuple[ChatMessage, bool], response: Response) -> MessageOut:
    """A new message (201), or 200 for a retry answered with the one stored the first time."""
    message, created = stored
    if not created:
        response.status_code = status.HTTP_200_OK
    return MessageOut.of(message)


def _by_activity(c: ConversationOut) -> tuple[bool, datetime, uuid.UUID]:
    """Most recently active first, never-used conversations last (the list's order)."""
    return (c.last_message_at is not None, c.last_message_at or NEVER, c.id)


@router.get("/conversations", response_model=ConversationList)
async def list_conversations(
    principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> ConversationList:
    """My conversations, most recent first, with unread counts and the total badge (over all
    my conversations, not just this page)."""
    every = await chat_service.list_conversations(session, principal)
    found = page.page_of_all(every.items, _by_activity, bool, datetime, uuid.UUID, descending=True)
    return ConversationList(items=found.items, next=found.next, total_unread=every.total_unread)


@router.get("/unread", response_model=UnreadCounts)
async def get_unread_counts(principal: CurrentPrincipal, session: DbSession) -> UnreadCounts:
    """Unread messages per conversation and the total badge (same on every device)."""
    return await chat_service.unread_counts(session, principal)


@router.get("/sync", response_model=ChangesResponse)
async def changes(
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    since: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_CHARS,
            description="The cursor of the last answer; absent the first time (everything)",
        ),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=500, description="Messages per page (all conversations)")
    ] = None,
) -> ChangesResponse:
    """Catch up after a reconnect, every conversation at once: the messages after one cursor
    (recalls among them), in one query however many conversations I have. Repeat with the
    returned cursor while `has_more`."""
    page_size = limit or request.app.state.settings.chat_sync_page_size
    return await chat_service.changes(session, principal, since, page_size)


@router.post("/sync", response_model=SyncResponse)
async def sync(body: SyncRequest, principal: CurrentPrincipal, session: DbSession) -> SyncResponse:
    """Catch up from per-conversation cursors: every message after each of them (GET /sync
    does the same with one cursor for all)."""
    return await chat_service.sync(session, principal, body.since, body.limit)


@router.put("/care-conversations/{care_relationship_id}", response_model=ConversationDetail)
async def open_care_conversation(
    care_relationship_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ConversationDetail:
    """The conversation of my care relationship (created on first use)."""
    return await chat_service.open_care_conversation(session, principal, care_relationship_id)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ConversationDetail:
    """One conversation with every participant's read-up-to (read receipts)."""
    return await chat_service.get_conversation(session, principal, conversation_id)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    after_seq: Annotated[
        NonNegativeInt32 | None,
        Query(description="Start after this seq (catching up) instead of at the newest"),
    ] = None,
) -> MessagePage:
    """History backwards from the newest message (`next` pages further back), or the messages
    after `after_seq` (`next` pages further on); each page ascending by seq."""
    return await chat_service.history(
        session, principal, conversation_id, after_seq=after_seq, page=page
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry: the message stored the first time"}},
)
async def send_message(
    member: Participant,
    body: MessageCreate,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: Runtime,
    response: Response,
) -> MessageOut:
    """Send a message; the same client_msg_id again returns the original (200)."""
    stored = await chat_sending.send_message(
        session, runtime, principal, member.conversation.id, body
    )
    return _stored(stored, response)


@router.post(
    "/conversations/{conversation_id}/forward",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry: the message stored the first time"}},
)
async def forward_message(
    member: Participant,
    body: ForwardRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: Runtime,
    response: Response,
) -> MessageOut:
    """Forward a message of another of my conversations about the same patient into this one
    (e.g. a patient's photo from our care conversation to their team's group)."""
    stored = await chat_sending.forward_message(
        session, runtime, principal, member.conversation.id, body
    )
    return _stored(stored, response)


@router.post("/conversations/{conversation_id}/read", response_model=ReadState)
async def mark_read(
    member: Participant,
    body: ReadUpTo,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: Runtime,
) -> ReadState:
    """I have read up to this seq (never moves back); the sender sees a read receipt."""
    return await chat_service.mark_read(
        session, runtime, principal, member.conversation.id, body.up_to_seq
    )


@router.post("/conversations/{conversation_id}/messages/{seq}/recall", response_model=MessageOut)
async def recall_message(
    conversation_id: uuid.UUID,
    seq: PositiveInt32,
    principal: CurrentPrincipal,
    session: DbSession,
    runtime: Runtime,
) -> MessageOut:
    """Recall my own message within the recall window; returns the "recalled" notice."""
    message, _ = await chat_sending.recall_message(
        session, runtime, principal, conversation_id, seq
    )
    return MessageOut.of(message)


@router.post(
    "/conversations/{conversation_id}/attachments",
    response_model=AttachmentOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string"}},
                # The mini-program's wx.uploadFile.
                **FILE_FORM,
            },
        }
    },
)
async def upload_attachment(
    member: Participant,
    kind: AttachmentKind,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    name: Annotated[
        str | None,
        Query(max_length=255, description="A file's name as the user chose it (kind=file)"),
    ] = None,
) -> AttachmentOut:
    """Upload an image (JPEG/PNG/WebP), voice clip (AMR/WAV), file (PDF, Word, Excel,
    PowerPoint, UTF-8 text) or video (MP4/MOV) as the raw body or as the `file` part of a
    multipart form (wx.uploadFile); send it afterwards as a message of the same kind with the
    returned id."""
    settings = request.app.state.settings
    await chat_attachments.admit_upload(session, settings, principal, member)
    limit = chat_attachments.size_limit(settings, kind)
    data = (await uploaded_file(request, limit)).data
    chat_attachments.within_limit(data, limit)
    attachment = await chat_attachments.store_upload(
        session, request.app.state.blobs, settings, principal, member, kind, data, name
    )
    return AttachmentOut.model_validate(attachment)


@router.get(
    "/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {
            "content": {
                "image/jpeg": {},
                "audio/amr": {},
                "application/pdf": {},
                "video/mp4": {},
            }
        }
    },
)
async def download_attachment(
    attachment_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, request: Request
) -> Response:
    """The file of a message in one of my conversations (a forwarded copy's too), as a
    download (Content-Disposition attachment with a file's name, nosniff)."""
    attachment, data = await chat_attachments.fetch(
        session, request.app.state.blobs, principal, attachment_id
    )
    return user_upload_response(data, attachment.content_type, attachment.file_name)
