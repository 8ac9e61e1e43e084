"""Languages: both catalogues have the same keys and placeholders, every key the pages use
exists, and the language is picked from the switch, then the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from posfleet.alerts.bridge.model import EventKind, TicketStatus
from posfleet.exporters.status_store.summary import STATUS_CODES
from posfleet.payments.groups import CauseGroup
from posfleet.payments.model import CaseKind, CaseStatus, CloseReason
from posfleet.web.i18n import LANGUAGES, Translator, catalogue, negotiate, placeholders

WEB = Path(__file__).resolve().parents[2] / "posfleet" / "web"


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    english, chinese = catalogue("en"), catalogue("zh-CN")

    assert set(english) == set(chinese)
    for key, text in english.items():
        assert placeholders(text) == placeholders(chinese[key]), key
        assert chinese[key].strip(), key


def test_every_key_the_templates_and_code_name_exists() -> None:
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_]+\.[a-z_.]*[a-z])['"]""", path.read_text()))
    families = {
        "status": [*STATUS_CODES, "paper_low_soon", "label_ok", "label_problem"],
        "cause": [g.value for g in CauseGroup],
        "cause_advice": [g.value for g in CauseGroup],
        "ticket_status": [s.value for s in TicketStatus],
        "event": [k.value for k in EventKind],
        "case_kind": [k.value for k in CaseKind],
        "case_explain": [k.value for k in CaseKind],
        "case_status": [s.value for s in CaseStatus],
        "close_reason": [r.value for r in CloseReason],
        "component": ["printer", "network", "screen", "qr_scanner", "card_reader", "battery",
                      "security"],
        "component_status": ["ok", "unknown", "fault", "paper_low", "paper_out", "cover_open",
                             "good", "unstable", "down", "low", "tampered"],
        "state": ["online", "degraded", "offline"],
        "fleet": ["count_online", "count_degraded", "count_offline"],
        "priority": ["urgent", "high", "normal", "low"],
        "role": ["it", "merchant"],
        "ticket": ["done_acknowledge", "done_assign", "done_comment", "done_close",
                   "line_technician", "line_merchant", "line_it"],
    }
    used |= {f"{family}.{value}" for family, values in families.items() for value in values}
    for language in LANGUAGES:
        missing = sorted(used - set(catalogue(language)))
        assert not missing, (language, missing)


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh-CN"),
        ("en-GB,en;q=0.9", None, "en"),
        ("de-DE,zh-TW;q=0.5,en;q=0.3", None, "zh-CN"),
        ("de-DE,fr;q=0.5", None, "en"),
        ("en;q=0.2,zh;q=0.8", None, "zh-CN"),
        ("zh-CN", "en", "en"),
        (None, "zh-CN", "zh-CN"),
        ("zh-CN", "klingon", "zh-CN"),
        ("en;q=abc,zh;q=0", None, "en"),
    ],
)
def test_the_language_is_the_switch_then_the_browser(header: str | None, cookie: str | None,
                                                     expected: str) -> None:
    assert negotiate(header, cookie) == expected


def test_a_translator_fills_placeholders() -> None:
    assert Translator("en")("status.paper_low", minutes=20) == (
        "Receipt paper low: replace the roll within about 20 minutes."
    )
    assert Translator("zh-CN")("status.paper_low", minutes=20) == (
        "小票纸快用完：请在约 20 分钟内更换纸卷。"  # noqa: RUF001
    )
