# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a router's IPVS reconcile owns, from lvs.cf: the one rule lvsd and the drift playbook
share (``lvs_cf.ownership.owned_scope``). The cluster owns its virtual addresses (every
protocol and port on them) and its firewall marks, active or not; nothing else."""

from __future__ import annotations

import pytest

from plugins.module_utils.lvs_cluster.ipvs.model import Service
from plugins.module_utils.lvs_cluster.ipvs.reconcile import Scope
from plugins.module_utils.lvs_cluster.lvs_cf.ownership import owned_scope
from plugins.module_utils.lvs_cluster.lvs_cf.shells import load

# web: tcp 192.0.2.10:80; v6: tcp [2001:db8::10]:443; mark: fwmark 7 on 192.0.2.11;
# idle: not active, 192.0.2.12:80.
LVS_CF = """\
service = lvs
primary = 192.0.2.1
network = direct
virtual web {
    active = 1
    address = 192.0.2.10 eth0:1
    port = 80
    sorry_server = 192.0.2.99
    server a {
        address = 10.0.0.1
        active = 1
    }
}
virtual v6 {
    active = 1
    address = 2001:db8::10 eth0
    port = 443
    server a6 {
        address = 2001:db8::1
        active = 1
    }
}
virtual mark {
    active = 1
    address = 192.0.2.11 eth0:2
    fwmark = 7
    port = 80
    server m1 {
        address = 10.0.0.3
        active = 1
    }
}
virtual idle {
    active = 0
    address = 192.0.2.12 eth0:3
    port = 80
    server i1 {
        address = 10.0.0.4
        active = 1
    }
}
"""


def scope_of(text=LVS_CF) -> Scope:
    config, _warnings = load(content=text)
    return owned_scope(config)


def tcp(address, port, family="inet"):
    return Service(family, "tcp", address, port)


@pytest.mark.parametrize("service", [
    tcp("192.0.2.10", 80),                                  # declared
    tcp("192.0.2.10", 9999),                                # added by hand on another port
    Service("inet", "udp", "192.0.2.10", 53),               # another protocol of the VIP
    Service("inet", "tcp", "192.0.2.10", 0, flags=frozenset({"persistent"}), timeout=60),
    tcp("2001:db8::10", 8443, "inet6"),                     # another port of an IPv6 VIP
    Service("inet", None, None, None, fwmark=7),            # the declared mark
    Service("inet6", None, None, None, fwmark=7),           # the mark in the other family
    tcp("192.0.2.11", 443),                                 # the address of the fwmark virtual
    tcp("192.0.2.12", 80),                                  # an inactive virtual's service
    tcp("192.0.2.12", 8080),                                # ... and its address
], ids=str)
def test_the_cluster_owns_every_service_of_its_vips_and_marks(service):
    assert scope_of().owns(service)


@pytest.mark.parametrize("service", [
    tcp("192.0.2.50", 80),                                  # another address
    tcp("192.0.2.99", 80),                                  # the sorry server's address
    tcp("10.0.0.1", 80),                                    # a real server's address
    Service("inet", None, None, None, fwmark=8),            # another mark
], ids=str)
def test_the_cluster_owns_nothing_else(service):
    assert not scope_of().owns(service)


def test_a_failover_only_file_owns_no_service():
    """A fos file has no IPVS services: its failover addresses are not IPVS's."""
    scope = scope_of("service = fos\nprimary = 192.0.2.1\n"
                     "failover ftp {\n active = 1\n address = 192.0.2.20 eth0:1\n port = 21\n"
                     " start_cmd = \"/bin/true\"\n stop_cmd = \"/bin/true\"\n}\n")
    assert not scope.owns(tcp("192.0.2.20", 21))
    assert not scope.owns(Service("inet", None, None, None, fwmark=7))


def test_a_reload_owns_the_old_and_the_new_file_until_the_next_reconcile():
    old = scope_of()
    new = scope_of(LVS_CF.replace("192.0.2.10 eth0:1", "192.0.2.20 eth0:1"))
    both = old.union(new)
    assert both.owns(tcp("192.0.2.10", 9999)) and both.owns(tcp("192.0.2.20", 9999))
    assert not both.owns(tcp("192.0.2.50", 80))
    assert Scope.everything().union(old) == Scope.everything()
