"""Content-Disposition of served uploads: always attachment, and a name cannot break out."""

from __future__ import annotations

import pytest

from app.kit.downloads import content_disposition


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (None, "attachment"),
        ("", "attachment"),
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("化验单.pdf", "attachment; filename*=UTF-8''%E5%8C%96%E9%AA%8C%E5%8D%95.pdf"),
        (
            'a".pdf\r\nSet-Cookie: x=1',
            "attachment; filename*=UTF-8''a%22.pdf%0D%0ASet-Cookie%3A%20x%3D1",
        ),
        ("../../etc/passwd", "attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"),
    ],
)
def test_content_disposition_is_an_attachment_with_a_safe_name(filename, expected) -> None:
    assert content_disposition(filename) == expected


def test_an_encoded_name_carries_a_plain_fallback_and_a_fallback_that_is_not_plain_is_dropped() -> (
    None
):
    assert content_disposition("对账单.xlsx", "statement.xlsx") == (
        "attachment; filename=\"statement.xlsx\"; filename*=UTF-8''%E5%AF%B9%E8%B4%A6%E5%8D%95.xlsx"
    )
    assert content_disposition("对账单.xlsx", 'a".xlsx') == (
        "attachment; filename*=UTF-8''%E5%AF%B9%E8%B4%A6%E5%8D%95.xlsx"
    )
    assert content_disposition("plain.xlsx", "other.xlsx") == 'attachment; filename="plain.xlsx"'
