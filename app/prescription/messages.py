"""People-facing texts of the prescription error codes (and the state machine's)."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "reviewer_at_other_institution": {
            "zh": "该药师已是其他机构的处方审核药师；调动请使用人员调动功能",
            "en": "This pharmacist already reviews another institution's prescriptions; "
            "move them explicitly (staff move)",
        },
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
        "signing_key_missing": {
            "zh": "您还没有可用的签名密钥：请在医生端生成并登记，由管理员核对指纹后激活",
            "en": "You have no active signing key: register one from the doctor app and have "
            "an admin activate it",
        },
        "signing_key_pending": {
            "zh": "该签名密钥尚未由管理员激活，不能签名",
            "en": "This signing key has not been activated by an admin yet",
        },
        "signing_key_revoked": {
            "zh": "该签名密钥已吊销，不能再签名",
            "en": "This signing key has been revoked and signs nothing more",
        },
        "signing_key_not_active": {
            "zh": "该签名密钥不是您当前有效的签名密钥，请重新获取待签内容",
            "en": "This is not your active signing key; fetch a new signing payload",
        },
        "signing_payload_expired": {
            "zh": "待签内容已过期，请重新获取后签名",
            "en": "The signing payload has expired; fetch a new one",
        },
        "signed_content_mismatch": {
            "zh": "签名内容与当前处方不一致，请重新获取待签内容",
            "en": "The signed content is not this prescription as it stands; fetch a new payload",
        },
        "signature_invalid": {
            "zh": "签名无法用您的签名密钥验证",
            "en": "The signature does not verify with your signing key",
        },
        "signing_key_invalid": {
            "zh": "公钥无效（不是有效的 Ed25519 公钥）",
            "en": "The public key is not a valid Ed25519 public key",
        },
        "signing_key_proof_invalid": {
            "zh": "登记声明的签名无效：无法证明设备持有该密钥",
            "en": "The registration proof does not verify: the device must sign it with the key",
        },
        "signing_key_pending_limit": {
            "zh": "待激活的签名密钥最多 {max} 个，请先撤销不用的密钥",
            "en": "At most {max} signing keys may wait for activation; revoke unused ones first",
        },
        "signing_key_exists": {
            "zh": "该公钥已登记过",
            "en": "This public key is already registered",
        },
        "signing_key_fingerprint_mismatch": {
            "zh": "指纹与该密钥不符，请与医生核对医生端显示的指纹",
            "en": "The fingerprint does not match this key; check it with the doctor's app",
        },
        "pharmacist_not_found": {"zh": "药师账号不存在", "en": "No such pharmacist account"},
        "reviewer_institution_not_found": {"zh": "医疗机构不存在", "en": "No such institution"},
        "reviewer_is_store_staff": {
            "zh": "门店药师不能担任医院处方审核药师",
            "en": "A store pharmacist cannot review the hospital's prescriptions",
        },
    }
)
