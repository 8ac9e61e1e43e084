"""Accelerated rule files (``posfleet demo``): the shipped rules on a faster clock."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from posfleet.stack.rules import accelerate_expr, write_accelerated_rule_files
from posfleet.stack.services import shipped_rule_files


def test_windows_horizons_and_durations_are_divided_and_promtool_accepts_the_result(
    tmp_path: Path,
) -> None:
    copies, left_out = write_accelerated_rule_files(shipped_rule_files(), tmp_path, 30)

    checked = subprocess.run(
        ["promtool", "check", "rules", *map(str, copies)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = {
        rule["alert"]: rule
        for copy in copies
        for group in yaml.safe_load(copy.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    signal = rules["SignalDegrading"]
    assert signal["for"] == "20000ms"  # 10m / 30
    assert "avg_over_time(posfleet_network_signal_dbm[30000ms])" in signal["expr"]  # [15m]
    # [1d] offset 1h: the terminal's usual level must stay a simulated day, an hour back.
    assert "posfleet_network_signal_dbm[2880000ms] offset 120000ms)" in signal["expr"]
    loss = rules["PacketLossRising"]
    assert "posfleet_network_packet_loss_ratio[40000ms], 60)" in loss["expr"]  # [20m], 1800 s
    assert rules["PrinterPaperRunningOut"]["for"] == "1000ms"  # 30s / 30
    # Rules comparing with Prometheus's own clock cannot follow a simulated one.
    assert "TerminalDataStale" in left_out
    assert "CertificateExpiring" in left_out
    assert not set(left_out) & set(rules)


def test_expressions_that_cannot_be_scaled_faithfully_are_refused() -> None:
    stale = "time() - posfleet_terminal_last_seen_timestamp_seconds > 900"
    assert accelerate_expr(stale, 30) is None
    assert accelerate_expr("predict_linear(x[6h], scalar(y)) < 0", 30) is None
    assert accelerate_expr("rate(x[5m:30s])", 60) == "rate(x[5000ms:5000ms])"
    assert accelerate_expr("increase(x[1h]) > 3", 60) == "increase(x[60000ms]) > 3"


def test_offsets_are_divided_like_windows() -> None:
    assert accelerate_expr("avg_over_time(x[1d] offset 1h)", 60) == (
        "avg_over_time(x[1440000ms] offset 60000ms)"
    )
    assert accelerate_expr("x offset 1h30m - x", 60) == "x offset 90000ms - x"
    assert accelerate_expr("max_over_time(x[1h:5m] offset 2h)", 60) == (
        "max_over_time(x[60000ms:5000ms] offset 120000ms)"
    )
