#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_service
short_description: Manage one IPVS virtual service
version_added: 1.0.0
description:
  - Adds, edits in place or removes one virtual service of the kernel's IPVS (Linux Virtual
    Server) table, as C(ipvsadm -A), C(-E) and C(-D) do - by address, protocol and port, or by
    firewall mark, IPv4 or IPv6.
  - The live table is read on every run and only what differs is changed; a changed scheduler,
    persistence or flag is an edit in place, so the service keeps its destinations and
    connections.
  - The service's destinations (real servers) are left alone; manage them with
    M(lvs.cluster.ipvs_real_server), or the whole table at once with M(lvs.cluster.ipvs_table).
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  state:
    description:
      - V(present) - the service exists with exactly the options given (the others at their
        defaults); added if missing, edited in place if different.
      - V(absent) - the service does not exist. Removing it removes its destinations too and
        ends the connections through it. Only the options that identify the service
        (O(address), O(protocol), O(port), O(fwmark), O(family)) matter.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
  - lvs.cluster.ipvs.service
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the live table and reports what would change; it never writes.
  diff_mode:
    support: full
    details:
      - The diff shows the service's options before and after (empty when it does not exist).
  platform:
    platforms: linux
seealso:
  - module: lvs.cluster.ipvs_real_server
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: A web service on a virtual IP, weighted least-connection (the default scheduler)
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 80

- name: HTTPS with persistence per client /24 network for ten minutes
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 443
    scheduler: wrr
    persistence_timeout: 600
    persistence_netmask: 255.255.255.0

- name: IPv6, source hashing with fallback and the source port in the hash
  lvs.cluster.ipvs_service:
    address: "2001:db8::10"
    port: 443
    scheduler: sh
    scheduler_flags: [sh-fallback, sh-port]

- name: DNS over UDP, each datagram scheduled on its own
  lvs.cluster.ipvs_service:
    protocol: udp
    address: 192.0.2.10
    port: 53
    scheduler: rr
    one_packet: true

- name: SIP with Call-ID persistence
  lvs.cluster.ipvs_service:
    protocol: udp
    address: 192.0.2.10
    port: 5060
    scheduler: rr
    persistence_timeout: 60
    pe_name: sip

- name: A firewall-mark service for IPv6 (mark set by nftables or iptables)
  lvs.cluster.ipvs_service:
    fwmark: 6
    family: inet6
    scheduler: mh
    scheduler_flags: [mh-port]

- name: Remove a service (and its destinations)
  lvs.cluster.ipvs_service:
    address: 192.0.2.10
    port: 8080
    state: absent
"""

RETURN = r"""
service:
  description:
    - The service as it is after the run (in check mode, as it would be), in the module's
      option names - can be passed back to this module or to M(lvs.cluster.ipvs_table).
    - Options that do not apply are left out - C(address), C(protocol) and C(port), or
      C(fwmark); C(persistence_netmask) (a prefix length) and C(pe_name) only when set.
  returned: O(state=present)
  type: dict
  sample:
    family: inet
    protocol: tcp
    address: 192.0.2.10
    port: 443
    scheduler: wrr
    persistence_timeout: 600
    persistence_netmask: 24
    one_packet: false
    scheduler_flags: []
operations:
  description:
    - What was changed (in check mode, what would be) - at most one operation, with
      C(action) V(add_service), V(edit_service) or V(delete_service), C(service) naming it, and
      for an edit C(changes), each changed option as C([before, after]).
  returned: always
  type: list
  elements: dict
  sample:
    - action: edit_service
      service: service tcp 192.0.2.10:443
      changes:
        scheduler: [wlc, wrr]
        persistence_timeout: [0, 600]
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import ipvs_module
from ..module_utils.lvs_cluster.ipvs import netlink as nl
from ..module_utils.lvs_cluster.ipvs import options, results
from ..module_utils.lvs_cluster.ipvs import reconcile as rc


def main():
    argument_spec = options.service_spec()
    argument_spec["state"] = dict(type="str", choices=["present", "absent"], default="present")
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    state = module.params["state"]
    try:
        service = options.service_from_params(module.params,
                                              identity_only=state == "absent")
    except options.ParamError as err:
        ipvs_module.fail(module, err)

    with ipvs_module.kernel(module) as kernel:
        try:
            # the service alone: its destinations are neither read nor touched
            live = {s: () for s, _stats in kernel.services()}
            current = next((s for s in live if s.key == service.key), None)
            desired = {service: ()} if state == "present" else {}
            operations = rc.plan(desired, live, rc.Scope.only(service),
                                 purge_destinations=False).operations
            if operations and not module.check_mode:
                rc.apply(kernel, rc.Plan(operations))
        except (nl.IpvsNetlinkError, rc.ApplyError) as err:
            ipvs_module.fail(module, err)

    result = dict(changed=bool(operations),
                  operations=[results.operation_result(op) for op in operations])
    if state == "present":
        result["service"] = results.service_result(service)
    if module._diff:
        result["diff"] = dict(
            before=results.service_result(current) if current is not None else {},
            after=results.service_result(service) if state == "present" else {},
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
