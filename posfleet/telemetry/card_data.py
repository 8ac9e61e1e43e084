"""Refuse card data: full card numbers (PAN), magnetic track data, PINs and CVVs.

posfleet must never store or log them (PCI DSS 3.3, 3.4), so every telemetry message is
searched before it is accepted. The messages that point out card data name where it was
found and what it looked like, never the data itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# Key names that only ever hold card secrets. Compared case-insensitively, ignoring - and _.
FORBIDDEN_KEYS = frozenset(
    {
        "pan",
        "cardnumber",
        "primaryaccountnumber",
        "fullpan",
        "track",
        "track1",
        "track2",
        "track3",
        "trackdata",
        "magstripedata",
        "pin",
        "pinblock",
        "encryptedpin",
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "cid",
        "securitycode",
    }
)

# Track 1: %B<PAN>^NAME^YYMM...  Track 2: ;<PAN>=YYMM...  (ISO/IEC 7813); also without sentinels.
_TRACK_DATA = re.compile(r"(?:%?B\d{12,19}\^[^^]{0,26}\^\d{4})|(?:;?\d{12,19}[=D]\d{4})")
# Runs of 13 to 19 digits, optionally grouped by spaces or dashes as printed on cards.
_DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def _normalise_key(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check every payment card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def looks_like_full_pan(text: str) -> bool:
    """True when ``text`` contains 13-19 digits in a row that pass the Luhn check."""
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if luhn_valid(digits):
            return True
    return False


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, str | None]]:
    """Yield (path, value, key) for every leaf and every key in a JSON-like value."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, item, str(key)
            yield from _walk(item, child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def find_card_data(
    payload: Any, *, pan_exempt_fields: frozenset[str] = frozenset(), check_pans: bool = True
) -> str | None:
    """Describe the first card secret in ``payload`` (a parsed JSON value), or None.

    ``pan_exempt_fields`` names top-level fields whose own format already rules out a card
    number (STAN, RRN, ids): a numeric id passes the Luhn check one time in ten by chance.
    ``check_pans`` is off for status snapshots, whose serials and IMEIs are Luhn-valid digit
    runs by design; key names and track data are searched everywhere.
    """
    for path, value, key in _walk(payload, ""):
        if key is not None and _normalise_key(key) in FORBIDDEN_KEYS:
            return f"{path}: field name '{key}' is reserved for card data, which is refused"
        if not isinstance(value, str):
            continue
        if _TRACK_DATA.search(value):
            return f"{path}: looks like magnetic-stripe track data, which is refused"
        top_level = path.split(".", 1)[0].split("[", 1)[0]
        if check_pans and top_level not in pan_exempt_fields and looks_like_full_pan(value):
            return (
                f"{path}: contains a full card number; send it masked "
                "(first 6 and last 4 digits at most)"
            )
    return None
