# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS modules document the same options alike: ipvs_table's suboptions (where a doc
fragment cannot reach) say what the fragments say for ipvs_service and ipvs_real_server, and
every documented option is in the argument spec with the same type, choices and default."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from plugins.module_utils.lvs_cluster.ipvs import options as ipvs
from plugins.modules import ipvs_real_server, ipvs_service, ipvs_table

# doc_fragments is not registered as a package by tests/unit/conftest.py: load it by path.
_spec = importlib.util.spec_from_file_location(
    "ipvs_fragment",
    Path(__file__).resolve().parents[4] / "plugins" / "doc_fragments" / "ipvs.py")
fragment = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fragment)

SERVICE = yaml.safe_load(fragment.ModuleDocFragment.SERVICE)["options"]
DESTINATION = yaml.safe_load(fragment.ModuleDocFragment.DESTINATION)["options"]
TABLE = yaml.safe_load(ipvs_table.DOCUMENTATION)["options"]
REAL_SERVER = yaml.safe_load(ipvs_real_server.DOCUMENTATION)["options"]


def text(option):
    """An option's description as one line, option references without their parents."""
    joined = " ".join(option["description"])
    joined = re.sub(r"O\((services\[\]\.)?(destinations\[\]\.)?", "O(", joined)
    return re.sub(r"\s+", " ", joined)


def shape(option):
    return {k: option.get(k) for k in ("type", "elements", "choices", "default", "required")}


@pytest.mark.parametrize("name", sorted(SERVICE))
def test_ipvs_table_documents_service_options_as_the_fragment(name):
    assert shape(TABLE["services"]["suboptions"][name]) == shape(SERVICE[name])
    assert text(TABLE["services"]["suboptions"][name]) == text(SERVICE[name])


@pytest.mark.parametrize("name", sorted(DESTINATION))
def test_ipvs_table_documents_destination_options_as_the_fragment(name):
    documented = TABLE["services"]["suboptions"]["destinations"]["suboptions"][name]
    assert shape(documented) == shape(DESTINATION[name])
    assert text(documented) == text(DESTINATION[name])


@pytest.mark.parametrize("name", sorted(ipvs.service_identity_spec()))
def test_ipvs_real_server_service_identity_has_the_fragment_s_shape(name):
    assert shape(REAL_SERVER["service"]["suboptions"][name]) == shape(SERVICE[name])


def spec_shape(spec):
    return {k: (v if not isinstance(v, list) else list(v)) for k, v in
            {"type": spec.get("type", "str"), "elements": spec.get("elements"),
             "choices": spec.get("choices"), "default": spec.get("default"),
             "required": spec.get("required")}.items()}


def doc_shape(option):
    out = shape(option)
    out["required"] = out["required"] or None
    return out


@pytest.mark.parametrize("spec, documented", [
    (ipvs.service_spec(), SERVICE),
    (ipvs.destination_spec(), DESTINATION),
])
def test_fragments_match_the_argument_specs(spec, documented):
    assert set(spec) == set(documented)
    for name, option in spec.items():
        assert doc_shape(documented[name]) == spec_shape(option), name


def test_the_fragment_is_valid_yaml():
    for name in ("DOCUMENTATION", "SERVICE", "DESTINATION"):
        assert isinstance(yaml.safe_load(getattr(fragment.ModuleDocFragment, name)), dict)


def test_the_modules_use_the_fragments():
    assert "lvs.cluster.ipvs.service" in ipvs_service.DOCUMENTATION
    assert "lvs.cluster.ipvs.destination" in ipvs_real_server.DOCUMENTATION
