"""People-facing texts of enrollment's error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "diagnosed_year_in_future": {
            "zh": "确诊年份不能晚于 {year} 年",
            "en": "The year of diagnosis cannot be after {year}",
        },
        "application_open": {
            "zh": "该病种已有待处理的申请，请勿重复申请",
            "en": "An application for this disease is already open",
        },
        "application_transition_illegal": {
            "zh": "申请当前状态为 {current}，不能{action}",
            "en": "The application is {current}; it cannot be {action}",
        },
        "application_needs_records": {
            "zh": "请先上传病历资料再提交申请",
            "en": "Attach medical records before submitting",
        },
        "application_records_full": {
            "zh": "每份申请最多上传 {limit} 份病历资料",
            "en": "An application holds at most {limit} records",
        },
        "rejection_needs_reason": {
            "zh": "不予通过时须填写原因",
            "en": "A rejection needs a reason",
        },
        "already_entitled": {
            "zh": "您已享有该病种待遇，有效期内无需重复申请",
            "en": "You are already entitled for this disease",
        },
        "institution_not_designated": {
            "zh": "该机构不是门诊大额疾病定点医疗机构",
            "en": "The institution is not a designated institution",
        },
        "record_type_refused": {
            "zh": "病历资料仅支持 JPEG、PNG 图片或 PDF 文件",
            "en": "Medical records must be JPEG or PNG images, or PDF files",
        },
        "record_too_large": {
            "zh": "文件过大，单个文件不能超过 {limit_mb} MB",
            "en": "The file is too large; the limit is {limit_mb} MB",
        },
        "record_empty": {"zh": "文件为空", "en": "The file is empty"},
        "reviewer_exists": {
            "zh": "该医生已是本机构的审核人",
            "en": "The doctor already reviews for this institution",
        },
        "doctor_not_found": {"zh": "医生不存在", "en": "No such doctor"},
        "not_entitled": {
            "zh": "您尚未获得线上服务病种的待遇资格，请先提交门诊大额疾病申请",
            "en": "You are not entitled to online care yet; apply for a catalogue disease first",
        },
        "entitlement_expired": {
            "zh": "门诊大额疾病待遇已过期，请重新申请",
            "en": "Your entitlement has expired; apply again",
        },
        "validity_out_of_range": {
            "zh": "有效期须在批准之日起 {max_days} 天内",
            "en": "The validity must end within {max_days} days of approval",
        },
    }
)
