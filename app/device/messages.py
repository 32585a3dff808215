"""People-facing texts of the device codes."""

from app.i18n import register_messages

register_messages(
    {
        "device_already_bound": {
            "zh": "该设备已绑定到其他账号，请先解绑",
            "en": "This device is bound to another account; unbind it first",
        },
        "device_not_cgm": {
            "zh": "只有动态血糖仪可以开始传感器周期",
            "en": "Only a continuous glucose monitor has sensor sessions",
        },
        "sensor_session_running": {
            "zh": "该设备已有正在使用的传感器，请先结束",
            "en": "A sensor is already running on this device; end it first",
        },
        "sensor_session_not_found": {
            "zh": "该设备没有正在使用的传感器",
            "en": "No sensor is running on this device",
        },
    }
)
