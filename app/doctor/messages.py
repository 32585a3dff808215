"""People-facing texts of the doctor package's error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "working_hours_overlap": {
            "zh": "同一天的出诊时段不能重叠",
            "en": "Working hours on the same day must not overlap",
        },
        "presence_status_invalid": {
            "zh": "在线状态只能是 online、busy 或 offline",
            "en": "Presence must be online, busy or offline",
        },
        "capacity_below_load": {
            "zh": "接诊上限不能低于当前在管患者数 {active}",
            "en": "The capacity cannot be below the {active} patients in care",
        },
    }
)
