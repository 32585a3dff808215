"""The national codes of designated medical institutions and pharmacies.

The National Healthcare Security Administration's coding rules for designated institutions
(医保信息业务编码规则) give every designated medical institution and designated retail pharmacy a
12-character code: one upper-case letter for the kind (H for a medical institution, P for a
pharmacy), the 6-digit administrative division code (GB/T 2260) of where it is, and a 5-digit
sequence number within that division, e.g. H14030200001 or P14032200001.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

DesignatedKind = Literal["H", "P"]

_SHAPE = re.compile(r"^(?P<kind>[HP])(?P<area>\d{6})(?P<sequence>\d{5})$")

INSTITUTION_CODE_PATTERN = r"^H\d{11}$"
PHARMACY_CODE_PATTERN = r"^P\d{11}$"


# The message codes `code_problem` answers.
CodeProblem = Literal["designated_code_format", "designated_code_area_mismatch"]
CODE_PROBLEMS: tuple[CodeProblem, ...] = get_args(CodeProblem)


def code_problem(code: str, kind: DesignatedKind, district_code: str) -> CodeProblem | None:
    """Why `code` is not a national code of this kind for a place in `district_code` (a
    message code), or None when it is one."""
    match = _SHAPE.fullmatch(code)
    if match is None or match["kind"] != kind:
        return "designated_code_format"
    if match["area"] != district_code:
        return "designated_code_area_mismatch"
    if match["sequence"] == "00000":
        return "designated_code_format"
    return None
