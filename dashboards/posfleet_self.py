"""posfleet itself: poll rates and errors, buffer depths, drops, ingest lag, webhooks."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from posfleet.dashboards.kit import (
    BAD_ANY,
    HALF,
    INFO_ONLY,
    SELF_UID,
    THIRD,
    Board,
    Size,
    promql,
    stat_panel,
    steps,
    ticket_annotations,
    timeseries_panel,
)

R = "[$__rate_interval]"


def build() -> db.Dashboard:
    board = Board(
        SELF_UID,
        "posfleet / posfleet itself",
        "The health of posfleet's own processes: collectors' polls, output buffers, drops, "
        "central ingest and the ticket bridge.",
    )
    board.builder = board.builder.annotations(ticket_annotations('alertname=~".+"'))
    board.add(
        stat_panel(
            "posfleet targets up",
            "Prometheus scrape targets of posfleet jobs that answer (up == 1) out of all.",
            "percentunit",
            steps("red", (0.99, "green")),
            promql('avg(up{job=~"posfleet.*"})', "up"),
            size=Size(6, 5),
        ),
        stat_panel(
            "Scheduling lag p99",
            "99th percentile of how late polls start (a busy collector falls behind).",
            "s",
            steps("green", (1, "orange"), (5, "red")),
            promql("max(posfleet_collector_scheduling_lag_p99_seconds)", "p99"),
            size=Size(6, 5),
        ),
        stat_panel(
            "Terminals by state",
            "Terminals the collectors track, by health state.",
            "none",
            INFO_ONLY,
            promql("sum by (state) (posfleet_collector_terminals)", "{{state}}"),
            size=Size(12, 5),
        ),
    )
    board.row("Collectors")
    board.add(
        timeseries_panel(
            "Poll rate",
            "Polls finished per second, by driver and result.",
            "cps",
            INFO_ONLY,
            promql(f"sum by (driver, result) (rate(posfleet_collector_polls_total{R}))",
                   "{{driver}} {{result}}"),
            size=THIRD,
        ),
        timeseries_panel(
            "Poll errors",
            "Failed polls per second, by driver (the reasons, such as timeout or unreachable, "
            "are in posfleet_collector_poll_errors_total).",
            "cps",
            steps("green", (0.1, "orange"), (1, "red")),
            promql(
                f'sum by (driver) (rate(posfleet_collector_polls_total{{result="error"}}{R}))',
                "{{driver}}",
            ),
            size=THIRD,
        ),
        timeseries_panel(
            "Poll duration p95",
            "95th percentile of the time one poll takes, by driver.",
            "s",
            steps("green", (1, "orange"), (3, "red")),
            promql(
                "histogram_quantile(0.95, sum by (driver, le) "
                f"(rate(posfleet_collector_poll_duration_seconds_bucket{R})))",
                "{{driver}}",
            ),
            size=THIRD,
        ),
    )
    board.row("Buffers and drops")
    board.add(
        timeseries_panel(
            "Buffer depths",
            "Data waiting in the store-and-forward disk buffers, per output: InfluxDB "
            "batches, MQTT uplink messages, remote-write requests.",
            "short",
            steps("green", (100, "orange"), (10_000, "red")),
            promql("sum by (instance) (posfleet_influxdb_buffered_batches)",
                   "influxdb {{instance}}"),
            promql("sum by (instance) (posfleet_uplink_buffered_records)",
                   "uplink {{instance}}"),
            promql("sum by (instance) (posfleet_remote_write_buffered_requests)",
                   "remote-write {{instance}}"),
        ),
        timeseries_panel(
            "Buffered bytes",
            "Bytes waiting in the disk buffers, per output.",
            "bytes",
            steps("green", (100_000_000, "orange"), (800_000_000, "red")),
            promql("sum(posfleet_influxdb_buffered_bytes)", "influxdb"),
            promql("sum(posfleet_uplink_buffered_bytes)", "uplink"),
            promql("sum(posfleet_remote_write_buffered_bytes)", "remote-write"),
        ),
        timeseries_panel(
            "Drops",
            "Data given up on, per second: InfluxDB points by reason, uplink messages by "
            "reason, buffer overflows of InfluxDB and remote-write (rejected remote-write "
            "samples are logged and counted in posfleet_remote_write_samples_dropped_total).",
            "cps",
            BAD_ANY,
            promql(f"sum by (reason) (rate(posfleet_influxdb_points_dropped_total{R}))",
                   "influxdb {{reason}}"),
            promql(f"sum by (reason) (rate(posfleet_uplink_dropped_total{R}))",
                   "uplink {{reason}}"),
            promql(f"sum(rate(posfleet_remote_write_buffer_dropped_requests_total{R}))",
                   "remote-write buffer full (requests)"),
            promql(f"sum(rate(posfleet_influxdb_buffer_dropped_batches_total{R}))",
                   "influxdb buffer full (batches)"),
            size=Size(24, 8),
        ),
        timeseries_panel(
            "Output retries",
            "Write requests retried per second, by output.",
            "cps",
            steps("green", (0.1, "orange"), (1, "red")),
            promql(f"sum(rate(posfleet_influxdb_retries_total{R}))", "influxdb"),
            promql(f"sum(rate(posfleet_uplink_retries_total{R}))", "uplink"),
            promql(f"sum(rate(posfleet_remote_write_samples_retried_total{R}))",
                   "remote-write samples"),
        ),
        timeseries_panel(
            "Time since last successful write",
            "Seconds since InfluxDB and the remote-write receiver last accepted data.",
            "s",
            steps("green", (60, "orange"), (600, "red")),
            promql("time() - max(posfleet_influxdb_last_success_timestamp_seconds > 0)",
                   "influxdb"),
            promql("time() - max(posfleet_remote_write_last_success_timestamp_seconds > 0)",
                   "remote-write"),
        ),
    )
    board.row("Central ingest")
    board.add(
        timeseries_panel(
            "Ingest messages",
            "Messages accepted per second by kind, and refused by reason.",
            "cps",
            INFO_ONLY,
            promql(f"sum by (kind) (rate(posfleet_ingest_messages_accepted_total{R}))",
                   "accepted {{kind}}"),
            promql(f"sum by (reason) (rate(posfleet_ingest_messages_refused_total{R}))",
                   "refused {{reason}}"),
            size=THIRD,
        ),
        timeseries_panel(
            "Ingest lag",
            "99th percentile of the time ingest's outputs take to write a batch, and "
            "messages received but not yet acknowledged.",
            "s",
            steps("green", (1, "orange"), (5, "red")),
            promql(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(posfleet_ingest_sink_latency_seconds_bucket{R})))",
                "write p99",
            ),
            size=THIRD,
        ),
        timeseries_panel(
            "Ingest in flight",
            "Messages received and not yet acknowledged, per ingest copy; 1 = subscribed.",
            "short",
            steps("green", (1000, "orange"), (10_000, "red")),
            promql("sum by (instance) (posfleet_ingest_in_flight_messages)",
                   "in flight {{instance}}"),
            promql("min(posfleet_ingest_connected)", "connected (min)"),
            size=THIRD,
        ),
    )
    board.row("Ticket bridge")
    board.add(
        timeseries_panel(
            "Webhook results",
            "Alertmanager notifications received per second, by result (accepted, invalid, "
            "unauthorized, store unavailable, ...).",
            "cps",
            INFO_ONLY,
            promql(f"sum by (result) (rate(posfleet_tickets_webhooks_received_total{R}))",
                   "{{result}}"),
            size=HALF,
        ),
        timeseries_panel(
            "Ticket store errors",
            "Ticket store operations that failed because the database did not answer.",
            "cps",
            BAD_ANY,
            promql(f"sum by (operation) (rate(posfleet_tickets_store_errors_total{R}))",
                   "{{operation}}"),
            size=HALF,
        ),
    )
    return board.builder
