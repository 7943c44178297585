# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter lvs.cluster.bgp_settings_problems and its rule (``bgp_settings.bgp_problems``): every
bad bgp-mode variable is named, each good one passes."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter import bgp_settings as filters

GOOD = {"router_bgp_asn": 65001, "router_bgp_router_id": "",
        "router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 65000},
                                 {"address": "fd98:2::1", "remote_as": "65000", "bfd": False,
                                  "password": "s3cret", "description": "edge"}],
        "router_bgp_keepalive": 3, "router_bgp_holdtime": 9,
        "router_bfd_detect_multiplier": 3, "router_bfd_interval_ms": 300,
        "router_bgp_min_healthy": 1, "router_bgp_drain": 2}


def problems(**changes):
    return filters.FilterModule().filters()["bgp_settings_problems"]({**GOOD, **changes})


def test_good_settings_have_no_problem():
    assert problems() == []
    assert problems(router_bgp_asn=4294967295, router_bgp_holdtime=0, router_bgp_drain=0.5,
                    router_bgp_router_id="10.0.0.1") == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"router_bgp_asn": 0}, "router_bgp_asn: 0 is not an AS number (1-4294967295)"),
    ({"router_bgp_asn": 4294967296}, "router_bgp_asn: 4294967296 is not an AS number"),
    ({"router_bgp_asn": True}, "router_bgp_asn: True is not an AS number"),
    ({"router_bgp_asn": "65001x"}, "router_bgp_asn: '65001x' is not an AS number"),
    ({"router_bgp_router_id": "fd98::1"}, "router_bgp_router_id: 'fd98::1' is not a dotted IPv4"),
    ({"router_bgp_neighbors": []}, "router_bgp_neighbors: bgp mode needs at least one neighbour"),
    ({"router_bgp_neighbors": "10.254.2.1"}, "router_bgp_neighbors: bgp mode needs at least one"),
    ({"router_bgp_neighbors": ["10.254.2.1"]},
     "router_bgp_neighbors[0]: expected a mapping with address and remote_as"),
    ({"router_bgp_neighbors": [{"address": "edge", "remote_as": 65000}]},
     "router_bgp_neighbors[0].address: 'edge' is not an IP address"),
    ({"router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 70000000000}]},
     "router_bgp_neighbors[0].remote_as: 70000000000 is not an AS number (1-4294967295)"),
    ({"router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 1},
                               {"address": "10.254.2.1", "remote_as": 1}]},
     "router_bgp_neighbors[1].address: 10.254.2.1 is listed twice"),
    ({"router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 1, "bfd": "yes"}]},
     "router_bgp_neighbors[0].bfd: 'yes' is not true or false"),
    ({"router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 1, "pasword": "x"}]},
     "router_bgp_neighbors[0]: unknown key(s) pasword"),
    ({"router_bgp_neighbors": [{"address": "10.254.2.1", "remote_as": 1, "password": "a b"}]},
     "router_bgp_neighbors[0].password: a string of at most 80 characters without spaces"),
    ({"router_bgp_keepalive": 70000}, "router_bgp_keepalive: 70000 is not a keepalive time"),
    ({"router_bgp_holdtime": 2}, "router_bgp_holdtime: 2 is not a hold time in seconds (or 0) "
                                 "(3-65535)"),
    ({"router_bfd_detect_multiplier": 1}, "router_bfd_detect_multiplier: 1 is not a BFD detect "
                                          "multiplier (2-255)"),
    ({"router_bfd_interval_ms": 5}, "router_bfd_interval_ms: 5 is not a BFD interval in "
                                    "milliseconds (10-60000)"),
    ({"router_bgp_min_healthy": 0}, "router_bgp_min_healthy: 0 is not a number of real servers"),
    ({"router_bgp_drain": -1}, "router_bgp_drain: -1 is not a number of seconds (0-3600)"),
    ({"router_bgp_drain": "soon"}, "router_bgp_drain: 'soon' is not a number of seconds"),
])
def test_each_bad_value_is_named(changes, message):
    found = problems(**changes)
    assert len(found) == 1, found
    assert found[0].startswith(message)


def test_every_problem_is_reported_at_once():
    found = problems(router_bgp_asn=0, router_bfd_interval_ms=0, router_bgp_neighbors=[])
    assert [p.split(":")[0] for p in found] == [
        "router_bgp_asn", "router_bgp_neighbors", "router_bfd_interval_ms"]


def test_not_a_dictionary_fails_the_task():
    with pytest.raises(AnsibleFilterError, match="expects a dictionary"):
        filters.bgp_settings_problems([1])
