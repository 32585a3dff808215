"""People-facing texts of the catalogue's error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "catalogue_change_in_past": {
            "zh": "目录变更只能从明天或以后生效，历史版本不可改写",
            "en": "A catalogue change takes effect from tomorrow at the earliest; history is kept",
        },
        "catalogue_edition_date_taken": {
            "zh": "该生效日期已有目录版本",
            "en": "A catalogue edition already takes effect on this date",
        },
        "catalogue_disease_unknown": {
            "zh": "病种编码不存在：{disease}",
            "en": "Unknown disease code: {disease}",
        },
        "catalogue_disease_repeated": {
            "zh": "同一病种在目录版本中出现多次",
            "en": "A disease is listed twice in the edition",
        },
        "catalogue_category_repeated": {
            "zh": "同一病种大类在目录中出现多次",
            "en": "A category is listed twice in the catalogue",
        },
        "catalogue_category_unknown": {
            "zh": "病种大类不存在：{category}",
            "en": "Unknown catalogue category: {category}",
        },
        "catalogue_limits_incomplete": {
            "zh": "病种 {disease} 缺少险种年度限额",
            "en": "Disease {disease} needs an annual limit for every insurance type",
        },
        "catalogue_not_in_force": {
            "zh": "该日期尚无生效的病种目录",
            "en": "No catalogue edition is in force on that date",
        },
        "disease_not_in_catalogue": {
            "zh": "该病种不在现行门诊大额疾病目录中",
            "en": "The disease is not in the catalogue in force",
        },
    }
)
