"""People-facing texts of the insured-identity error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "insured_identity_unverified": {
            "zh": "参保身份尚未经医保经办核实，暂不能结算",
            "en": "The insured identity has not been verified; nothing can be settled yet",
        },
        "insured_identity_mismatch": {
            "zh": "您申报的参保身份与核实结果不一致（{fields}），暂不能结算，请联系医保经办",
            "en": "The declared insured identity differs from the verified one ({fields}); "
            "nothing can be settled until the insurance office resolves it",
        },
        "identity_declarations_too_many": {
            "zh": "参保身份申报过于频繁，请 {retry_after} 秒后再试",
            "en": "Too many identity declarations; try again in {retry_after} seconds",
        },
        "national_id_held_by_other_patient": {
            "zh": "该证件号码已核实在另一位患者名下，请先核查",
            "en": "This certificate number is verified for another patient; look into it first",
        },
        "insured_person_not_found": {
            "zh": "医保平台未查到该参保人",
            "en": "The insurance platform knows no such insured person",
        },
        "personal_account_unavailable": {
            "zh": "仅已核实的职工医保（310）且有个人账户的参保人可使用个人账户支付",
            "en": "Only a verified employee-insured (310) person with a personal account may "
            "pay from it",
        },
        "identity_verification_concurrent": {
            "zh": "该患者的参保身份正在被他人核实，请刷新后重试",
            "en": "Someone else is verifying this patient's identity; reload and retry",
        },
        "insurance_platform_not_configured": {
            "zh": "本机构尚未接入医保信息平台，请由医保经办人员核实参保身份",
            "en": "The insurance platform is not configured; a bureau clerk verifies identity",
        },
        "identity_verified_by_platform": {
            "zh": "本机构已接入医保信息平台，参保身份须经平台人员信息查询核实",
            "en": "Insured identity is verified by the insurance platform's person query here",
        },
    }
)
