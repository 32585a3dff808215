"""People-facing texts of the assignment package's error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "no_doctor_available": {
            "zh": "暂时没有可接诊的医生，请稍后再试",
            "en": "No doctor can take you right now; please try again later",
        },
        "no_current_doctor": {
            "zh": "您还没有主管医生，请先开通线上服务",
            "en": "You have no receiving doctor yet; start online care first",
        },
        "doctor_changed_meanwhile": {
            "zh": "您的主管医生刚刚已更换，请查看后再试",
            "en": "Your receiving doctor has just been changed; check and try again",
        },
        "not_primary_doctor": {
            "zh": "只有患者的主管医生可以转给其他医生",
            "en": "Only the patient's receiving doctor can transfer them",
        },
        "doctor_not_suitable": {
            "zh": "该医生不诊治该患者的病种或已满员",
            "en": "That doctor does not treat the patient's diseases or has no room",
        },
        "consultation_open": {
            "zh": "您已有进行中的问诊请求",
            "en": "You already have an open consultation request",
        },
        "consultation_transition_illegal": {
            "zh": "问诊当前状态为 {current}，不能{action}",
            "en": "The consultation is {current}; it cannot be {action}",
        },
    }
)
