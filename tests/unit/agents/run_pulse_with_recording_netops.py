# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pulse with the recording netops injected, for test_pulse.py's pulse processes.

usage: run_pulse_with_recording_netops.py LOG LOCAL_ADDRESSES [PULSE ARGUMENTS...]

LOG is the recorder's JSON-lines log (and the prefix of its switch files); LOCAL_ADDRESSES,
comma-separated, are this "host"'s addresses. Needs lvs_agents and lvs_cluster importable
(PYTHONPATH)."""

from __future__ import annotations

import sys

from lvs_agents import pulse
from recording_netops import RecordingNetops


def main(argv: list[str]) -> int:
    log, local, *arguments = argv
    netops = RecordingNetops(log, [address for address in local.split(",") if address])
    return pulse.main(arguments, netops=netops)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
