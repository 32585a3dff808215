"""People-facing texts of the payment error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "settlement_not_payable": {
            "zh": "该结算无需支付（已撤销或为撤销记录）",
            "en": "Nothing can be paid on this settlement (reversed, or a reversal)",
        },
        "payment_exceeds_due": {
            "zh": "收款金额超过应付个人负担 {due_fen} 分",
            "en": "The amount exceeds the personal share due ({due_fen} fen)",
        },
        "nothing_to_pay": {
            "zh": "个人负担部分已付清",
            "en": "The personal share is already paid",
        },
        "payment_collection_reused": {
            "zh": "该收款编号已用于另一笔收款",
            "en": "This collection id was already used for a different payment",
        },
        "payment_provider_unavailable": {
            "zh": "该支付方式暂未开通",
            "en": "This payment method is not available",
        },
        "payment_provider_failed": {
            "zh": "支付渠道下单失败，请稍后重试",
            "en": "The payment provider could not create the order; retry later",
        },
        "refund_not_found": {
            "zh": "未找到该退款",
            "en": "Refund not found",
        },
        "refund_not_by_hand": {
            "zh": "线上支付的退款由支付渠道原路退回，不能登记为现场退还",
            "en": "An online payment is refunded by its provider, not handed back in person",
        },
        "refund_not_failed": {
            "zh": "只有失败的退款可以重新发起",
            "en": "Only a failed refund can be retried",
        },
        "refund_transition_illegal": {
            "zh": "退款当前状态为 {status}，不能变为 {target}",
            "en": "A refund in state {status} cannot become {target}",
        },
        "payer_unknown": {
            "zh": "未找到患者的微信身份，无法发起微信支付",
            "en": "The patient has no WeChat identity for WeChat Pay",
        },
    }
)
