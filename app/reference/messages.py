"""People-facing texts of the reference-data error codes added with store creation and the
national designated-institution codes (the older ones live in app/i18n.py)."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "designated_code_format": {
            "zh": "定点医药机构代码应为12位：医疗机构H、药店P，加6位行政区划代码和5位顺序号",
            "en": "A designated code has 12 characters: H (institution) or P (pharmacy), "
            "the 6-digit area code and a 5-digit sequence number",
        },
        "designated_code_area_mismatch": {
            "zh": "定点医药机构代码中的行政区划代码与所在区县不符",
            "en": "The area code inside the designated code differs from the district",
        },
        "store_code_taken": {
            "zh": "该门店编码或定点药店代码已存在",
            "en": "A store with this code or designated-pharmacy code already exists",
        },
        "chain_not_found": {"zh": "连锁企业不存在", "en": "No such pharmacy chain"},
    }
)
