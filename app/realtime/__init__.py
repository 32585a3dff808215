"""The realtime gateway: one websocket endpoint, per-user channels, Redis or in-process fan-out."""
