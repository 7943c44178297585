# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule from health verdicts to a virtual service's destinations.

lvsd programs the kernel by it (its own verdicts) and the ``lvs_cf_expected_table`` filter
predicts the kernel by it (lvsd's verdicts as lvsd.json reports them). Pure; standard library
only, no ansible imports.

* A real server in the table is there at its current weight (0: quiesced), at its full weight
  (the lvs.cf-declared destination) when no current weight is given; out of the table it is
  absent.
* A real server *carries traffic* when it is in the table at a weight above 0.
* The sorry server stands in (weight 1, as declared) while it is healthy and no real server
  carries traffic; a caller that knows whether it stands in (lvsd's ``sorry_active``) says so.
* A sorry server that is also a present real server is listed once, as the real server.
* Order: the real servers in the given order, then the sorry server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .ipvs.model import Destination, DestinationKey


@dataclass(frozen=True)
class Standing:
    """A checked server's verdict as far as the table goes: in it or not, at what weight
    (None: its full weight, which for a real server of lvs.cf is at least 1)."""

    in_table: bool
    weight: int | None = None

    @property
    def carries_traffic(self) -> bool:
        return self.in_table and (self.weight is None or self.weight > 0)


def placed(destination: Destination, standing: Standing) -> Destination | None:
    """A real server (``destination`` at full weight) as its standing puts it in the table,
    or None when it is out."""
    if not standing.in_table:
        return None
    if standing.weight is None or standing.weight == destination.weight:
        return destination
    return replace(destination, weight=standing.weight)


def sorry_stands_in(sorry_healthy: bool, members: Iterable[Standing]) -> bool:
    """Whether the sorry server stands in: it is healthy and no real server carries
    traffic."""
    return sorry_healthy and not any(member.carries_traffic for member in members)


def virtual_destinations(members: Iterable[tuple[Destination, Standing]],
                         sorry: Destination | None = None, *,
                         sorry_healthy: bool = True, sorry_standing: bool | None = None
                         ) -> tuple[Destination, ...]:
    """A virtual's destinations: its real servers (each at full weight, with its standing) as
    ``placed`` puts them, then the sorry server (``sorry``, None for none) while it stands in:
    as ``sorry_standing`` says when that is known, else by ``sorry_stands_in(sorry_healthy,
    the members' standings)``."""
    present: dict[DestinationKey, Destination] = {}
    standings = []
    for destination, standing in members:
        standings.append(standing)
        judged = placed(destination, standing)
        if judged is not None:
            present[judged.key] = judged
    if sorry is not None and sorry.key not in present:
        stands = sorry_standing if sorry_standing is not None else \
            sorry_stands_in(sorry_healthy, standings)
        if stands:
            present[sorry.key] = sorry
    return tuple(present.values())
