"""People-facing texts of the prescription error codes (and the state machine's)."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "illegal_transition": {
            "zh": "当前状态（{source}）不能变更为（{target}）",
            "en": "Cannot go from {source} to {target}",
        },
        "first_visit_not_online": {
            "zh": "线上仅限复诊开方，首诊请到医院就诊",
            "en": "Online prescribing is for follow-up visits only; a first visit is in person",
        },
        "validity_too_long": {
            "zh": "处方有效期最长 {max} 天",
            "en": "A prescription is valid for at most {max} days",
        },
        "days_supply_exceeds_normal": {
            "zh": "普通处方用药天数不得超过 {max} 天",
            "en": "A normal prescription supplies at most {max} days",
        },
        "days_supply_exceeds_long": {
            "zh": "长期处方用药天数不得超过 {max} 天",
            "en": "A long prescription supplies at most {max} days",
        },
        "long_prescription_not_stable": {
            "zh": "长期处方仅适用于病情稳定、已有同病种取药记录的患者",
            "en": "Long prescriptions are for stable patients already dispensed for this disease",
        },
        "supply_beyond_entitlement": {
            "zh": "用药天数超出门诊大额疾病待遇有效期（至 {until}）",
            "en": "The supply would last past the entitlement's end ({until})",
        },
        "controlled_drug_not_online": {
            "zh": "{drug} 属于麻醉/精神类管制药品，不能在线开具",
            "en": "{drug} is a controlled drug and cannot be prescribed online",
        },
        "drug_not_in_formulary": {
            "zh": "{drug} 不在该病种的线上用药目录内",
            "en": "{drug} is not in this disease's online formulary",
        },
        "dose_exceeds_maximum": {
            "zh": "{drug} 每日剂量超过上限（{max}{unit}）",
            "en": "The daily dose of {drug} exceeds the maximum ({max} {unit})",
        },
        "duplicate_therapy": {
            "zh": "{drug} 与正在使用的同类药物（{drug_class}）重复",
            "en": "{drug} duplicates a drug of the same class ({drug_class}) in use",
        },
        "disease_not_found": {"zh": "病种不存在", "en": "No such disease"},
        "drug_not_found": {"zh": "药品不存在", "en": "No such drug"},
        "consultation_mismatch": {
            "zh": "该问诊不属于此患者与医生",
            "en": "The consultation is not between this patient and doctor",
        },
        "prescription_expired": {
            "zh": "处方已过有效期，请联系医生重新开具",
            "en": "The prescription has expired; ask the doctor for a new one",
        },
        "renewal_requires_long_prescription": {
            "zh": "只有长期处方可以续方",
            "en": "Only a long prescription can be renewed",
        },
        "renewal_requires_dispensed": {
            "zh": "原处方取药后才能续方",
            "en": "A prescription can be renewed once it has been dispensed",
        },
        "prescription_tampered": {
            "zh": "处方内容与医生签名不符，已拒绝处理",
            "en": "The prescription no longer matches the doctor's signature; refused",
        },
        "pharmacist_not_found": {"zh": "药师账号不存在", "en": "No such pharmacist account"},
        "reviewer_institution_not_found": {"zh": "医疗机构不存在", "en": "No such institution"},
        "reviewer_is_store_staff": {
            "zh": "门店药师不能担任医院处方审核药师",
            "en": "A store pharmacist cannot review the hospital's prescriptions",
        },
    }
)
