"""The platform's message envelope, as the interface specification for designated medical
institutions defines it (《医疗保障信息平台定点医药机构接口规范》, "输入/输出" common parameters).

Field lists checked against public codebases that model the specification, e.g. the Jiangsu
baseline document "医疗保障信息平台定点基线版医药机构接口规范 v0.9.9.15" (mhCardReader), and the
request/answer models of several HIS clients on GitHub (C#, Java and Python ones building
`infno`, `msgid`, `mdtrtarea_admvs`, ... `sign_no`, `input`; answering `infcode`,
`inf_refmsgid`, `refmsg_time`, `respond_time`, `err_msg`, `warn_msg`, `output`). Lengths are the
specification's: infno 4, msgid 30, admvs 6, recer_sys_code 10, infver 6, opter_type 3,
opter 30, opter_name 50, fixmedins_code 12, fixmedins_name 200, sign_no 30.

`msgid` is the sending institution's code (12) + the send time yyyyMMddHHmmss (14, Beijing
time) + a 4-digit sequence: 30 characters, unique per message.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.kit.clock import to_shanghai

MSGID_LENGTH = 30
SEQUENCE_SPACE = 10_000
MSGID = re.compile(r"^[A-Za-z0-9]{12}\d{14}\d{4}$")
# Answer code of success; every negative code is a refusal explained by err_msg.
SUCCESS = 0


def message_id(fixmedins_code: str, moment: datetime, sequence: int) -> str:
    """The sender's message id: institution code, Beijing time to the second, 4-digit sequence."""
    if len(fixmedins_code) != 12 or not 0 <= sequence < SEQUENCE_SPACE:
        raise ValueError("a message id needs a 12-character institution code and a 0-9999 sequence")
    return f"{fixmedins_code}{to_shanghai(moment):%Y%m%d%H%M%S}{sequence:04d}"


def interface_time(moment: datetime) -> str:
    """`inf_time`: the send time in Beijing time, as the specification writes dates."""
    return f"{to_shanghai(moment):%Y-%m-%d %H:%M:%S}"


class PlatformRequest(BaseModel):
    """The envelope every transaction is sent in; `input` holds the transaction's own nodes."""

    infno: str = Field(pattern=r"^\d{4}$")
    msgid: str = Field(pattern=MSGID.pattern)
    # 就医地医保区划 (where the person is treated) and 参保地医保区划 (where insured; empty
    # before the person is known, e.g. for 9001 and 1101).
    mdtrtarea_admvs: str = Field(max_length=6)
    insuplc_admdvs: str = Field(max_length=6)
    recer_sys_code: str = Field(max_length=10)
    dev_no: str = Field(default="", max_length=100)
    dev_safe_info: str = Field(default="", max_length=2000)
    cainfo: str = Field(default="", max_length=1024)
    signtype: str = Field(default="", max_length=10)
    infver: str = Field(max_length=6)
    # 1 经办人 (an operator), 2 自助终端, 3 移动终端.
    opter_type: str = Field(default="1", max_length=3)
    opter: str = Field(max_length=30)
    opter_name: str = Field(max_length=50)
    inf_time: str
    fixmedins_code: str = Field(min_length=12, max_length=12)
    fixmedins_name: str = Field(max_length=200)
    # The sign-in number of 9001 (empty on the sign-in itself).
    sign_no: str = Field(default="", max_length=30)
    input: dict[str, Any]


class PlatformAnswer(BaseModel):
    """The platform's answer: `infcode` 0 with `output`, or a negative code with `err_msg`."""

    model_config = ConfigDict(extra="allow")

    infcode: int
    inf_refmsgid: str | None = None
    refmsg_time: str | None = None
    respond_time: str | None = None
    err_msg: str | None = None
    warn_msg: str | None = None
    cainfo: str | None = None
    signtype: str | None = None
    output: dict[str, Any] | None = None
