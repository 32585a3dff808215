"""Chat's people-facing texts: error details and system notices, in Chinese and English."""

from __future__ import annotations

from app.i18n import Language, register_messages

# System notice codes a domain may post with `post_system_notice`, with their parameters.
NOTICE_TEMPLATES: dict[str, dict[Language, str]] = {
    "chat_notice_doctor_assigned": {
        "zh": "{doctor_name}医生已接诊，您可以在这里与医生沟通",
        "en": "Dr {doctor_name} is now caring for you; you can talk to them here",
    },
    "chat_notice_care_ended": {
        "zh": "本次诊疗关系已结束，会话仅供查看",
        "en": "This care relationship has ended; the conversation is read-only",
    },
    "chat_notice_prescription_approved": {
        "zh": "处方已通过药师审核，请选择取药方式",
        "en": "Your prescription was approved by the pharmacist; choose pickup or delivery",
    },
    "chat_notice_prescription_rejected": {
        "zh": "处方未通过药师审核：{reason}",
        "en": "The pharmacist rejected the prescription: {reason}",
    },
    "chat_notice_delivery_dispatched": {
        "zh": "药品已发出，预计 {eta} 送达",
        "en": "Your medicine is on its way, expected {eta}",
    },
    "chat_notice_member_joined": {
        "zh": "{name}加入了会话",
        "en": "{name} joined the conversation",
    },
    "chat_notice_recalled": {"zh": "{name}撤回了一条消息", "en": "{name} recalled a message"},
}

register_messages(
    {
        **NOTICE_TEMPLATES,
        "chat_message_too_large": {
            "zh": "消息过长，最多 {limit} 个字符",
            "en": "The message is too long (at most {limit} characters)",
        },
        "chat_attachment_too_large": {
            "zh": "文件过大，最大 {limit_mb} MB",
            "en": "The file is too large (at most {limit_mb} MB)",
        },
        "chat_voice_too_long": {
            "zh": "语音过长，最长 {limit} 秒",
            "en": "The voice message is too long (at most {limit} seconds)",
        },
        "chat_video_too_long": {
            "zh": "视频过长，最长 {limit} 秒",
            "en": "The video is too long (at most {limit} seconds)",
        },
        "chat_attachment_type_unsupported": {
            "zh": "不支持的文件类型：图片请用 JPEG/PNG/WebP，语音请用 AMR/WAV，"
            "文件请用 PDF、Word、Excel、PowerPoint 或文本，视频请用 MP4/MOV",
            "en": "Unsupported file type: images JPEG/PNG/WebP, voice AMR/WAV, files PDF, "
            "Word, Excel, PowerPoint or plain text, videos MP4/MOV",
        },
        "chat_quote_not_found": {
            "zh": "引用的消息不存在或不在本会话中",
            "en": "The quoted message is not in this conversation",
        },
        "chat_forward_recalled": {
            "zh": "该消息已被撤回，无法转发",
            "en": "This message was recalled and cannot be forwarded",
        },
        "chat_forward_kind_not_allowed": {
            "zh": "该类消息不能转发",
            "en": "Messages of this kind cannot be forwarded",
        },
        "chat_forward_outside_care": {
            "zh": "只能转发到同一位患者的会话中",
            "en": "Messages can only be forwarded to a conversation about the same patient",
        },
        "chat_attachment_quota_exceeded": {
            "zh": "未发送的附件过多（最多 {max_count} 个、共 {max_mb} MB），请先发送已上传的附件；"
            "未发送的附件 {hours} 小时后自动清除",
            "en": "Too many unsent attachments (at most {max_count}, {max_mb} MB in all); send "
            "them first - unsent attachments are removed after {hours} hours",
        },
        "chat_card_not_found": {
            "zh": "卡片引用的内容不存在或无权分享",
            "en": "The card refers to nothing you may share here",
        },
        "chat_attachment_not_found": {
            "zh": "附件不存在或不属于本会话",
            "en": "No such attachment in this conversation",
        },
        "chat_rate_limited": {
            "zh": "发送过于频繁，请 {retry_after} 秒后再试",
            "en": "Too many messages; try again in {retry_after} s",
        },
        "chat_conversation_closed": {
            "zh": "诊疗关系已结束，会话仅供查看",
            "en": "The care relationship has ended; the conversation is read-only",
        },
        "chat_client_msg_id_taken": {
            "zh": "该消息编号已被其他发送者使用",
            "en": "This client message id is used by another sender",
        },
        "chat_recall_not_own": {
            "zh": "只能撤回自己发送的消息",
            "en": "You can only recall your own messages",
        },
        "chat_recall_window_passed": {
            "zh": "消息发送超过 {minutes} 分钟，无法撤回",
            "en": "Messages can only be recalled within {minutes} minutes",
        },
        "chat_recall_not_allowed": {
            "zh": "该消息不能撤回",
            "en": "This message cannot be recalled",
        },
        "chat_notice_unknown": {
            "zh": "未知的系统通知类型",
            "en": "Unknown system notice code",
        },
        "chat_push_new_message": {
            "zh": "您有一条新消息",
            "en": "You have a new message",
        },
    }
)
