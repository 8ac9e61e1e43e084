"""Operator findings: the cashier who mistypes far more often than the store's others."""

from __future__ import annotations

from posfleet.payments.classification import Classifier, builtin_table
from posfleet.payments.config import TrainingSettings
from posfleet.payments.findings import OperatorFindings
from tests.payments.support import at, event


def feed(findings: OperatorFindings, store: str, operator: str, attempts: int, errors: int,
         day: int = 0) -> None:
    classifier = Classifier(builtin_table("iso8583"))
    for number in range(attempts):
        seconds = day * 86_400 + number
        if number < errors:
            attempt = event(f"{operator}-{day}-{number}", "failed", seconds=seconds, store=store,
                            operator_id=operator, local_error="operator_input_error")
        else:
            attempt = event(f"{operator}-{day}-{number}", seconds=seconds, store=store,
                            operator_id=operator, host_response_code="00")
        findings.observe(attempt, classifier.classify(attempt))


def test_an_operator_well_above_the_store_peers_gets_a_training_finding() -> None:
    findings = OperatorFindings(TrainingSettings())
    feed(findings, "S-1", "anna", 100, 12)  # 12 %
    feed(findings, "S-1", "bert", 100, 4)  # 4 %
    feed(findings, "S-1", "cleo", 100, 4)  # 4 %
    [finding] = findings.findings(at(3600))
    assert (finding.store_id, finding.operator_id) == ("S-1", "anna")
    assert finding.rate == 0.12
    assert finding.peer_rate == 0.04
    assert "training recommended" in finding.text()


def test_a_store_where_everyone_struggles_flags_nobody_and_customers_count_for_nobody() -> None:
    findings = OperatorFindings(TrainingSettings())
    feed(findings, "S-2", "dora", 100, 10)
    feed(findings, "S-2", "emil", 100, 9)
    classifier = Classifier(builtin_table("iso8583"))
    for number in range(40):  # customers cancelling at emil's till are not emil's errors
        cancel = event(f"c-{number}", "failed", seconds=number, store="S-2",
                       operator_id="emil", local_error="customer_cancelled")
        findings.observe(cancel, classifier.classify(cancel))
    assert findings.findings(at(3600)) == []


def test_few_attempts_no_peers_and_old_days_give_no_finding() -> None:
    findings = OperatorFindings(TrainingSettings(window_days=7))
    feed(findings, "S-3", "fred", 10, 5)  # too few attempts
    feed(findings, "S-4", "gina", 100, 30)  # alone in the store
    feed(findings, "S-5", "hans", 100, 30, day=0)
    feed(findings, "S-5", "ines", 100, 1, day=0)
    assert [f.operator_id for f in findings.findings(at(3600))] == ["hans"]
    assert findings.findings(at(10 * 86_400)) == []  # out of the window
    findings.prune(at(10 * 86_400))
    assert len(findings) == 0
