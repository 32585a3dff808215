"""Whether a configured secret key is strong enough for production.

Length alone lets `"a" * 32` through; what matters is how much an attacker would have to guess.
A key passes when it is at least 32 bytes long AND either is base64 or hex of at least 32
bytes that look random (random bytes are almost never all printable, and show ~30 distinct
values), or carries at least 128 bits by a Shannon estimate over its characters and over the
steps between neighbouring characters (which catches `abcd…` and `abab…`).
`secrets.token_urlsafe(32)`, `openssl rand -base64 32` and `openssl rand -hex 32` all pass;
repeated, alternating or short keys and base64 of an English phrase do not.

This judges keys we generate ourselves (JWT, blind index, field encryption). Secrets issued by
someone else (WeChat's AppSecret) are checked only against the published development values.
"""

from __future__ import annotations

import base64
import binascii
import math
import string
from collections import Counter
from itertools import pairwise

MIN_KEY_BYTES = 32
MIN_KEY_BITS = 128.0
# 32 random bytes show ~30 distinct values; fewer than this is a pattern, not randomness.
_MIN_DISTINCT_BYTES = 16
_PRINTABLE = frozenset(string.printable.encode())
_HEX = frozenset(string.hexdigits)
_BASE64_STANDARD = frozenset(string.ascii_letters + string.digits + "+/=")
_BASE64_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_=")


def _shannon_bits(symbols: list[int]) -> float:
    if not symbols:
        return 0.0
    total = len(symbols)
    per_symbol = -sum(n / total * math.log2(n / total) for n in Counter(symbols).values())
    return max(0.0, per_symbol * total)


def estimated_bits(value: str) -> float:
    """Shannon entropy of the string's symbol frequencies times its length, or of the steps
    between neighbouring symbols when that is less (so `abcdef…` and `abab…` count as the
    patterns they are)."""
    codes = [ord(char) for char in value]
    steps = [later - earlier for earlier, later in pairwise(codes)]
    return min(_shannon_bits(codes), _shannon_bits(steps))


def _decoded_material(value: str) -> bytes | None:
    """The bytes behind a hex or (url-safe) base64 key, or None when it is neither."""
    text = value.strip()
    if len(text) % 2 == 0 and set(text) <= _HEX:
        return bytes.fromhex(text)
    padded = (text + "=" * (-len(text) % 4)).encode()
    try:
        if set(text) <= _BASE64_STANDARD:
            return base64.b64decode(padded, validate=True)
        if set(text) <= _BASE64_URLSAFE:
            return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        return None
    return None


def random_material_problem(material: bytes) -> str | None:
    """Why `material` does not look like random key bytes, or None when it does."""
    if len(material) < MIN_KEY_BYTES:
        return f"decodes to {len(material)} bytes, fewer than {MIN_KEY_BYTES}"
    if len(set(material)) < _MIN_DISTINCT_BYTES:
        return "its bytes repeat a pattern"
    if set(material) <= _PRINTABLE:
        return "it encodes typed text, not random bytes"
    return None


def key_problem(value: str) -> str | None:
    """Why `value` is too weak to be a secret key in production, or None when it is strong."""
    if len(value.encode()) < MIN_KEY_BYTES:
        return f"shorter than {MIN_KEY_BYTES} bytes"
    material = _decoded_material(value)
    if material is not None:
        problem = random_material_problem(material)
        if problem is None:
            return None
        if set(material) <= _PRINTABLE and len(material) >= _MIN_DISTINCT_BYTES:
            return problem  # base64 or hex of typed text: the text is the key
    bits = estimated_bits(value)
    if bits < MIN_KEY_BITS:
        return f"about {bits:.0f} bits of entropy, fewer than {MIN_KEY_BITS:.0f}"
    return None


def fernet_key_problem(key: str) -> str | None:
    """Why `key` is not a usable, random Fernet key (url-safe base64 of 32 bytes), or None."""
    text = key.strip()
    if not set(text) <= _BASE64_URLSAFE:
        return "not url-safe base64"
    try:
        material = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        return "not url-safe base64"
    if len(material) != MIN_KEY_BYTES:
        return f"decodes to {len(material)} bytes; a Fernet key is {MIN_KEY_BYTES}"
    return random_material_problem(material)
