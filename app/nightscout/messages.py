"""People-facing texts of the Nightscout codes."""

from app.i18n import register_messages

register_messages(
    {
        "nightscout_unauthorized": {
            "zh": "Nightscout 上传密钥无效",
            "en": "The Nightscout API secret or token is not valid",
        },
        "nightscout_bad_query": {
            "zh": "Nightscout 查询条件无效：{field}",
            "en": "The Nightscout query condition is not valid: {field}",
        },
        "nightscout_not_configured": {
            "zh": "尚未创建 Nightscout 上传密钥",
            "en": "No Nightscout secret has been created",
        },
        "nightscout_credential_changed": {
            "zh": "Nightscout 上传密钥刚被另一请求更换，请查看后再试",
            "en": "Another request has just changed the Nightscout secret; check it and try again",
        },
    }
)
