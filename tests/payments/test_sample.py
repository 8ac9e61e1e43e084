"""The documented sample configuration is valid and means what it says."""

from __future__ import annotations

from pathlib import Path

from posfleet.config import parse_config
from posfleet.payments.config import PaymentsSettings
from posfleet.payments.output import classifier_from_config
from tests.payments.support import event

SAMPLE = Path(__file__).resolve().parents[2] / "posfleet" / "payments" / "sample.yml"


def test_the_sample_loads_and_its_defaults_are_the_defaults() -> None:
    config = parse_config(SAMPLE.read_text(), str(SAMPLE))
    settings = config.payments
    defaults = PaymentsSettings()
    assert settings.reversal_grace_seconds == defaults.reversal_grace_seconds
    assert settings.reconcile == defaults.reconcile
    assert settings.training == defaults.training
    classifier = classifier_from_config(config)
    verdict = classifier.classify(
        event("T-1-1", "declined", merchant="china-mart", host_response_code="97")
    )
    assert verdict == "terminal_config"
