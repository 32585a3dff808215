"""People-facing texts of reading codes and per-item rejection reasons."""

from app.i18n import register_messages

register_messages(
    {
        "reading_batch_too_large": {
            "zh": "单次上传最多 {limit} 条读数，请分批上传",
            "en": "A batch holds at most {limit} readings; split the upload",
        },
        "reading_upload_concurrent": {
            "zh": "这批读数正由另一次上传同时保存，请稍后重试（已保存的会标为重复）",
            "en": "These readings were being saved by another upload at the same moment; "
            "retry shortly (those saved come back as duplicates)",
        },
        "reading_import_too_large": {
            "zh": "导入文件不能超过 {limit} 字节",
            "en": "The import file may be at most {limit} bytes",
        },
        "reading_import_too_many_rows": {
            "zh": "导入文件最多 {limit} 行读数，请分段导出",
            "en": "An import file may hold at most {limit} reading rows; export a shorter period",
        },
        "reading_import_too_many_devices": {
            "zh": "导入文件最多包含 {limit} 台设备",
            "en": "An import file may name at most {limit} devices",
        },
        "reading_import_unrecognised": {
            "zh": "无法识别的文件格式，请上传 Dexcom Clarity、LibreView 或硅基动感应用导出的文件",
            "en": "Unrecognised file; upload a Dexcom Clarity, LibreView or Sibionics app export",
        },
        # Per-item rejection reasons of an upload report.
        "malformed": {"zh": "读数格式不正确", "en": "The item is malformed"},
        "device_not_bound": {
            "zh": "设备未绑定到该患者",
            "en": "The device is not bound to this patient",
        },
        "kind_not_from_device": {
            "zh": "该设备不产生此类读数",
            "en": "This device does not produce this kind of reading",
        },
        "in_future": {"zh": "测量时间晚于当前时间", "en": "The measured time is in the future"},
        "too_old": {
            "zh": "测量时间早于可补传的期限",
            "en": "The measured time is older than the backfill window",
        },
        "wrong_unit": {
            "zh": "单位错误：应为 {expected}",
            "en": "Wrong unit: expected {expected}",
        },
        "offset_missing": {
            "zh": "测量时间缺少 UTC 时差（如 +08:00），无法确定是哪一时刻",
            "en": "The measured time has no UTC offset (e.g. +08:00), so the moment is unknown",
        },
        "too_dense": {
            "zh": "与同一设备的另一条读数相隔不足 {seconds} 秒，不合常理",
            "en": "Less than {seconds} s from another reading of the same device: implausible",
        },
        "out_of_range": {
            "zh": "数值超出设备量程或生理范围",
            "en": "The value is outside the device's range or physiologically impossible",
        },
        "sensor_error": {
            "zh": "传感器报告错误码，不是测量值",
            "en": "The sensor reported an error code, not a measurement",
        },
        "not_a_reading": {
            "zh": "该行不是血糖读数（如事件或备注）",
            "en": "The row is not a glucose reading (an event or a note)",
        },
    }
)
