# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters lvs.cluster.lvs_cf_parse and lvs.cluster.lvs_cf_render."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter import lvs_cf as filters
from plugins.module_utils._lvs_cf_shells import canonical_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lvs_cf"


@pytest.fixture
def example_b():
    return (FIXTURES / "example_b.cf").read_text()


@pytest.fixture
def shown(monkeypatch):
    warnings = []
    monkeypatch.setattr(filters.display, "warning", warnings.append)
    return warnings


def test_filters_are_registered():
    registered = filters.FilterModule().filters()
    assert registered == {
        "lvs_cf_parse": filters.lvs_cf_parse,
        "lvs_cf_render": filters.lvs_cf_render,
    }


def test_parse_returns_the_module_s_model(example_b, shown):
    config, _text, _warnings = canonical_text(content=example_b)
    assert filters.lvs_cf_parse(example_b) == config
    assert [v["name"] for v in config["virtuals"]] == ["web_bundle", "smtp", "dns"]


def test_render_of_parse_is_canonical(example_b, shown):
    _config, text, _warnings = canonical_text(content=example_b)
    assert filters.lvs_cf_render(filters.lvs_cf_parse(example_b)) == text
    # and canonical text is a fixed point
    assert filters.lvs_cf_render(filters.lvs_cf_parse(text)) == text


def test_parse_accepts_bytes(example_b, shown):
    assert filters.lvs_cf_parse(example_b.encode()) == filters.lvs_cf_parse(example_b)


def test_parse_error_has_the_source_and_line(shown):
    with pytest.raises(AnsibleFilterError) as err:
        filters.lvs_cf_parse("service = lvs\nweight = 3\n", "files/lvs.cf")
    assert "lvs_cf_parse: files/lvs.cf line 2" in str(err.value)


def test_parse_default_source_name(shown):
    with pytest.raises(AnsibleFilterError, match=r"lvs\.cf line 1, column 1: unknown command"):
        filters.lvs_cf_parse("bogus = 1\n")


def test_parse_rejects_non_text(shown):
    with pytest.raises(AnsibleFilterError, match="expects lvs.cf text, got dict"):
        filters.lvs_cf_parse({"service": "lvs"})


def test_render_error_names_the_field(example_b, shown):
    config = filters.lvs_cf_parse(example_b)
    config["virtuals"][0]["scheduler"] = "fastest"
    with pytest.raises(AnsibleFilterError) as err:
        filters.lvs_cf_render(config)
    assert "lvs_cf_render: config" in str(err.value)
    assert "virtuals[0].scheduler" in str(err.value)


def test_render_rejects_non_mapping(shown):
    with pytest.raises(AnsibleFilterError, match="expects the lvs.cf model as a dictionary"):
        filters.lvs_cf_render("service = lvs\n")


def test_warnings_are_displayed(example_b, shown):
    text = example_b.replace("deadtime = 12", "deadtime = 12\nkeepalive = 20")
    filters.lvs_cf_parse(text, "x.cf")
    assert shown, "expected a warning"
    assert all(w.startswith("x.cf") for w in shown)
