# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a PromQL expression reads: its metric selectors (name and matcher labels), the labels
of its grouping clauses (``by``, ``without``, ``on``, ``ignoring``, ``group_left/right``), and
which selectors a ``rate``-like function is applied to. A tokenizer and a scan, not a parser:
enough to check that the shipped rules and dashboard use only what the agents export.

Grafana's ``$variables`` may stand where PromQL has a string or a duration (``"$job"``,
``[$__rate_interval]``); both are skipped as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<variable>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
  | (?P<matcher>=~|!~|!=|==|=)
  | (?P<punct>[(){},])
  | (?P<operator>[-+*/%^<>]=?)
""", re.VERBOSE)

AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio"})
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})


class PromqlScanError(ValueError):
    pass


@dataclass
class Selector:
    name: str
    matchers: list[tuple[str, str, str]] = field(default_factory=list)  # (label, op, value)
    under_counter_function: str | None = None  # "rate" for rate(name[5m])

    @property
    def labels(self) -> set[str]:
        return {label for label, _op, _value in self.matchers}


@dataclass
class Scan:
    selectors: list[Selector] = field(default_factory=list)
    grouping_labels: set[str] = field(default_factory=set)


def tokens(expr: str) -> list[tuple[str, str]]:
    found, at = [], 0
    while at < len(expr):
        match = TOKEN.match(expr, at)
        if not match:
            raise PromqlScanError(f"cannot read {expr[at:at + 20]!r} in {expr!r}")
        at = match.end()
        if match.lastgroup != "space":
            found.append((match.lastgroup or "", match.group()))
    return found


def scan(expr: str) -> Scan:
    """The selectors and grouping labels of ``expr``."""
    result = Scan()
    items = tokens(expr)
    pending_function: str | None = None
    i = 0
    while i < len(items):
        kind, text = items[i]
        following = items[i + 1][1] if i + 1 < len(items) else None
        if kind == "ident" and text in GROUPING:
            i += 1
            if following == "(":
                i, labels = _label_list(items, i, expr)
                result.grouping_labels |= labels
            continue
        if kind == "ident" and (text in KEYWORDS or text in AGGREGATIONS
                                or following == "("):
            if text in COUNTER_FUNCTIONS:
                pending_function = text
            i += 1
            continue
        if kind == "ident" or (kind == "punct" and text == "{"):
            selector = Selector("" if text == "{" else text)
            i += 0 if text == "{" else 1
            if i < len(items) and items[i][1] == "{":
                i, selector.matchers = _matchers(items, i, expr)
            if not selector.name:
                raise PromqlScanError(f"a selector without a metric name in {expr!r}")
            selector.under_counter_function = pending_function
            pending_function = None
            result.selectors.append(selector)
            continue
        i += 1
    return result


def _label_list(items: list[tuple[str, str]], i: int, expr: str) -> tuple[int, set[str]]:
    """``(a, b)`` starting at ``items[i]``: the index after it and the names."""
    labels = set()
    i += 1
    while i < len(items) and items[i][1] != ")":
        kind, text = items[i]
        if kind == "ident":
            labels.add(text)
        elif text != ",":
            raise PromqlScanError(f"unexpected {text!r} in a label list of {expr!r}")
        i += 1
    if i == len(items):
        raise PromqlScanError(f"unclosed label list in {expr!r}")
    return i + 1, labels


def _matchers(items: list[tuple[str, str]], i: int,
              expr: str) -> tuple[int, list[tuple[str, str, str]]]:
    """``{a="x", b=~"$v"}`` starting at ``items[i]``: the index after it and the matchers as
    (label, operator, value without its quotes)."""
    matchers = []
    i += 1
    while i < len(items) and items[i][1] != "}":
        if items[i][1] == ",":
            i += 1
            continue
        window = items[i:i + 3]
        if len(window) < 3 or window[0][0] != "ident" or window[1][0] != "matcher" \
                or window[2][0] != "string":
            raise PromqlScanError(f"cannot read the label matchers of {expr!r}")
        if window[0][1] == "__name__":
            raise PromqlScanError(f"a metric name given as __name__ in {expr!r}: write it "
                                  "as a name")
        matchers.append((window[0][1], window[1][1], window[2][1][1:-1]))
        i += 3
    if i == len(items):
        raise PromqlScanError(f"unclosed label matchers in {expr!r}")
    return i + 1, matchers
