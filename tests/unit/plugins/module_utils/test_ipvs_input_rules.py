# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address checks of the IPVS options share the model's one parse of each address: a table
of 10,000 services x 10 destinations names 110,000 addresses, and each was parsed three times."""

from __future__ import annotations

import ipaddress

from plugins.module_utils.lvs_cluster import vocabulary
from plugins.module_utils.lvs_cluster.ipvs import input_rules, options


def test_each_address_of_a_table_is_parsed_once(monkeypatch):
    for cached in (vocabulary._parsed_text, input_rules.host_address_problem,  # pylint: disable=protected-access
                   input_rules.real_server_address_problem):
        cached.cache_clear()
    parsed = []
    real = ipaddress.ip_address

    def counting(text):
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(ipaddress, "ip_address", counting)
    services = [{"protocol": "tcp", "address": f"192.0.2.{n}", "port": 80, "fwmark": None,
                 "family": None, "scheduler": "wlc", "persistence_timeout": 0,
                 "persistence_netmask": None, "one_packet": False, "scheduler_flags": [],
                 "pe_name": None,
                 "destinations": [{"address": f"10.0.{n}.{d}", "port": 80, "forwarding": "nat",
                                   "weight": 1, "upper_threshold": 0, "lower_threshold": 0,
                                   "tunnel_type": None, "tunnel_port": None,
                                   "tunnel_flags": []} for d in (1, 2)]}
                for n in (1, 2, 3)]
    table = options.table_from_params(services)
    assert len(table) == 3
    assert sorted(parsed) == sorted(set(parsed)) and len(parsed) == 9  # 3 VIPs, 6 servers


def test_a_text_that_is_no_address_is_still_a_value_error():
    try:
        input_rules.host_address_problem("not-an-address")
    except ValueError as error:
        assert "not-an-address" in str(error)
    else:
        raise AssertionError("no ValueError")
