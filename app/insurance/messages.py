"""People-facing texts of the insurance settlement error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "benefit_rule_missing": {
            "zh": "该险种、病种和医院等级在当年没有生效的待遇规则",
            "en": "No benefit rule is in force for this insurance type, disease, level and year",
        },
        "benefit_rule_in_past": {
            "zh": "待遇规则只能从今天或以后生效，已结算的历史不可改写",
            "en": "A benefit rule takes effect from today at the earliest; settled history stays",
        },
        "benefit_rule_outside_year": {
            "zh": "生效日期必须在规则所属年度内",
            "en": "The effective date must fall within the rule's year",
        },
        "claim_reference_unknown": {
            "zh": "结算请求引用的患者、机构、病种或药品不存在",
            "en": "The claim refers to an unknown patient, institution, disease or drug",
        },
        "insurance_type_mismatch": {
            "zh": "结算请求的险种与患者参保险种不一致",
            "en": "The claim's insurance type differs from the patient's",
        },
        "message_id_invalid": {
            "zh": "报文编号无效（1-64位字母、数字、- 或 _）",
            "en": "Invalid message id (1-64 letters, digits, - or _)",
        },
        "message_id_reused": {
            "zh": "该报文编号已用于另一笔结算",
            "en": "This message id was already used for another request",
        },
        "order_already_settled": {
            "zh": "该订单已结算，请先撤销原结算",
            "en": "The order is already settled; reverse that settlement first",
        },
        "settlement_not_found": {"zh": "未找到该结算", "en": "No such settlement"},
        "settlement_already_reversed": {
            "zh": "该结算已撤销",
            "en": "The settlement has already been reversed",
        },
        "settlement_is_reversal": {
            "zh": "撤销记录本身不能再撤销",
            "en": "A reversal cannot itself be reversed",
        },
        "statement_month_open": {
            "zh": "该月尚未结束，不能生成月度结算单",
            "en": "The month has not ended yet; its statement cannot be generated",
        },
        "statement_transition_invalid": {
            "zh": "结算单当前状态为“{status}”，不能执行该操作",
            "en": "The statement is '{status}'; this step is not allowed",
        },
        "statement_already_paid": {
            "zh": "该结算单已登记拨付",
            "en": "A payment is already recorded for this statement",
        },
        "institution_not_found": {"zh": "未找到该定点医疗机构", "en": "No such institution"},
    }
)
