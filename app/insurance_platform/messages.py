"""People-facing texts of the insurance platform's error codes."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "insurance_platform_refused": {
            "zh": "医保信息平台拒绝了本次交易：{err_msg}",
            "en": "The medical insurance platform refused the transaction: {err_msg}",
        },
        "insurance_platform_timeout": {
            "zh": "医保信息平台未在规定时间内应答，请稍后重试",
            "en": "The medical insurance platform did not answer in time; try again later",
        },
        "insurance_platform_unreachable": {
            "zh": "暂时无法连接医保信息平台，请稍后重试",
            "en": "The medical insurance platform cannot be reached right now; try again later",
        },
        "platform_identity_differs": {
            "zh": "医保信息平台的参保信息与已核实的参保身份不一致，暂不能结算，请重新核实",
            "en": "The insurance platform's record differs from the verified insured identity; "
            "re-verify before settling",
        },
    }
)
