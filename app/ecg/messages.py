"""People-facing texts of ECG strips: error details, rhythm names and the strip chart's texts."""

from app.i18n import register_messages

register_messages(
    {
        "ecg_file_unrecognised": {
            "zh": "无法识别的心电数据，请上传 FHIR Observation（SampledData）"
            "或 Apple Watch 心电图导出的 CSV",
            "en": "Unrecognised ECG; upload a FHIR Observation with SampledData or an Apple "
            "Watch ECG export (CSV)",
        },
        "ecg_time_invalid": {
            "zh": "记录时间缺失或无时区偏移",
            "en": "The recording time is missing or has no UTC offset",
        },
        "ecg_not_single_lead": {
            "zh": "只接受单导联心电图",
            "en": "Only single-lead ECG strips are accepted",
        },
        "ecg_unit_unsupported": {
            "zh": "不支持的电压单位：{unit}（可用 uV、mV）",
            "en": "Unsupported voltage unit: {unit} (uV or mV)",
        },
        "ecg_samples_invalid": {
            "zh": "心电采样数据不是有效数字",
            "en": "The ECG samples are not valid numbers",
        },
        "ecg_rate_out_of_range": {
            "zh": "采样率须在 {low}–{high} Hz 之间",
            "en": "The sampling rate must be {low}-{high} Hz",
        },
        "ecg_duration_out_of_range": {
            "zh": "心电图时长须在 {low}–{high} 秒之间",
            "en": "A strip must last {low}-{high} seconds",
        },
        "ecg_recorded_in_future": {
            "zh": "记录时间晚于当前时间",
            "en": "The recording time is in the future",
        },
        "ecg_device_required": {
            "zh": "请指定记录该心电图的设备（device_id）",
            "en": "Name the device that recorded the strip (device_id)",
        },
        "ecg_device_not_ecg": {
            "zh": "该设备不是心电设备",
            "en": "That device is not an ECG device",
        },
        "ecg_strip_conflict": {
            "zh": "该设备在此时间已有一条不同的心电图",
            "en": "This device already has a different strip recorded at that time",
        },
        "ecg_upload_too_large": {
            "zh": "心电图文件不能超过 {limit} 字节",
            "en": "An ECG upload may be at most {limit} bytes",
        },
        "ecg_rhythm_sinus": {"zh": "窦性心律", "en": "Sinus rhythm"},
        "ecg_rhythm_af": {"zh": "心房颤动", "en": "Atrial fibrillation"},
        "ecg_rhythm_low_hr": {"zh": "心率过低", "en": "Low heart rate"},
        "ecg_rhythm_high_hr": {"zh": "心率过高", "en": "High heart rate"},
        "ecg_rhythm_inconclusive": {"zh": "无法判断", "en": "Inconclusive"},
        "ecg_rhythm_poor_recording": {"zh": "记录质量差", "en": "Poor recording"},
        "ecg_rhythm_other": {"zh": "其他", "en": "Other"},
        "ecg_chart_heading": {
            "zh": "{name}  单导联心电图  {time}  导联 {lead}",
            "en": "{name}  Single-lead ECG  {time}  Lead {lead}",
        },
        "ecg_chart_facts": {
            "zh": "心率 {rate} 次/分  设备判读：{rhythm}  RR 不规则：{irregular}  "
            "25 mm/s  10 mm/mV",
            "en": "Heart rate {rate} bpm  Device: {rhythm}  Irregular RR: {irregular}  "
            "25 mm/s  10 mm/mV",
        },
        "ecg_chart_yes": {"zh": "是", "en": "yes"},
        "ecg_chart_no": {"zh": "否", "en": "no"},
    }
)
