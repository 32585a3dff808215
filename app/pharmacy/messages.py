"""People-facing texts of the pharmacy error codes (routing, orders, partner integration)."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "created_range_reversed": {
            "zh": "开始日期不能晚于结束日期",
            "en": "The first day falls after the last day",
        },
        "prescription_not_approved": {
            "zh": "处方尚未通过药师审核（当前：{status}）",
            "en": "The prescription has not been approved (now: {status})",
        },
        "address_missing": {
            "zh": "请先在个人资料中填写所在区县和收货地址",
            "en": "Fill in your district and delivery address first",
        },
        "district_not_covered": {
            "zh": "{district} 暂无合作药店配送服务",
            "en": "No partner pharmacy delivers to {district}",
        },
        "no_store_in_stock": {
            "zh": "覆盖 {district} 的药店暂时缺货",
            "en": "The pharmacies covering {district} are out of stock",
        },
        "store_not_available": {
            "zh": "所选药店不配送到您的区县或库存不足",
            "en": "The chosen store does not cover your district or lacks stock",
        },
        "out_of_stock": {
            "zh": "库存不足，请选择其他药店",
            "en": "Out of stock; choose another store",
        },
        "not_store_staff": {
            "zh": "仅门店员工可以执行此操作",
            "en": "Only a store's staff may do this",
        },
        "store_not_found": {"zh": "门店不存在", "en": "No such store"},
        "partner_signature_invalid": {
            "zh": "回调签名无效",
            "en": "The callback signature is invalid",
        },
        "partner_callback_stale": {
            "zh": "回调时间戳超出允许范围（疑似重放）",
            "en": "The callback timestamp is outside the window (replay?)",
        },
        "partner_nonce_reused": {
            "zh": "回调幂等键已用于其他内容",
            "en": "The callback's Idempotency-Key was used for a different body",
        },
        "partner_callback_malformed": {
            "zh": "回调内容格式不正确",
            "en": "The callback body is malformed",
        },
        "webhook_target_not_public": {
            "zh": "回调地址必须指向公网地址（不可为内网、本机或链路本地地址）",
            "en": "The webhook URL must point to a public address (not private, loopback or "
            "link-local)",
        },
        "webhook_target_unresolvable": {
            "zh": "回调地址的主机名无法解析",
            "en": "The webhook URL's host name does not resolve",
        },
    }
)
