"""People-facing texts of the delivery error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "scanning_not_open": {
            "zh": "订单当前状态（{status}）不能扫码拣货",
            "en": "Boxes cannot be scanned while the order is {status}",
        },
        "traceability_code_used": {
            "zh": "该追溯码对应的药品已售出，不能重复销售",
            "en": "This traceability code was already sold",
        },
        "drug_not_in_order": {"zh": "该药品不在订单中", "en": "This drug is not in the order"},
        "too_many_boxes": {"zh": "扫码数量超过订单数量", "en": "More boxes than ordered"},
        "picking_incomplete": {
            "zh": "还有药品未扫追溯码，不能完成拣货",
            "en": "Not every box has been scanned yet",
        },
        "seal_required": {
            "zh": "冷链药品派送必须登记封签号",
            "en": "A cold-chain parcel needs its tamper-seal id",
        },
        "courier_not_of_store": {
            "zh": "该配送员不属于本门店",
            "en": "The courier does not work for this store",
        },
        "push_order_dispatched_hint": {
            "zh": "送达时请向配送员出示交付码",
            "en": "Show the courier your hand-over code",
        },
        "push_pickup_ready_hint": {
            "zh": "药品已备好，请凭取药码到店领取",
            "en": "Your medicine is ready: collect it with your code",
        },
        "push_delivery_failed_reason": {
            "zh": "配送未成功，药房将与您联系",
            "en": "The delivery failed; the pharmacy will contact you",
        },
        "handover_code_invalid": {
            "zh": "取件码不正确",
            "en": "The hand-over code is wrong",
        },
        "handover_code_locked": {
            "zh": "取件码错误次数过多，请门店重新生成",
            "en": "Too many wrong codes; the store must issue a new one",
        },
        "handover_not_pending": {
            "zh": "订单当前不在待交付状态",
            "en": "The order is not waiting for hand-over",
        },
        "seal_mismatch": {
            "zh": "封签号与出库登记不符，包裹可能被拆封",
            "en": "The seal does not match the one dispatched; the parcel may be opened",
        },
        "cold_chain_log_missing": {
            "zh": "冷链包裹缺少温度记录",
            "en": "The cold-chain parcel has no temperature log",
        },
        "cold_chain_excursion": {
            "zh": "冷链温度超出 2-8℃，不能完成交付",
            "en": "The cold chain left 2-8 C; the parcel cannot be completed",
        },
        "order_not_in_transit": {
            "zh": "订单当前状态（{status}）不在配送途中",
            "en": "The order is not on its way (now: {status})",
        },
        "not_cold_chain": {"zh": "该订单不含冷链药品", "en": "This order has no cold-chain drugs"},
        "measured_in_future": {
            "zh": "温度记录时间晚于当前时间，未记录",
            "en": "The reading is stamped in the future; it was not recorded",
        },
        "measured_after_handover": {
            "zh": "温度记录时间晚于交付时间，药品已交患者，未记录",
            "en": "The reading was taken after hand-over; it was not recorded",
        },
    }
)
