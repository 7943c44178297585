#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_info
short_description: Read the kernel's IPVS table, timeouts and sync daemons
version_added: 1.0.0
description:
  - Returns the live IPVS (Linux Virtual Server) table - every virtual service with its
    destinations (real servers), their connection counts and traffic counters - the
    connection timeouts and the connection synchronisation daemons, as C(ipvsadm -L -n
    --stats), C(--timeout) and C(--daemon) show them.
  - Changes nothing.
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  stats:
    description:
      - Include the counters - C(stats) of each service and destination, and the connection
        counts of each destination.
      - With V(false) the RV(services) list holds only options, exactly what
        O(lvs.cluster.ipvs_table#module:services) accepts, so it can be saved and applied
        again.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
attributes:
  check_mode:
    support: full
    details:
      - The module never changes anything, in check mode or not.
  diff_mode:
    support: N/A
    details:
      - The module never changes anything.
  platform:
    platforms: linux
seealso:
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_real_server
"""

EXAMPLES = r"""
- name: Read the IPVS table
  lvs.cluster.ipvs_info:
  register: ipvs

- name: Show each real server's active connections
  ansible.builtin.debug:
    msg: >-
      {{ item.0.address }}:{{ item.0.port }} -> {{ item.1.address }}:{{ item.1.port }}
      weight {{ item.1.weight }}, {{ item.1.active_connections }} active
  loop: "{{ results.services | subelements('destinations') }}"
  loop_control:
    label: "{{ item.1.address }}"

- name: Save the live table as a declaration
  lvs.cluster.ipvs_info:
    stats: false
  register: saved

- name: Put it back later, exactly
  lvs.cluster.ipvs_table:
    services: "{{ saved.services }}"
    scope: all
"""

RETURN = r"""
services:
  description:
    - Every virtual service, IPv4 by address, IPv6 by address, then firewall-mark services,
      each with the options of M(lvs.cluster.ipvs_service) and C(destinations).
    - Options that do not apply are left out (not V(null)), so that each entry is valid input
      for the modules.
  returned: always
  type: list
  elements: dict
  contains:
    family:
      description: V(inet) or V(inet6).
      type: str
    protocol:
      description: V(tcp), V(udp) or V(sctp).
      type: str
      returned: a service by address
    address:
      description: The virtual IP address.
      type: str
      returned: a service by address
    port:
      description: The virtual port.
      type: int
      returned: a service by address
    fwmark:
      description: The firewall mark.
      type: int
      returned: a firewall-mark service
    scheduler:
      description: The scheduler.
      type: str
    persistence_timeout:
      description: Persistence in seconds; V(0) when not persistent.
      type: int
    persistence_netmask:
      description: The persistence granularity as a prefix length.
      type: int
      returned: a persistence granularity coarser than one client is set
    one_packet:
      description: One-packet scheduling.
      type: bool
    scheduler_flags:
      description: Flags of the V(sh) or V(mh) scheduler.
      type: list
      elements: str
    pe_name:
      description: The persistence engine.
      type: str
      returned: a persistence engine is set
    stats:
      description:
        - Traffic counters - C(conns), C(inpkts), C(outpkts), C(inbytes), C(outbytes) since
          the service was added, and the rates C(cps), C(inpps), C(outpps), C(inbps),
          C(outbps) (per second).
      type: dict
      returned: O(stats=true)
    destinations:
      description:
        - The service's destinations (real servers), each with the options of
          M(lvs.cluster.ipvs_real_server) (C(tunnel_type) only when C(forwarding) is
          V(tunnel), C(tunnel_port) only when set).
        - With O(stats=true) also C(active_connections), C(inactive_connections),
          C(persistent_connections) and C(stats) (the same counters as the service's).
      type: list
      elements: dict
  sample:
    - family: inet
      protocol: tcp
      address: 192.0.2.10
      port: 80
      scheduler: wlc
      persistence_timeout: 0
      one_packet: false
      scheduler_flags: []
      stats: {conns: 120, inpkts: 800, outpkts: 0, inbytes: 52000, outbytes: 0, cps: 1,
              inpps: 6, outpps: 0, inbps: 410, outbps: 0}
      destinations:
        - address: 192.0.2.21
          port: 80
          forwarding: direct
          weight: 1
          upper_threshold: 0
          lower_threshold: 0
          tunnel_flags: []
          active_connections: 3
          inactive_connections: 10
          persistent_connections: 0
          stats: {conns: 60, inpkts: 400, outpkts: 0, inbytes: 26000, outbytes: 0, cps: 0,
                  inpps: 3, outpps: 0, inbps: 205, outbps: 0}
timeouts:
  description: The connection timeouts in seconds (C(ipvsadm --set)).
  returned: always
  type: dict
  contains:
    tcp:
      description: Established TCP connections.
      type: int
    tcp_fin:
      description: TCP connections after a FIN.
      type: int
    udp:
      description: UDP.
      type: int
  sample: {tcp: 900, tcp_fin: 120, udp: 300}
sync_daemons:
  description:
    - The running connection synchronisation daemons (C(ipvsadm --start-daemon)) - at most
      one V(master) and one V(backup).
  returned: always
  type: list
  elements: dict
  contains:
    state:
      description: V(master) (sends) or V(backup) (receives).
      type: str
    interface:
      description: The multicast interface.
      type: str
    sync_id:
      description: The synchronisation id.
      type: int
    max_len:
      description: The largest sync message, in bytes.
      type: int
    group:
      description: The multicast group.
      type: str
    port:
      description: The UDP port.
      type: int
    ttl:
      description: The multicast TTL.
      type: int
  sample:
    - {state: master, interface: eth1, sync_id: 7, max_len: 1472, group: 224.0.0.81,
       port: 8848, ttl: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import ipvs_module
from ..module_utils.lvs_cluster.ipvs import netlink as nl
from ..module_utils.lvs_cluster.ipvs import results


def main():
    module = AnsibleModule(argument_spec=dict(stats=dict(type="bool", default=True)),
                           supports_check_mode=True)
    with_stats = module.params["stats"]
    with ipvs_module.kernel(module) as kernel:
        try:
            live = nl.read_live(kernel)
            timeouts = kernel.timeouts()
            daemons = kernel.daemons()
        except nl.IpvsNetlinkError as err:
            ipvs_module.fail(module, err)

    services = []
    for service, stats, dests in sorted(live, key=lambda item: results.sort_key(item[0])):
        entry = results.service_result(service)
        if with_stats:
            entry["stats"] = results.stats_result(stats)
        entry["destinations"] = []
        for dest, state in sorted(dests, key=lambda item: results.dest_sort_key(item[0])):
            dest_entry = results.destination_result(dest)
            if with_stats:
                dest_entry.update(results.destination_state_result(state))
            entry["destinations"].append(dest_entry)
        services.append(entry)
    module.exit_json(
        changed=False,
        services=services,
        timeouts=results.timeouts_result(timeouts),
        sync_daemons=[results.daemon_result(d) for d in sorted(daemons, key=lambda d: d.state)],
    )


if __name__ == "__main__":
    main()
