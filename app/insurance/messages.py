"""People-facing texts of the insurance settlement error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "quote_platform_presettled": {
            "zh": "医保信息平台预结算：统筹基金支付 {fund} 元，个人账户 {account} 元，"
            "现金 {cash} 元；以交付时的医保结算为准",
            "en": "Insurance platform pre-settlement: fund {fund} yuan, personal account "
            "{account} yuan, cash {cash} yuan; the settlement at hand-over is final",
        },
        "quote_platform_unavailable": {
            "zh": "医保信息平台暂时无法预结算，所示金额为本系统按医保政策测算的估算金额，"
            "以交付时的医保结算为准",
            "en": "The insurance platform could not pre-settle just now: the amounts shown are "
            "this service's estimate under the benefit rules; the settlement at hand-over is "
            "final",
        },
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
            "zh": "结算请求的险种与核实的参保险种不一致",
            "en": "The claim's insurance type differs from the verified insured identity's",
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
        "statement_payable_negative": {
            "zh": "结算单应付金额为负（{payable_fen} 分），"
            "请登记医疗机构的退回款或结转至下期结算单",
            "en": "The payable is negative ({payable_fen} fen): record the institution's "
            "repayment, or carry it into a later statement",
        },
        "statement_payable_not_negative": {
            "zh": "结算单应付金额为 {payable_fen} 分，不是负数，没有需要追回的款项",
            "en": "The payable is {payable_fen} fen, not negative: there is nothing to recover",
        },
        "flag_on_reversal": {
            "zh": "撤销记录不能标记存疑，请标记原结算",
            "en": "A reversal cannot be flagged; flag the settlement it reverses",
        },
        "settlement_not_flagged": {
            "zh": "该结算没有存疑标记，无需审核",
            "en": "The settlement has no flags to review",
        },
        "flag_review_decided": {
            "zh": "该结算的存疑标记已审核，结论为“{decision}”",
            "en": "The settlement's flags were already decided: {decision}",
        },
        "ledger_transaction_not_found": {
            "zh": "未找到该记账事务",
            "en": "No such ledger transaction",
        },
        "ledger_correction_not_allowed": {
            "zh": "“{kind}”类记账不能冲正；结算错误请撤销结算",
            "en": "'{kind}' entries cannot be corrected; reverse a wrong settlement instead",
        },
        "ledger_correction_of_correction": {
            "zh": "冲正记录本身不能再冲正",
            "en": "A correction cannot itself be corrected",
        },
        "ledger_transaction_already_corrected": {
            "zh": "该记账事务已冲正",
            "en": "This ledger transaction has already been corrected",
        },
    }
)
