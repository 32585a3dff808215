"""People-facing texts of the quality-return error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "quality_return_not_handed_over": {
            "zh": "订单尚未交付给患者（当前：{status}），不能申请质量退货",
            "en": "The order has not been handed over (now: {status}); no quality return yet",
        },
        "quality_return_window_closed": {
            "zh": "已超过交付后 {days} 天的质量退货期限",
            "en": "Quality returns close {days} days after hand-over",
        },
        "quality_return_exists": {
            "zh": "该订单已有进行中或已完成的质量退货",
            "en": "This order already has an open or completed quality return",
        },
        "quality_return_not_receiving": {
            "zh": "退货申请当前状态（{status}）不能登记退回药品",
            "en": "Boxes cannot be checked in while the return is {status}",
        },
        "quality_return_boxes_received": {
            "zh": "退回药品已登记入库，只能完成退货",
            "en": "Boxes have already come back; the return can only be completed",
        },
        "quality_return_boxes_missing": {
            "zh": "还有 {missing} 盒药品未退回，不能完成退货",
            "en": "{missing} boxes have not come back yet",
        },
        "code_not_in_order": {
            "zh": "该追溯码不属于本订单售出的药品",
            "en": "This traceability code was not sold on this order",
        },
    }
)
