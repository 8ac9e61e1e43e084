"""Refuse card data: full card numbers (PAN), magnetic track data, PINs and CVVs.

posfleet must never store or log them (PCI DSS 3.3, 3.4), so every telemetry message is
searched before it is accepted. The messages that point out card data name where it was
found and what it looked like, never the data itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

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


# Messages repeat the same few keys; remembering the verdict keeps the check cheap on the
# ingest path (tens of thousands of messages per second).
_key_verdicts: dict[str, bool] = {}
_KEY_CACHE_LIMIT = 4096


def _is_card_data_key(key: str) -> bool:
    verdict = _key_verdicts.get(key)
    if verdict is None:
        verdict = _normalise_key(key) in FORBIDDEN_KEYS
        if len(_key_verdicts) < _KEY_CACHE_LIMIT:
            _key_verdicts[key] = verdict
    return verdict


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


def _string_problem(text: str, path: str, check_pan: bool) -> str | None:
    if len(text) < 13:  # shorter than any card number or track
        return None
    if _TRACK_DATA.search(text):
        return f"{path}: looks like magnetic-stripe track data, which is refused"
    if check_pan and looks_like_full_pan(text):
        return (
            f"{path}: contains a full card number; send it masked "
            "(first 6 and last 4 digits at most)"
        )
    return None


def find_card_data(
    payload: Any, *, pan_exempt_fields: frozenset[str] = frozenset(), check_pans: bool = True
) -> str | None:
    """Describe the first card secret in ``payload`` (a parsed JSON value), or None.

    ``pan_exempt_fields`` names top-level fields whose own format already rules out a card
    number (STAN, RRN, ids): a numeric id passes the Luhn check one time in ten by chance.
    ``check_pans`` is off for status snapshots, whose serials and IMEIs are Luhn-valid digit
    runs by design; key names and track data are searched everywhere.
    """
    # An explicit stack instead of recursion: this runs once per message on the hot path.
    stack: list[tuple[Any, str, bool]] = [(payload, "", check_pans)]
    while stack:
        value, path, check_pan = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                name = str(key)
                child = f"{path}.{name}" if path else name
                if _is_card_data_key(name):
                    return (
                        f"{child}: field name '{name}' is reserved for card data, which is refused"
                    )
                item_check = check_pan and not (not path and name in pan_exempt_fields)
                if isinstance(item, str):
                    problem = _string_problem(item, child, item_check)
                    if problem:
                        return problem
                elif isinstance(item, int) and not isinstance(item, bool) and item > 10**12:
                    # A card number sent as a JSON number.
                    problem = _string_problem(str(item), child, item_check)
                    if problem:
                        return problem
                elif isinstance(item, Mapping | list | tuple):
                    stack.append((item, child, item_check))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                child = f"{path}[{index}]"
                if isinstance(item, str):
                    problem = _string_problem(item, child, check_pan)
                    if problem:
                        return problem
                elif isinstance(item, Mapping | list | tuple):
                    stack.append((item, child, check_pan))
        elif isinstance(value, str):
            return _string_problem(value, path or "(message)", check_pan)
    return None


# --- screening raw JSON --------------------------------------------------------------------
# The search above walks parsed values in Python. On the ingest path most messages are clean,
# so their raw bytes are screened first by C-speed byte operations that flag a superset of
# what the walk finds; only a flagged message is walked (for the verdict and the path).

SCREENED_CONTEXT: Final = "card_data_screened"
"""Validation-context key: the raw JSON was screened clean, the model may skip its search."""


# Digits, spaces and dashes all become "0": 13 in a row may be a card number or the PAN
# inside track data (or, harmlessly, an IMEI or a long id: those get the full walk).
_DIGITISH = bytes.maketrans(b"0123456789 -", b"0" * 12)
_DIGIT_RUN_MARK = b"0" * 13
# Keys compared after lower-casing and deleting "_" and "-", as _normalise_key does; the
# alternatives are grouped by first letter, which the regex engine scans much faster.
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


def _grouped_alternatives(names: frozenset[str]) -> bytes:
    by_first: dict[str, list[str]] = {}
    for name in sorted(names):
        by_first.setdefault(name[0], []).append(re.escape(name[1:]))
    return b"|".join(
        f"{first}(?:{'|'.join(rests)})".encode() for first, rests in sorted(by_first.items())
    )


_RAW_KEY = re.compile(rb'"(?:' + _grouped_alternatives(FORBIDDEN_KEYS) + rb')"')


def raw_json_is_clean(raw: bytes) -> bool:
    """True when ``raw`` (JSON text) certainly holds no card data; False means "walk it"."""
    if b"\\u" in raw:  # escaped characters could spell a key or digits in disguise
        return False
    if _DIGIT_RUN_MARK in raw.translate(_DIGITISH):
        return False
    return _RAW_KEY.search(raw.translate(_LOWER, b"_-")) is None


def screened_context(raw: bytes) -> dict[str, bool] | None:
    """The validation context to pass with ``raw`` to ``model_validate_json``."""
    return {SCREENED_CONTEXT: True} if raw_json_is_clean(raw) else None
