"""People-facing texts of alert rules and codes."""

from app.i18n import register_messages

register_messages(
    {
        "alert_rule_urgent_low": {"zh": "紧急低血糖", "en": "Urgent low glucose"},
        "alert_rule_sustained_high": {"zh": "持续高血糖", "en": "Sustained high glucose"},
        "alert_rule_bp_grade3": {"zh": "3级高血压读数", "en": "Grade 3 blood pressure"},
        "alert_rule_signal_loss": {"zh": "血糖数据中断", "en": "Glucose data stopped"},
        "alert_rule_irregular_rhythm": {
            "zh": "心律不齐（疑似房颤）",
            "en": "Irregular rhythm (possible atrial fibrillation)",
        },
    }
)
