"""``posfleet backtest``: replay fleet history through the alert rules and measure how early
tickets would have come before failed transactions."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import click

from posfleet.alerts.bridge.store import Policy
from posfleet.backtest.html import render_html
from posfleet.backtest.rules import RuleError
from posfleet.backtest.run import BacktestOptions, run_backtest
from posfleet.backtest.tsdb import BacktestError
from posfleet.config.loader import ConfigError, load_config

EXIT_INVALID = 2


def _progress(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


@click.group("backtest")
def backtest_group() -> None:
    """Replay history through the alert rules: how many failed payments would have been
    warned about in time, how early, and how many tickets would have been noise."""


@backtest_group.command("run")
@click.argument("history", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-c", "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fleet configuration: stores (time zones, opening hours) and alerting policy.",
)  # fmt: skip
@click.option(
    "--ground-truth", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Simulator ground truth: exact episodes, and the false-ticket share.",
)  # fmt: skip
@click.option(
    "--rules", "rule_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
    help="Rule files or folders (default: alerts/).",
)  # fmt: skip
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the report.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the charts.")
@click.option("--step", default=60, show_default=True, help="Scrape interval of the replay (s).")
@click.option(
    "--evaluation-interval", "evaluation_interval", default=15, show_default=True,
    help="Rule evaluation interval (s), as Prometheus's evaluation_interval.",
)  # fmt: skip
@click.option("--workers", default=2, show_default=True, help="Replay processes.")
@click.option(
    "--horizon", default=4.0, show_default=True, help="Hours after a ticket to look for failures."
)
@click.option(
    "--close-grace", default=300.0, show_default=True,
    help="Bridge: seconds a resolved ticket waits before it closes.",
)  # fmt: skip
@click.option(
    "--reopen-window", default=86400.0, show_default=True,
    help="Bridge: seconds after closing within which a ticket reopens.",
)  # fmt: skip
@click.option(
    "--work-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Keep the OpenMetrics files and the TSDB here (default: a temporary folder).",
)  # fmt: skip
def run_command(
    history: Path,
    config_path: Path,
    ground_truth: Path | None,
    rule_paths: tuple[Path, ...],
    json_path: Path | None,
    html_path: Path | None,
    step: int,
    evaluation_interval: int,
    workers: int,
    horizon: float,
    close_grace: float,
    reopen_window: float,
    work_dir: Path | None,
) -> None:
    """Backtest the rules on HISTORY (telemetry JSON Lines, as `posfleet simulate --record`
    or `posfleet backtest influx` writes it)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            click.echo(line, err=True)
        raise SystemExit(EXIT_INVALID) from None
    if step < 1 or evaluation_interval < 1 or workers < 1 or horizon <= 0:
        raise click.UsageError(
            "--step, --evaluation-interval, --workers and --horizon must be positive"
        )
    options = BacktestOptions(
        rules=list(rule_paths) or [Path("alerts")],
        step_seconds=step,
        evaluation_interval_seconds=evaluation_interval,
        workers=workers,
        horizon_seconds=horizon * 3600,
        policy=Policy(timedelta(seconds=close_grace), timedelta(seconds=reopen_window)),
        work_dir=work_dir,
    )
    started = time.monotonic()
    try:
        result = run_backtest(history, config, ground_truth, options, _progress)
    except (RuleError, BacktestError, ValueError) as exc:
        click.echo(f"backtest: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(result.text)
    if json_path is not None:
        json_path.write_text(json.dumps(result.report, indent=1, sort_keys=True) + "\n", "utf-8")
    if html_path is not None:
        html_path.write_text(render_html(result.report, result.text, result.hourly), "utf-8")
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.timings.items())
    _progress(f"done in {time.monotonic() - started:.0f} s ({phases})")


@backtest_group.command("record")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--days", default=7.0, show_default=True, help="Simulated days to record.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for trace.jsonl, ground-truth.jsonl and fleet.yml.",
)  # fmt: skip
def record_command(scenario: Path, days: float, out: Path) -> None:
    """Simulate SCENARIO for --days as fast as possible, writing the history (as
    `posfleet simulate --record`), its ground truth and the fleet's configuration."""
    from posfleet.backtest.simulated import record_history
    from posfleet.simulator.config_writer import fleet_config_yaml
    from posfleet.simulator.fleet import generate_fleet
    from posfleet.simulator.scenario import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        for message in exc.messages():
            click.echo(message, err=True)
        raise SystemExit(EXIT_INVALID) from None
    out.mkdir(parents=True, exist_ok=True)
    spec = generate_fleet(loaded.parameters())
    (out / "fleet.yml").write_text(
        fleet_config_yaml(
            spec, http_base="http://127.0.0.1:8480", mqtt_url="mqtt://127.0.0.1:1883",
            escpos_ports={},
        ),
        "utf-8",
    )
    last = [-1]

    def progress(share: float) -> None:
        percent = int(share * 100)
        if percent // 5 != last[0] // 5:
            last[0] = percent
            _progress(f"simulating: {percent}%")

    record_history(
        loaded, days * 86400.0, out / "trace.jsonl", out / "ground-truth.jsonl",
        progress=progress,
    )  # fmt: skip
    _progress(f"wrote {out / 'trace.jsonl'}, {out / 'ground-truth.jsonl'}, {out / 'fleet.yml'}")


__all__ = ["backtest_group"]


@backtest_group.command("influx")
@click.option("--url", required=True, help="InfluxDB 1.x base URL, e.g. http://127.0.0.1:8086.")
@click.option("--database", required=True, help="Database posfleet writes to.")
@click.option("--username", envvar="POSFLEET_INFLUXDB__USERNAME", show_envvar=True)
@click.option("--password", envvar="POSFLEET_INFLUXDB__PASSWORD", show_envvar=True)
@click.option("--from", "start", required=True, help="Start, RFC 3339 (e.g. 2026-11-01T00:00Z).")
@click.option("--to", "end", required=True, help="End (exclusive), RFC 3339.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def influx_command(
    url: str,
    database: str,
    username: str | None,
    password: str | None,
    start: str,
    end: str,
    out: Path,
) -> None:
    """Read a time range of history back from InfluxDB into a trace for `backtest run`."""
    from datetime import datetime

    from posfleet.backtest.influx import InfluxHistory, InfluxReadError, InfluxSource

    try:
        first = datetime.fromisoformat(start.replace("Z", "+00:00"))
        last = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"--from/--to: {exc}") from None
    if first.tzinfo is None or last.tzinfo is None or last <= first:
        raise click.BadParameter("--from and --to need a time zone, and --to must be later")
    history = InfluxHistory(InfluxSource(url, database, username, password))
    try:
        count = history.export(int(first.timestamp()), int(last.timestamp()), out, _progress)
    except InfluxReadError as exc:
        click.echo(f"backtest influx: {exc}", err=True)
        raise SystemExit(1) from None
    _progress(f"wrote {count} lines to {out}")
