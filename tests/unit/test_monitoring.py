# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""files/monitoring: the Prometheus alert rules, their promtool tests and the Grafana dashboard
read only metrics the agents export, with their labels, label values and types.

What the agents export is learnt twice and each source checks the other: from
status_metrics.py's source (every ``metrics.add("name", "kind", ...)``) and from the text
``render_metrics`` makes of the lvs-status tests' fixture documents (monitoring_samples), which
also gives each metric's labels and the values of its fixed labels (node, state, reason, ...).
promtool itself (check rules, test rules, check metrics) runs in tools/check-monitoring.sh.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitoring_samples import sample_expositions, status_fixtures
from promql_selectors import PromqlScanError, scan

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "files" / "monitoring"
RULES = MONITORING / "prometheus" / "lvs-cluster-alerts.yml"
RULE_TESTS = sorted((MONITORING / "prometheus" / "tests").glob("*.yml"))
DASHBOARD = MONITORING / "grafana" / "lvs-cluster.json"
STATUS_METRICS = REPO / "files" / "lib" / "lvs_agents" / "status_metrics.py"

# Labels Prometheus attaches from the scrape: `cluster` is the one docs/monitoring.md asks the
# operator to set when one job scrapes several clusters.
TARGET_LABELS = frozenset({"job", "instance", "cluster"})
# Series Prometheus itself writes for every target (a failed scrape is only visible there).
PROMETHEUS_SERIES = {"up": "gauge"}
TEMPLATE_VARIABLES = ("job", "cluster", "instance")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEVERITIES = {"critical", "warning"}
# Labels whose values are a vocabulary of the agents (not addresses or names from lvs.cf).
VOCABULARY_LABELS = frozenset({"agent", "node", "state", "flag", "reason"})


@dataclass
class Exported:
    """Metric name -> type, label names, and the values seen for each label."""

    types: dict[str, str] = field(default_factory=dict)
    labels: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    @property
    def all_labels(self) -> set[str]:
        return set().union(*self.labels.values())


def declared_metrics(source: str) -> dict[str, str]:
    """name -> type of every ``<anything>.add("name", "type", ...)`` call in ``source``."""
    declared = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "add" and len(node.args) >= 2 \
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                        for a in node.args[:2]):
            declared[node.args[0].value] = node.args[1].value
    return declared


@pytest.fixture(scope="module")
def exported() -> Exported:
    parse_exposition = status_fixtures().parse_exposition
    found = Exported()
    for text in sample_expositions().values():
        samples, types = parse_exposition(text)
        found.types.update(types)
        for name, labels in samples:
            found.labels.setdefault(name, set()).update(label for label, _value in labels)
            per_label = found.values.setdefault(name, {})
            for label, value in labels:
                per_label.setdefault(label, set()).add(value)
    for name, kind in PROMETHEUS_SERIES.items():
        found.types[name] = kind
        found.labels[name] = set()
    return found


def problems(expr: str, where: str, exported: Exported, every_value: bool = True) -> list[str]:
    """What in ``expr`` the agents do not export: names, labels, label values, and rate()-like
    functions of gauges. Empty when all is well. A value given with = or != must be one the
    fixtures render: for every label (``every_value``: queries, which compare only with the
    agents' vocabulary) or only for VOCABULARY_LABELS (test data, which has its own
    addresses and names)."""
    try:
        found = scan(expr)
    except PromqlScanError as error:
        return [f"{where}: {error}"]
    reported = []
    for selector in found.selectors:
        name = selector.name
        if name not in exported.types:
            reported.append(f"{where}: {name} is not a metric the agents export")
            continue
        for label, op, value in selector.matchers:
            if label in TARGET_LABELS:
                continue
            if label not in exported.labels[name]:
                reported.append(f"{where}: {name} has no label {label}")
            elif op in ("=", "!=") and "$" not in value \
                    and (every_value or label in VOCABULARY_LABELS) \
                    and value not in exported.values[name][label]:
                reported.append(f"{where}: {name}'s {label} is never {value!r} (seen: "
                                f"{sorted(exported.values[name][label])})")
        function = selector.under_counter_function
        if function and exported.types[name] != "counter":
            reported.append(f"{where}: {function}() of {name}, a {exported.types[name]}")
    for label in sorted(found.grouping_labels - exported.all_labels - TARGET_LABELS):
        reported.append(f"{where}: no metric has the label {label} it groups by")
    return reported


# --- the scanner and the checker can fail --------------------------------------------------------

def test_scan_finds_selectors_grouping_labels_and_counter_functions():
    found = scan('sum by (job, cluster) (rate(a_total{x="1", y=~"$v"}[$__rate_interval])) '
                 '> 0 unless on (job) b == 1 and ignoring (z) group_left (w) c offset 5m')
    assert [s.name for s in found.selectors] == ["a_total", "b", "c"]
    assert found.selectors[0].matchers == [("x", "=", "1"), ("y", "=~", "$v")]
    assert found.selectors[0].under_counter_function == "rate"
    assert found.selectors[1].under_counter_function is None
    assert found.grouping_labels == {"job", "cluster", "z", "w"}
    assert [s.name for s in scan("time() - t{job=\"a\"}").selectors] == ["t"]
    with pytest.raises(PromqlScanError):
        scan('{__name__="a"}')
    with pytest.raises(PromqlScanError):
        scan('a{b="c"')


@pytest.mark.parametrize(("expr", "complaint"), [
    ("lvs_cluster_pulse_activ == 0", "lvs_cluster_pulse_activ is not a metric"),
    ('lvs_cluster_pulse_info{mode="bgp"}', "lvs_cluster_pulse_info has no label mode"),
    ('lvs_cluster_pulse_info{node="pair"}', "lvs_cluster_pulse_info's node is never 'pair'"),
    ("rate(lvs_cluster_pulse_active[5m])", "rate() of lvs_cluster_pulse_active, a gauge"),
    ("count by (instnace) (lvs_cluster_ipvs_up)", "no metric has the label instnace"),
    ("lvs_cluster_ipvs_up{", "unclosed label matchers"),
])
def test_a_wrong_name_label_value_or_function_is_reported(expr, complaint, exported):
    [reported] = problems(expr, "here", exported)
    assert complaint in reported and reported.startswith("here: ")


def test_the_exported_metrics_are_those_status_metrics_declares(exported):
    declared = declared_metrics(STATUS_METRICS.read_text())
    rendered = {n: t for n, t in exported.types.items() if n not in PROMETHEUS_SERIES}
    assert len(declared) > 20, "the scan of status_metrics.py found too few metrics"
    assert rendered == declared, "the fixtures do not render every declared metric (or " \
        "status_metrics.py declares one in a way the scan does not see)"


# --- the alert rules -------------------------------------------------------------------------

def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"]]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in rules() if "alert" in rule]


def test_alert_rules_read_only_exported_metrics_and_labels(exported):
    reported = [p for rule in rules()
                for p in problems(rule["expr"], rule.get("alert", rule.get("record")),
                                  exported)]
    assert reported == []


def test_alert_rules_have_a_severity_a_summary_a_description_and_a_duration(exported):
    names = alert_names()
    assert len(names) == len(set(names)) >= 7
    for rule in rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        for text in rule["annotations"].values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in exported.all_labels | TARGET_LABELS, (rule["alert"], label)


def promtool_tests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in RULE_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            yield path, group


def test_every_alert_has_promtool_tests_where_it_fires_and_where_it_stays_quiet():
    assert RULE_TESTS, "no promtool test files"
    fires, quiet = set(), set()
    for _path, group in promtool_tests():
        for case in group.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert set(alert_names()) - fires == set(), "alerts never tested firing"
    assert set(alert_names()) - quiet == set(), "alerts never tested quiet"
    assert (fires | quiet) - set(alert_names()) == set(), "tests of alerts that do not exist"


def test_promtool_test_series_are_shaped_like_the_agents_metrics(exported):
    reported = []
    for path, group in promtool_tests():
        for series in group["input_series"]:
            where = f"{path.name}: {group.get('name', '?')}"
            reported += problems(series["series"], where, exported, every_value=False)
            assert not scan(series["series"]).grouping_labels
    assert reported == []


# --- the dashboard ---------------------------------------------------------------------------

def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target and query annotation."""
    board = dashboard()
    for panel in all_panels(board["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for annotation in board["annotations"]["list"]:
        if "expr" in annotation:
            yield f"annotation {annotation['name']!r}", annotation["expr"]


def test_dashboard_is_an_importable_grafana_dashboard():
    board = dashboard()
    assert board["uid"] and board["title"] and board["id"] is None
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in TEMPLATE_VARIABLES:
        assert variables[name]["type"] == "query" and variables[name]["datasource"] == DATASOURCE
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    ids = [panel["id"] for panel in all_panels(board["panels"])]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    taken: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        grid = panel["gridPos"]
        for cell in ((x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                     for y in range(grid["y"], grid["y"] + grid["h"])):
            assert cell not in taken, f"{panel['title']!r} overlaps {taken[cell]!r}"
            taken[cell] = panel["title"]
    for panel in all_panels(board["panels"]):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(t["datasource"] == DATASOURCE and t["expr"] for t in targets), panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]


def test_dashboard_queries_read_exported_metrics_of_the_chosen_routers(exported):
    reported = []
    for where, expr in dashboard_queries():
        reported += problems(expr, where, exported)
        for selector in scan(expr).selectors:
            for name in TEMPLATE_VARIABLES:
                if (name, "=~", f"${name}") not in selector.matchers:
                    reported.append(f"{where}: {selector.name} is not narrowed to ${name}")
    assert reported == []


def test_dashboard_variables_read_exported_metrics_and_labels(exported):
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"]
        assert variable["definition"] == query
        match = re.fullmatch(r"label_values\((.+),\s*([a-zA-Z_]\w*)\)", query)
        assert match, query
        selector, label = match.groups()
        assert problems(selector, variable["name"], exported) == []
        [read] = scan(selector).selectors
        assert label in exported.labels[read.name] | TARGET_LABELS, query


def test_dashboard_legends_name_only_labels_that_exist(exported):
    for panel in all_panels(dashboard()["panels"]):
        for target in panel.get("targets", []):
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
                assert label in exported.all_labels | TARGET_LABELS, (panel["title"], label)


def test_dashboard_shows_every_exported_metric(exported):
    shown = {s.name for _where, expr in dashboard_queries() for s in scan(expr).selectors}
    assert set(exported.types) - set(PROMETHEUS_SERIES) - shown == set()
