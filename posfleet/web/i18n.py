"""Languages: catalogues of every user-facing string (``locales/<lang>.json``), and picking
the language from the switch (a cookie) or the browser's Accept-Language.

A catalogue maps keys to strings with ``{name}`` placeholders. Both catalogues must have the
same keys and the same placeholders per key (a test checks it), so a page never shows a key.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

LANGUAGES: Final = ("en", "zh-CN")
LANGUAGE_COOKIE: Final = "posfleet_lang"


@cache
def catalogue(language: str) -> dict[str, str]:
    """The catalogue of ``language`` (one of LANGUAGES)."""
    text = resources.files("posfleet.web").joinpath("locales", f"{language}.json").read_text(
        encoding="utf-8"
    )
    data = json.loads(text)
    assert isinstance(data, dict)
    return {str(key): str(value) for key, value in data.items()}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if not tag:
        return None
    if tag.startswith("zh"):
        # Traditional-script locales still read Simplified better than English here.
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, cookie: str | None, default: str = "en") -> str:
    """The language: the switch's cookie first, then the browser's preferences by q-value."""
    if cookie in LANGUAGES:
        return str(cookie)
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for index, part in enumerate(accept_language.split(",")[:20]):
            tag, _, params = part.partition(";")
            quality = 1.0
            params = params.strip()
            if params.startswith("q="):
                try:
                    quality = float(params[2:])
                except ValueError:
                    quality = 0.0
            matched = _match(tag)
            if matched and quality > 0:
                ranked.append((-quality, index, matched))
        if ranked:
            return min(ranked)[2]
    return default if default in LANGUAGES else "en"


@dataclass(frozen=True)
class Translator:
    """``t(key, **params)`` in one language; falls back to English, then to the key."""

    language: str

    def __call__(self, key: str, **params: Any) -> str:
        text = catalogue(self.language).get(key) or catalogue("en").get(key)
        if text is None:
            return key
        if not params:
            return text
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text

    def has(self, key: str) -> bool:
        return key in catalogue(self.language)
