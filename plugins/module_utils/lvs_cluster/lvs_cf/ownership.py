# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which IPVS services an lvs.cf owns: the one rule for lvsd's reconcile and the drift playbook
(the ``lvs_cf_scope`` filter that gives ``ipvs_table`` its scope).

The cluster owns its virtual addresses and its firewall marks:

* every service on the address of a ``virtual`` block - any protocol, any port, the declared
  one or not - and every service of a virtual's ``fwmark`` (in either family);
* inactive virtuals included: their services are the cluster's to remove;
* nothing else: services on other addresses and other marks (another tool's, an operator's
  test service on a host address) are never touched;
* a ``service = fos`` file owns nothing (it has no IPVS services).

Why the whole address and not only the declared services: the address is the cluster's, held
by the active router and moved by pulse. A service added by hand on it lives on one router only
and is gone after a failover, so it is drift; and a service the cluster itself left behind
(a port removed from lvs.cf while lvsd was not running) is found again only this way.
"""

from __future__ import annotations

from ..ipvs.reconcile import Scope
from ..vocabulary import canonical_ip
from .ipvs import service_for_virtual
from .model import LvsConfig


def owned_scope(config: LvsConfig) -> Scope:
    """The scope of ``config``: its virtuals' addresses and marks. Raises LvsCfError for a
    virtual without an address (as ``service_for_virtual`` does)."""
    addresses: set[str] = set()
    fwmarks: set[int] = set()
    if config.service != "lvs":
        return Scope.of()
    for virtual in config.virtuals:
        service = service_for_virtual(virtual)  # refuses a virtual without an address
        if service.fwmark is not None:
            fwmarks.add(service.fwmark)
        if virtual.address is not None:
            addresses.add(canonical_ip(virtual.address.ip) or virtual.address.ip)
    return Scope.of(addresses, fwmarks)


def scope_params(scope: Scope) -> dict[str, list]:
    """A scope of addresses and marks as the ``scope_addresses`` and ``scope_fwmarks`` of
    ipvs_table (with ``scope: declared``), sorted."""
    if scope.addresses is None or scope.fwmarks is None or scope.services:
        raise ValueError("scope_params: only a scope of addresses and marks has parameters")
    return {"scope_addresses": sorted(scope.addresses), "scope_fwmarks": sorted(scope.fwmarks)}
