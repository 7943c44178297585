# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an import returns: the router role's variables that reproduce an existing router's
configuration, and each construct of the source that they cannot carry, with file and line.

``router_vars`` holds only role variables (roles/router/meta/argument_specs.yml): values the
role's defaults already give are left out, so the result is what an operator would write.
``hosts`` holds what belongs in host_vars, by the role each host had in the source (``primary``,
``backup``): for example ``{"primary": {"router_public_address": "192.0.2.1"}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unsupported:
    """A construct the role's variables cannot express: where it is and why it is left out."""

    file: str
    line: int | None
    construct: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "construct": self.construct,
                "reason": self.reason}

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}: {self.construct}: {self.reason}"


class SourceError(ValueError):
    """A source that cannot be read at all (malformed, or refused as a whole): one line naming
    file, line and what is wrong."""

    def __init__(self, reason: str, *, file: str, line: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        where = file if line is None else f"{file} line {line}"
        super().__init__(f"{where}: {reason}")


@dataclass
class ImportResult:
    """``router_vars`` for group_vars, ``hosts`` for host_vars by the source's router role,
    ``unsupported`` in source order, ``format`` the recognised format (``piranha``,
    ``keepalived``), ``sources`` every file read (includes too), and ``this_router`` what the source
says of the router it was read on where the format has it (keepalived's VRRP ``state``,
``priority``, ``unicast_src_ip`` as ``address``, ``unicast_peer`` as ``peer``): the import
playbook compares it across the routers to tell primary from backup."""

    format: str
    router_vars: dict[str, Any] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    unsupported: list[Unsupported] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    this_router: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "router_vars": self.router_vars, "hosts": self.hosts,
                "unsupported": [item.as_dict() for item in self.unsupported],
                "sources": list(self.sources), "this_router": dict(self.this_router)}
