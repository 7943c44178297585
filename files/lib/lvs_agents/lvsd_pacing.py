# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often lvsd's full resync runs: every ``--resync`` seconds, or less often when one resync
costs more CPU than ``--resync-budget`` (a share of one core) of that period.

A resync reads the whole IPVS table, exactly (every field of every destination, so that any
hand edit is found and undone). At 10,000 services of 10 destinations that read takes about 3 s
of CPU in a lab guest; every 10 s it would be a third of a core for ever. With the budget the
period stretches to what the table's size makes affordable (the period in force is in lvsd.json
and the log), and a hand edit is undone within that period instead. Pure: no clock, no I/O.
"""

from __future__ import annotations

DEFAULT_BUDGET_PERCENT = 4.0


class ResyncPacer:
    """The period of the next resync from the CPU the last one took."""

    def __init__(self, minimum: float, budget: float = DEFAULT_BUDGET_PERCENT / 100) -> None:
        if minimum <= 0 or not 0 < budget <= 1:
            raise ValueError("a positive period and a budget in (0, 1] are required")
        self.minimum = minimum
        self.budget = budget
        self.period = minimum
        self.last_cpu: float | None = None

    def after(self, cpu_seconds: float) -> float:
        """The period until the next resync, given the CPU seconds the last one took."""
        self.last_cpu = cpu_seconds
        self.period = max(self.minimum, cpu_seconds / self.budget)
        return self.period

    @property
    def stretched(self) -> bool:
        return self.period > self.minimum

    def status(self) -> dict[str, object]:
        return {"period": round(self.period, 3), "minimum": self.minimum,
                "budget_percent": round(self.budget * 100, 3),
                "last_cpu_seconds": None if self.last_cpu is None else round(self.last_cpu, 4)}
