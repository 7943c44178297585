# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How lvsd.json names an IPVS service: lvsd writes both, lvs-status reads the key.

* ``service``: ipvsadm's text (``TCP 10.0.0.1:80``, ``UDP [2001:db8::1]:53``, ``FWM 5``,
  ``FWM 5 IPv6``), for people and metric labels; never parsed back.
* ``service_key``: the fields of ``Service.key``, ``{"family", "protocol", "address", "port"}``
  or ``{"family", "fwmark"}``; what lvs-status matches the kernel's table by.
"""

from __future__ import annotations

from typing import Any

from lvs_cluster.ipvs.model import Service, ServiceKey


def service_label(service: Service) -> str:
    """ipvsadm's name of a service: ``TCP 10.0.0.1:80``, ``UDP [2001:db8::1]:53``, ``FWM 5``."""
    if service.fwmark is not None:
        return f"FWM {service.fwmark}" + (" IPv6" if service.family == "inet6" else "")
    host = f"[{service.address}]" if service.family == "inet6" else service.address
    return f"{(service.protocol or '').upper()} {host}:{service.port}"


def service_key_document(service: Service) -> dict[str, Any]:
    """The ``service_key`` lvsd writes for a service."""
    if service.fwmark is not None:
        return {"family": service.family, "fwmark": service.fwmark}
    return {"family": service.family, "protocol": service.protocol,
            "address": service.address, "port": service.port}


def service_key(document: object) -> ServiceKey | None:
    """The key of a ``service_key`` as lvsd.json holds it, comparable with ``Service.key``;
    None for anything else (a missing key: an lvsd.json written before lvsd wrote keys)."""
    if not isinstance(document, dict):
        return None
    fields = ("family", "protocol", "address", "port", "fwmark")
    try:
        return Service(*(document.get(name) for name in fields)).key
    except (ValueError, TypeError):
        return None
