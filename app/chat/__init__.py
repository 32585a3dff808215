"""Doctor-patient chat: conversations, messages, read state, recall, typing, attachments."""
