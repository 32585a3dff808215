"""Shapes of the subscription-grant endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# What `wx.requestSubscribeMessage` answers per template id: the person accepted or rejected,
# WeChat banned the template, or filtered it (another template with the same title).
SubscribeResult = Literal["accept", "reject", "ban", "filter"]
ConsentOutcome = Literal["counted", "cleared", "unchanged", "unknown_template"]


class SubscriptionResults(BaseModel):
    """The `res` of `wx.requestSubscribeMessage`, template id -> result (its errMsg left out)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"results": {"dev-tpl-chat": "accept"}}]}
    )

    # WeChat asks about at most 3 templates at once; a few more are admitted for old clients.
    results: dict[str, SubscribeResult] = Field(min_length=1, max_length=10)


class GrantOut(BaseModel):
    """One subscription template of the mini-program and how many messages I allowed."""

    template_id: str
    # The notification kinds sent through this template.
    kinds: list[str]
    remaining: int


class ConsentItem(BaseModel):
    """What became of one template's result."""

    template_id: str
    result: SubscribeResult
    outcome: ConsentOutcome


class ConsentReport(BaseModel):
    """Each result's outcome, and my grants afterwards."""

    items: list[ConsentItem]
    grants: list[GrantOut]
