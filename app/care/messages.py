"""People-facing texts of the care package's error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "already_has_doctor": {
            "zh": "该患者已有主管医生",
            "en": "The patient already has a receiving doctor",
        },
        "doctor_at_capacity": {
            "zh": "该医生在管患者已满，暂不能接收新患者",
            "en": "The doctor's patient list is full",
        },
        "relationship_already_ended": {
            "zh": "该照护关系已结束",
            "en": "The care relationship has already ended",
        },
        "team_name_taken": {
            "zh": "本机构已有同名团队",
            "en": "The institution already has a team of that name",
        },
        "team_member_exists": {
            "zh": "该医生已是团队成员",
            "en": "The doctor is already a member of the team",
        },
        "team_needs_family_doctor": {
            "zh": "家庭医生团队须有且仅有一名家庭医生",
            "en": "A family-doctor team has exactly one family doctor",
        },
        "team_member_other_institution": {
            "zh": "团队成员须属于团队所在机构",
            "en": "Team members must belong to the team's institution",
        },
        "team_patient_exists": {
            "zh": "该患者已在团队中",
            "en": "The patient is already in the team",
        },
        "patient_not_in_care": {
            "zh": "该患者不在您的照护范围内",
            "en": "The patient is not in your care",
        },
        "follow_up_transition_illegal": {
            "zh": "随访当前状态为 {current}，不能{action}",
            "en": "The follow-up is {current}; it cannot be {action}",
        },
        "plan_already_ended": {"zh": "随访计划已结束", "en": "The follow-up plan has ended"},
        "referral_transition_illegal": {
            "zh": "转诊当前状态为 {current}，不能{action}",
            "en": "The referral is {current}; it cannot be {action}",
        },
        "referral_direction_mismatch": {
            "zh": "上转须转往更高级别医院，下转须转往基层或更低级别机构",
            "en": "Up-referrals go to a higher-level hospital, down-referrals to a lower level",
        },
        "referral_open": {
            "zh": "该患者已有进行中的转诊",
            "en": "The patient already has an open referral",
        },
    }
)
