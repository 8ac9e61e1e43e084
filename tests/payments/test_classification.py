"""Cause classification: every code of every table, per-acquirer overrides, unknown codes
counted and never guessed, and table files checked with their sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from posfleet.config.models import Merchant, PosfleetConfig
from posfleet.payments.classification import (
    BUILTIN_TABLES,
    Classifier,
    TableError,
    builtin_table,
    load_table,
)
from posfleet.payments.config import AcquirerTable, PaymentsSettings
from posfleet.payments.groups import LOCAL_ERROR_CAUSES, CauseGroup
from posfleet.payments.metric_specs import CASE_KINDS, CAUSES, CLOSE_REASONS
from posfleet.payments.model import CaseKind, CloseReason
from posfleet.telemetry.transaction import LocalError
from tests.payments.support import event

TABLE_CODES = [
    (name, code, entry.group)
    for name in BUILTIN_TABLES
    for code, entry in builtin_table(name).codes.items()
]


def declined(code: str, merchant: str = "acme") -> object:
    outcome = "approved" if code == "00" else "declined"
    return event("T-1-000001", outcome, merchant=merchant, host_response_code=code)


@pytest.mark.parametrize(("table", "code", "group"), TABLE_CODES)
def test_every_code_of_every_table_gets_its_group(
    table: str, code: str, group: CauseGroup
) -> None:
    classifier = Classifier(builtin_table("iso8583"), {"acme": builtin_table(table)})
    assert classifier.classify(declined(code)) is group  # type: ignore[arg-type]
    assert not classifier.unknown_codes


# What a person would expect on each network: the codes that matter most in the field.
@pytest.mark.parametrize(
    ("table", "code", "group"),
    [
        ("iso8583", "00", "approved"),
        ("iso8583", "05", "issuer_refusal"),
        ("iso8583", "51", "issuer_refusal"),
        ("iso8583", "55", "issuer_refusal"),
        ("iso8583", "13", "operator_error"),
        ("iso8583", "61", "policy_limit"),
        ("iso8583", "58", "terminal_config"),
        ("iso8583", "91", "gateway_outage"),
        ("iso8583", "96", "gateway_outage"),
        ("iso8583", "97", "unclassified"),
        ("iso8583", "98", "unclassified"),
        ("iso8583", "99", "unclassified"),
        ("cup", "97", "terminal_config"),
        ("cup", "98", "gateway_outage"),
        ("cup", "99", "terminal_config"),
        ("cup", "A0", "terminal_config"),
        ("cup", "a0", "terminal_config"),
        ("cup", "22", "operator_error"),
        ("cup", "77", "terminal_config"),
    ],
)
def test_codes_mean_what_the_network_says(table: str, code: str, group: str) -> None:
    classifier = Classifier(builtin_table(table))
    assert classifier.classify(declined(code)) == group  # type: ignore[arg-type]


def test_a_fleet_picks_a_table_per_acquirer_and_overrides_single_codes() -> None:
    settings = PaymentsSettings(
        acquirers={
            "unionpay": AcquirerTable(table="cup"),
            "gicc": AcquirerTable(
                table="iso8583",
                overrides={"97": CauseGroup.TERMINAL_CONFIG, "98": CauseGroup.TERMINAL_CONFIG},
            ),
        }
    )
    classifier = Classifier.from_settings(
        settings, [("china-mart", "unionpay"), ("baeckerei", "gicc"), ("acme", None)]
    )
    verdicts = {
        merchant: [classifier.classify(declined(code, merchant)) for code in ("97", "98", "99")]  # type: ignore[arg-type]
        for merchant in ("china-mart", "baeckerei", "acme")
    }
    assert verdicts == {
        "china-mart": ["terminal_config", "gateway_outage", "terminal_config"],
        "baeckerei": ["terminal_config", "terminal_config", "unclassified"],
        "acme": ["unclassified", "unclassified", "unclassified"],
    }
    assert classifier.unknown_codes == {
        ("iso8583:gicc", "99"): 1,
        ("iso8583", "97"): 1,
        ("iso8583", "98"): 1,
        ("iso8583", "99"): 1,
    }


def test_the_config_section_reaches_the_classifier_through_merchants() -> None:
    config = PosfleetConfig(
        merchants=[Merchant(id="china-mart", name="China Mart", acquirer="unionpay")],
        payments=PaymentsSettings(acquirers={"unionpay": AcquirerTable(table="cup")}),
    )
    from posfleet.payments.output import classifier_from_config

    classifier = classifier_from_config(config)
    assert classifier.classify(declined("A0", "china-mart")) == "terminal_config"  # type: ignore[arg-type]


def test_unknown_codes_are_unclassified_and_counted_with_a_cap() -> None:
    classifier = Classifier(builtin_table("iso8583"))
    for _ in range(3):
        classifier.classify(declined("Z9"))  # type: ignore[arg-type]
    assert classifier.unknown_codes[("iso8583", "Z9")] == 3
    for number in range(300):
        classifier.classify(declined(f"{number:03d}"))  # type: ignore[arg-type]
    assert len(classifier.unknown_codes) == 201  # 200 by name, the rest as "other"
    assert classifier.unknown_codes[("iso8583", "other")] > 0


def test_the_terminal_error_decides_before_the_code_and_every_error_has_a_group() -> None:
    assert set(LOCAL_ERROR_CAUSES) == set(LocalError)
    classifier = Classifier(builtin_table("iso8583"))
    assert classifier.classify(event("T-1-1", "failed", local_error="tls_error")) == (
        "terminal_config"
    )
    assert classifier.classify(event("T-1-2", "timeout")) == "network"
    assert classifier.classify(event("T-1-3", "failed")) == "unclassified"


def test_metric_value_sets_match_the_enums() -> None:
    assert tuple(group.value for group in CauseGroup) == CAUSES
    assert tuple(kind.value for kind in CaseKind) == CASE_KINDS
    assert tuple(reason.value for reason in CloseReason) == CLOSE_REASONS


@pytest.mark.parametrize("name", BUILTIN_TABLES)
def test_every_table_names_its_sources(name: str) -> None:
    table = builtin_table(name)
    assert table.sources
    assert all(source.startswith("https://") for source in table.sources)


def test_a_table_file_by_path_and_its_errors_name_the_field(tmp_path: Path) -> None:
    good = tmp_path / "acquirer.yml"
    good.write_text(
        "name: acquirer\ntitle: t\nsources: [{url: 'https://example.org'}]\n"
        "codes:\n  '00': {group: approved, meaning: ok}\n  'Q1': {group: network, meaning: x}\n"
    )
    assert load_table(str(good)).codes["Q1"].group is CauseGroup.NETWORK
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\ntitle: t\nsources: [{url: 'https://example.org'}]\n"
        "codes:\n  '00': {group: approvd, meaning: ok}\n"
    )
    with pytest.raises(TableError, match=r"bad.yml: codes\.00\.group"):
        load_table(str(bad))
    with pytest.raises(TableError, match="no built-in table 'visa'"):
        load_table("visa")
    with pytest.raises(TableError, match=r"payments\.acquirers\.x\.table"):
        Classifier.from_settings(
            PaymentsSettings(acquirers={"x": AcquirerTable(table=str(tmp_path / "nope.yml"))}),
            [],
        )
