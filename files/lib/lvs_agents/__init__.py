# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cluster's router agents: pulse, lvsd, nanny, send_arp and lvs-status (docs/agents.md)."""
