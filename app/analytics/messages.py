"""People-facing texts of the chart images (Chinese by default, English by Accept-Language)."""

from app.i18n import register_messages

register_messages(
    {
        "chart_patient": {"zh": "患者", "en": "Patient"},
        "chart_renderer_unavailable": {
            "zh": "图表暂时无法生成，请稍后重试",
            "en": "The chart cannot be drawn right now; try again shortly",
        },
        # The AGP report.
        "chart_agp_heading": {
            "zh": "{name}  ·  {start} 至 {end}（{days} 天）",
            "en": "{name}  ·  {start} to {end} ({days} days)",
        },
        "chart_tir_title": {"zh": "葡萄糖目标范围内时间 (TIR)", "en": "Time in ranges (TIR)"},
        "chart_band_very_low": {"zh": "极低 <3.0", "en": "Very low <3.0"},
        "chart_band_low": {"zh": "低 3.0-3.8", "en": "Low 3.0-3.8"},
        "chart_band_in_range": {"zh": "目标 3.9-10.0", "en": "Target 3.9-10.0"},
        "chart_band_high": {"zh": "高 10.1-13.9", "en": "High 10.1-13.9"},
        "chart_band_very_high": {"zh": "极高 >13.9", "en": "Very high >13.9"},
        "chart_mean_glucose": {
            "zh": "平均葡萄糖  {value} mmol/L",
            "en": "Mean glucose  {value} mmol/L",
        },
        "chart_gmi": {"zh": "血糖管理指标 GMI  {value}", "en": "Glucose management GMI  {value}"},
        "chart_cv": {"zh": "变异系数 CV  {value}", "en": "Coefficient of variation  {value}"},
        "chart_sd": {"zh": "标准差 SD  {value} mmol/L", "en": "Standard deviation  {value} mmol/L"},
        "chart_active": {"zh": "CGM 佩戴时间  {value}", "en": "CGM active time  {value}"},
        "chart_days_with_data": {
            "zh": "数据天数  {days} / {period_days}",
            "en": "Days with data  {days} / {period_days}",
        },
        "chart_sufficient": {"zh": "数据充足", "en": "Enough data"},
        "chart_insufficient": {
            "zh": "数据不足（<70% 或 <14 天）",
            "en": "Not enough data (<70% or <14 days)",
        },
        "chart_agp_title": {"zh": "动态葡萄糖图谱 (AGP)", "en": "Ambulatory glucose profile (AGP)"},
        "chart_agp_median": {"zh": "中位数 50%", "en": "Median 50%"},
        "chart_glucose_axis": {"zh": "葡萄糖 (mmol/L)", "en": "Glucose (mmol/L)"},
        "chart_time_of_day_axis": {
            "zh": "一天中的时间（患者当地时间）",
            "en": "Time of day (patient's local time)",
        },
        # The blood-pressure trend.
        "chart_bp_heading": {
            "zh": "血压趋势  {name}  {start} 至 {end}",
            "en": "Blood pressure trend  {name}  {start} to {end}",
        },
        "chart_bp_facts": {
            "zh": "动态血压 24小时 {all_day} mmHg  ·  清醒 {day}  ·  睡眠 {night}  ·  "
            "夜间下降率 {dipping} {pattern}  ·  诊室分级 {grade}  ·  剔除 {excluded} 次",
            "en": "ABPM 24-hour {all_day} mmHg  ·  awake {day}  ·  asleep {night}  ·  "
            "night dip {dipping} {pattern}  ·  office grade {grade}  ·  {excluded} excluded",
        },
        "sleep_period_conflict": {
            "zh": "该入睡时间已记录了不同的起床时间或来源",
            "en": "Another rise time or source is recorded for this bed time",
        },
        "sleep_period_overlaps": {
            "zh": "该睡眠时段与已记录的睡眠时段重叠",
            "en": "This sleep period overlaps one already recorded",
        },
        "chart_excluded": {"zh": "剔除的读数（伪差）", "en": "Excluded reading (artefact)"},
        "chart_systolic": {"zh": "收缩压", "en": "Systolic"},
        "chart_diastolic": {"zh": "舒张压", "en": "Diastolic"},
        "chart_daily_systolic": {"zh": "日均收缩压", "en": "Daily mean systolic"},
        "chart_daily_diastolic": {"zh": "日均舒张压", "en": "Daily mean diastolic"},
        "chart_bp_axis": {"zh": "血压 (mmHg)", "en": "Blood pressure (mmHg)"},
        "chart_pattern_dipper": {"zh": "勺型", "en": "dipper"},
        "chart_pattern_extreme_dipper": {"zh": "超勺型", "en": "extreme dipper"},
        "chart_pattern_non_dipper": {"zh": "非勺型", "en": "non-dipper"},
        "chart_pattern_reverse": {"zh": "反勺型", "en": "reverse dipper"},
        "chart_grade_normal": {"zh": "正常", "en": "normal"},
        "chart_grade_high_normal": {"zh": "正常高值", "en": "high-normal"},
        "chart_grade_grade1": {"zh": "1级高血压", "en": "grade 1 hypertension"},
        "chart_grade_grade2": {"zh": "2级高血压", "en": "grade 2 hypertension"},
        "chart_grade_grade3": {"zh": "3级高血压", "en": "grade 3 hypertension"},
    }
)
