"""Small helpers over grafana-foundation-sdk so the dashboards read as a list of panels.

Every panel gets a unit, thresholds, a description and an id unique in its dashboard;
every query names its data source by the fixed uids of :mod:`posfleet.dashboards.datasources`.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from posfleet.dashboards.datasources import INFLUXDB, PROMETHEUS, DataSource
from posfleet.dashboards.influxql import InfluxQL

Target = cogbuilder.Builder[cogvariants.Dataquery]

FLEET_UID = "posfleet-fleet"
STORE_UID = "posfleet-store"
TERMINAL_UID = "posfleet-terminal"
TRANSACTIONS_UID = "posfleet-transactions"
SELF_UID = "posfleet-self"
TAG = "posfleet"

# Identity filters, as the chained variables give them.
SEL = 'region=~"$region", merchant=~"$merchant", store=~"$store"'
"""PromQL label matchers for the region, merchant and store variables."""
TSEL = f'{SEL}, terminal=~"$terminal"'
"""... and the terminal variable."""
INFLUX_WHERE = (
    "\"merchant\" =~ /^$merchant$/ AND \"store\" =~ /^$store$/"
)
"""InfluxQL conditions for the merchant and store variables (transactions have no region
tag, so region narrows the choice of stores instead)."""
INFLUX_TWHERE = f'{INFLUX_WHERE} AND "terminal" =~ /^$terminal$/'


# --- thresholds ------------------------------------------------------------------------------


def steps(base: str, *above: tuple[float, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: ``base`` colour, then ``(value, colour)`` from ``value`` upwards."""
    return (
        db.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps(
            [models.Threshold(value=None, color=base)]
            + [models.Threshold(value=value, color=color) for value, color in above]
        )
    )


GOOD_HIGH_RATIO = steps("red", (0.9, "orange"), (0.98, "green"))
"""A ratio where 1 is good (online share, success ratio)."""
BAD_ANY = steps("green", (1, "red"))
"""A count where any is bad (faults, open cases)."""
INFO_ONLY = steps("blue")
"""A figure with no good or bad value (volumes, rates)."""


# --- queries ---------------------------------------------------------------------------------


def promql(expr: str, legend: str = "", *, instant: bool = False) -> prom_builders.Dataquery:
    query = prom_builders.Dataquery().expr(expr).datasource(PROMETHEUS.ref())
    if legend:
        query = query.legend_format(legend)
    return query.instant().format(PromQueryFormat.TABLE) if instant else query.range()


def influxql(query: str, *, table_format: bool = False, alias: str | None = None) -> InfluxQL:
    target = InfluxQL(query)
    if table_format:
        target = target.table()
    if alias is not None:
        target = target.alias(alias)
    return target


# --- panels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    w: int
    h: int


HALF = Size(12, 8)
THIRD = Size(8, 8)
TWO_THIRDS = Size(16, 8)
QUARTER = Size(6, 5)
FULL = Size(24, 9)


def _datasource_of(targets: Sequence[Target]) -> DataSource:
    kinds = {INFLUXDB if isinstance(t, InfluxQL) else PROMETHEUS for t in targets}
    if len(kinds) != 1:
        raise ValueError("a panel queries exactly one data source")
    return kinds.pop()


def _with_targets(panel: Any, targets: Sequence[Target]) -> Any:
    for letter, target in zip(string.ascii_uppercase, targets, strict=False):
        target.ref_id(letter)  # type: ignore[attr-defined]
        panel = panel.with_target(target)
    return panel.datasource(_datasource_of(targets).ref())


def _common(
    panel: Any,
    title: str,
    description: str,
    unit: str,
    thresholds: db.ThresholdsConfig,
    size: Size,
    targets: Sequence[Target],
) -> Any:
    panel = (
        panel.title(title)
        .description(description)
        .unit(unit)
        .thresholds(thresholds)
        .span(size.w)
        .height(size.h)
    )
    return _with_targets(panel, targets)


def stat_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: db.ThresholdsConfig,
    *targets: Target,
    size: Size = QUARTER,
    no_value: str | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
    )
    if no_value is not None:
        panel = panel.no_value(no_value)
    result: stat.Panel = _common(panel, title, description, unit, thresholds, size, targets)
    return result


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: db.ThresholdsConfig,
    *targets: Target,
    size: Size = HALF,
    stacked: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    panel = timeseries.Panel().legend(
        common_builders.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
    )
    panel = panel.thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.OFF)
    )
    if stacked:
        panel = panel.stacking(
            common_builders.StackingConfig().mode(common.StackingMode.NORMAL)
        ).fill_opacity(40)
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    result: timeseries.Panel = _common(panel, title, description, unit, thresholds, size, targets)
    return result


def table_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: db.ThresholdsConfig,
    *targets: Target,
    size: Size = HALF,
    transformations: Sequence[dict[str, Any]] = (),
    links: dict[str, tuple[str, str]] | None = None,
) -> table.Panel:
    """A table; ``links`` maps a column to (title, url) of a data link on its cells."""
    panel = table.Panel().show_header(True)
    for transformation in transformations:
        panel = panel.with_transformation(
            models.DataTransformerConfig(
                id_val=transformation["id"], options=transformation.get("options", {})
            )
        )
    for column, (link_title, url) in (links or {}).items():
        panel = panel.override_by_name(
            column,
            [
                models.DynamicConfigValue(
                    id_val="links", value=[{"title": link_title, "url": url}]
                )
            ],
        )
    result: table.Panel = _common(panel, title, description, unit, thresholds, size, targets)
    return result


def bar_gauge_panel(
    title: str,
    description: str,
    unit: str,
    thresholds: db.ThresholdsConfig,
    *targets: Target,
    size: Size = HALF,
    min_value: float | None = None,
    max_value: float | None = None,
    no_value: str | None = None,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
    )
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if no_value is not None:
        panel = panel.no_value(no_value)
    result: bargauge.Panel = _common(panel, title, description, unit, thresholds, size, targets)
    return result


# --- variables, links, annotations -----------------------------------------------------------


def identity_variables(
    *, single: str | None = None, all_default: bool = True
) -> list[cogbuilder.Builder[models.VariableModel]]:
    """Chained region -> merchant -> store -> terminal variables from Prometheus.

    ``single`` names the variable that takes exactly one value (the store of the store
    dashboard, the terminal of the terminal dashboard); the others allow several and All.
    """
    metric = "posfleet_terminal_up"
    queries = {
        "region": f"label_values({metric}, region)",
        "merchant": f'label_values({metric}{{region=~"$region"}}, merchant)',
        "store": f'label_values({metric}{{region=~"$region", merchant=~"$merchant"}}, store)',
        "terminal": (
            f'label_values({metric}{{region=~"$region", merchant=~"$merchant", '
            f'store=~"$store"}}, terminal)'
        ),
    }
    variables: list[cogbuilder.Builder[models.VariableModel]] = []
    for name, query in queries.items():
        variable = (
            db.QueryVariable(name)
            .label(name.capitalize())
            .datasource(PROMETHEUS.ref())
            .query(query)
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(models.VariableSort.ALPHABETICAL_ASC)
        )
        if name != single:
            variable = variable.multi(True).include_all(True).all_value(".*")
            if all_default:
                variable = variable.current(
                    models.VariableOption(selected=True, text="All", value="$__all")
                )
        variables.append(variable)
    return variables


def dashboard_url(uid: str, *params: str) -> str:
    """A data link to another posfleet dashboard, keeping the time range."""
    query = "&".join((*params, "${__url_time_range}"))
    return f"/d/{uid}/{uid}?{query}"


def posfleet_links() -> list[cogbuilder.Builder[models.DashboardLink]]:
    return [
        db.DashboardLink("posfleet dashboards")
        .type(models.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
        .target_blank(False)
        .icon("external link")
        .tooltip("")
        .url("")
    ]


class PrometheusAnnotation(models.AnnotationQuery):
    """An annotation from a PromQL query, with the Prometheus plugin's title and tag options
    (which the SDK's generic annotation model does not carry)."""

    def __init__(self, *, title_format: str, text_format: str, tag_keys: str, step: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title_format = title_format
        self.text_format = text_format
        self.tag_keys = tag_keys
        self.step = step

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update(
            titleFormat=self.title_format,
            textFormat=self.text_format,
            tagKeys=self.tag_keys,
            step=self.step,
            useValueForTime=False,
        )
        return payload


class _Annotation(cogbuilder.Builder[models.AnnotationQuery]):
    def __init__(self, annotation: models.AnnotationQuery) -> None:
        self._annotation = annotation

    def build(self) -> models.AnnotationQuery:
        return self._annotation


def ticket_annotations(selector: str) -> list[cogbuilder.Builder[models.AnnotationQuery]]:
    """Ticket events: the firing alerts that open (and keep open) tickets at the bridge, for
    the terminals in view, and the bridge's own opened/closed counters."""
    alerts = PrometheusAnnotation(
        name="Ticket alerts",
        datasource=PROMETHEUS.ref(),
        enable=True,
        icon_color="red",
        expr=f'ALERTS{{alertstate="firing", {selector}}}',
        title_format="{{alertname}}",
        text_format="{{severity}} for team {{team}}: {{terminal}} in {{store}}",
        tag_keys="team,severity,alertname",
        step="1m",
    )
    opened = PrometheusAnnotation(
        name="Tickets opened",
        datasource=PROMETHEUS.ref(),
        enable=True,
        icon_color="orange",
        expr="sum(increase(posfleet_tickets_opened_total[$__interval])) > 0",
        title_format="tickets opened",
        text_format="{{value}} ticket(s) opened by the bridge",
        tag_keys="",
        step="1m",
    )
    closed = PrometheusAnnotation(
        name="Tickets closed",
        datasource=PROMETHEUS.ref(),
        enable=False,
        icon_color="green",
        expr="sum(increase(posfleet_tickets_closed_total[$__interval])) > 0",
        title_format="tickets closed",
        text_format="{{value}} ticket(s) closed",
        tag_keys="",
        step="1m",
    )
    return [_Annotation(alerts), _Annotation(opened), _Annotation(closed)]


class Board:
    """A dashboard under construction: panels get ids 1, 2, ... in the order added."""

    def __init__(self, uid: str, title: str, description: str) -> None:
        self.builder = (
            db.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags([TAG])
            .editable()
            .timezone("browser")
            .time("now-6h", "now")
            .refresh("1m")
            .tooltip(models.DashboardCursorSync.CROSSHAIR)
            .links(posfleet_links())
        )
        self._next_id = 1

    def add(self, *panels: Any) -> Board:
        for panel in panels:
            self.builder = self.builder.with_panel(panel.id(self._next_id))
            self._next_id += 1
        return self

    def row(self, title: str) -> Board:
        self.builder = self.builder.with_row(db.Row(title).id(self._next_id))
        self._next_id += 1
        return self
