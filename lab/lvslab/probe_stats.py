"""Whether a probe's failures during an event are more than the same probe's failures with
nothing happening could give by chance (a one-sided binomial test). Used by the agents' tests
(``ProbeResult.more_failures_than``) and, as a command, by the scale-out scenario:

    python3 -m lvslab.probe_stats FAILED REQUESTS QUIET_FAILED QUIET_REQUESTS

prints the comparison and exits 1 when the event's failures are significant at 1 %.
"""

from __future__ import annotations

import math
import sys


def excess_failures_p(failed: int, requests: int, quiet_failed: int, quiet_requests: int,
                      significance: float = 0.01) -> float | None:
    """The one-sided p-value when ``failed`` of ``requests`` is more than ``quiet_failed`` of
    ``quiet_requests`` explains (below ``significance``), else None.

    With the same failure rate in both, each of the failures of the two runs fell in this one
    with probability requests / (requests + quiet_requests), so the chance of at least this many
    here is a binomial tail."""
    total = failed + quiet_failed
    share = requests / (requests + quiet_requests)
    tail = sum(math.comb(total, k) * share ** k * (1 - share) ** (total - k)
               for k in range(failed, total + 1))
    return tail if tail < significance else None


def main(argv: list[str]) -> int:
    failed, requests, quiet_failed, quiet_requests = (int(a) for a in argv)
    p = excess_failures_p(failed, requests, quiet_failed, quiet_requests)
    verdict = (f"more than nothing happening explains (p = {p:.4f})" if p is not None
               else "within what nothing happening explains")
    print(f"{failed} of {requests} failed, {quiet_failed} of {quiet_requests} with nothing "
          f"happening: {verdict}")
    return 1 if p is not None else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
