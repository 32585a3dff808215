"""People-facing texts of the device codes."""

from app.i18n import register_messages

register_messages(
    {
        "device_already_bound": {
            "zh": "该设备已由持有者用配对码绑定到其他账号",
            "en": "This device's holder bound it to another account with its pairing code",
        },
        "device_limit_reached": {
            "zh": "已绑定 {limit} 台设备，请先解绑不再使用的设备",
            "en": "{limit} devices are bound already; unbind one you no longer use",
        },
        "device_kind_limit_reached": {
            "zh": "同类设备最多绑定 {limit} 台，请先解绑不再使用的设备",
            "en": "At most {limit} devices of this kind may be bound; unbind one first",
        },
        "device_pairing_code_required": {
            "zh": "该设备需要配对码：请输入设备包装内或设备应用显示的配对码",
            "en": "This device needs its pairing code (printed in its box or shown by its app)",
        },
        "device_pairing_code_wrong": {
            "zh": "配对码不正确，还可尝试 {remaining} 次",
            "en": "Wrong pairing code; {remaining} tries left",
        },
        "device_pairing_locked": {
            "zh": "配对码错误次数过多，请联系发放设备的医院或药房",
            "en": "Too many wrong pairing codes; ask the clinic or pharmacy that gave you "
            "the device",
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
