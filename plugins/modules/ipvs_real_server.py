#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_real_server
short_description: Manage one destination (real server) of an IPVS virtual service
version_added: 1.0.0
description:
  - Adds, edits in place, drains or removes one destination (real server) of an existing
    virtual service of the kernel's IPVS table, as C(ipvsadm -a), C(-e) and C(-d) do.
  - The live table is read on every run and only what differs is changed; a changed weight,
    forwarding method or threshold is an edit in place, so connections are kept.
  - The virtual service must exist (M(lvs.cluster.ipvs_service) creates it); in check mode a
    missing service is reported as a change with a warning, since an earlier task may be about
    to create it.
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  service:
    description:
      - The virtual service the destination belongs to, by its identity.
    type: dict
    required: true
    suboptions:
      protocol:
        description:
          - V(tcp), V(udp) or V(sctp). Defaults to V(tcp) when O(service.address) is given.
        type: str
        choices: [tcp, udp, sctp]
      address:
        description:
          - The service's virtual IP address. Either O(service.address) and O(service.port),
            or O(service.fwmark).
        type: str
      port:
        description:
          - The service's virtual port. Required with O(service.address).
        type: int
      fwmark:
        description:
          - The firewall mark of a firewall-mark service.
        type: int
      family:
        description:
          - V(inet) or V(inet6). Inferred from O(service.address); V(inet) for a firewall-mark
            service unless given.
        type: str
        choices: [inet, inet6]
  state:
    description:
      - V(present) - the destination exists with exactly the options given (the others at their
        defaults).
      - V(drained) - the same, with weight 0 - the real server gets no new connections, existing
        ones continue (O(weight) is ignored).
      - V(absent) - the destination does not exist; with O(drain_timeout) it is drained first.
        Only O(address) and O(port) matter.
    type: str
    choices: [present, absent, drained]
    default: present
  drain_timeout:
    description:
      - With O(state=absent), first set the destination's weight to 0, then wait until it has no
        active or inactive connection or until this many seconds have passed, then remove it.
      - Left out, the destination is removed at once (its connections end).
      - In check mode nothing is changed and nobody waits; the drain is reported in
        RV(operations).
    type: int
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
  - lvs.cluster.ipvs.destination
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the live table and reports what would change; it never writes.
  diff_mode:
    support: full
    details:
      - The diff shows the destination's options before and after (empty when it does not
        exist).
  platform:
    platforms: linux
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_table
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: A real server behind a NAT service, weight 3, at most 500 connections
  lvs.cluster.ipvs_real_server:
    service: {address: 192.0.2.10, port: 80}
    address: 10.0.1.21
    forwarding: nat
    weight: 3
    upper_threshold: 500
    lower_threshold: 400

- name: A direct-routing real server (the default forwarding; its port is the service's)
  lvs.cluster.ipvs_real_server:
    service: {address: 192.0.2.10, port: 443}
    address: 192.0.2.21

- name: A real server reached through a GUE tunnel with checksums
  lvs.cluster.ipvs_real_server:
    service: {address: "2001:db8::10", port: 443}
    address: "2001:db8:1::21"
    forwarding: tunnel
    tunnel_type: gue
    tunnel_port: 6080
    tunnel_flags: [csum]

- name: A real server of a firewall-mark service
  lvs.cluster.ipvs_real_server:
    service: {fwmark: 6}
    address: 192.0.2.22

- name: Quiesce a real server for maintenance (weight 0, connections continue)
  lvs.cluster.ipvs_real_server:
    service: {address: 192.0.2.10, port: 80}
    address: 10.0.1.21
    forwarding: nat
    state: drained

- name: Remove it after its connections end, or after five minutes at most
  lvs.cluster.ipvs_real_server:
    service: {address: 192.0.2.10, port: 80}
    address: 10.0.1.21
    state: absent
    drain_timeout: 300
"""

RETURN = r"""
destination:
  description:
    - The destination as it is after the run (in check mode, as it would be), in the module's
      option names; C(tunnel_type) only with C(forwarding=tunnel), C(tunnel_port) only when set.
  returned: O(state=present) and O(state=drained)
  type: dict
  sample:
    address: 10.0.1.21
    port: 80
    forwarding: nat
    weight: 3
    upper_threshold: 500
    lower_threshold: 400
    tunnel_flags: []
connections:
  description:
    - The destination's connection counts when the module read the table (before any change).
  returned: the destination existed
  type: dict
  contains:
    active_connections:
      description: Established connections (TCP ESTABLISHED, SCTP ESTABLISHED).
      type: int
    inactive_connections:
      description: Connections in any other state.
      type: int
    persistent_connections:
      description: Persistence templates pointing at it.
      type: int
  sample: {active_connections: 12, inactive_connections: 40, persistent_connections: 0}
operations:
  description:
    - What was changed (in check mode, what would be) - C(action) V(add_destination),
      V(edit_destination) or V(delete_destination), C(service) and C(destination) naming it,
      and for an edit C(changes), each changed option as C([before, after]). A drain is an
      V(edit_destination) of the weight to 0 before the V(delete_destination).
  returned: always
  type: list
  elements: dict
  sample:
    - action: edit_destination
      service: service tcp 192.0.2.10:80
      destination: 10.0.1.21:80
      changes:
        weight: [1, 3]
drained:
  description:
    - How the drain went - C(connections) left (active and inactive) when it stopped waiting,
      and C(seconds) waited.
  returned: O(state=absent) with O(drain_timeout), the destination existed, not in check mode
  type: dict
  sample: {service: service tcp 192.0.2.10:80, destination: 10.0.1.21:80, connections: 0,
           seconds: 12.0}
"""

import dataclasses

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import ipvs_module
from ..module_utils.lvs_cluster.ipvs import drain as draining
from ..module_utils.lvs_cluster.ipvs import netlink as nl
from ..module_utils.lvs_cluster.ipvs import options, results
from ..module_utils.lvs_cluster.ipvs import reconcile as rc


def main():
    argument_spec = options.destination_spec()
    argument_spec.update(
        service=dict(type="dict", required=True, options=options.service_identity_spec()),
        state=dict(type="str", choices=["present", "absent", "drained"], default="present"),
        drain_timeout=dict(type="int"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    state = params["state"]
    drain_timeout = params["drain_timeout"]
    if drain_timeout is not None and drain_timeout < 0:
        module.fail_json(msg="drain_timeout: seconds >= 0 expected", field="drain_timeout")
    try:
        wanted_service = options.service_from_params(params["service"], "service",
                                                     identity_only=True)
        dest = options.destination_from_params(params, wanted_service)
    except options.ParamError as err:
        ipvs_module.fail(module, err)
    if state == "drained":
        dest = dataclasses.replace(dest, weight=0)

    result = dict(changed=False, operations=[])
    with ipvs_module.kernel(module) as kernel:
        try:
            live = {s.key: s for s, _stats in kernel.services()}
            service = live.get(wanted_service.key)
            if service is None:
                missing(module, result, wanted_service, dest, state)
            live_dests = kernel.destinations(service)
            current, conns = next(((d, s) for d, s in live_dests if d.key == dest.key),
                                  (None, None))
            # the service as it is, its other destinations as they are, this one as wanted: in
            # the order they were added (the kernel lists the newest first), a new one last, so
            # that mh and sh services keep their order (the engine repairs any other)
            added = [d for d, _state in reversed(live_dests)]
            wanted = tuple(dest if d.key == dest.key else d for d in added
                           if state != "absent" or d.key != dest.key)
            if current is None and state != "absent":
                wanted += (dest,)
            operations = rc.plan({service: wanted}, {service: tuple(d for d, _s in live_dests)},
                                 rc.Scope.only(service)).operations
            drains = drain_timeout is not None and current is not None and state == "absent"
            reported = operations
            if drains and current.weight != 0:  # reported as the edit it is
                reported = [rc.Operation("edit_destination", service, dataclasses.replace(
                    current, weight=0), before=current)] + operations
            if operations and not module.check_mode:
                transaction = rc.Transaction(kernel)
                try:
                    if drains:  # weight 0 first, then wait
                        result["drained"] = draining.drain(kernel, {service: [current]},
                                                           drain_timeout, transaction)[0]
                    transaction.apply(operations)
                except nl.IpvsNetlinkError as err:  # a read while draining
                    transaction.abort(err)
        except (nl.IpvsNetlinkError, rc.ApplyError) as err:
            ipvs_module.fail(module, err)

    result["changed"] = bool(reported)
    result["operations"] = [results.operation_result(op) for op in reported]
    if state != "absent":
        result["destination"] = results.destination_result(dest)
    if conns is not None:
        result["connections"] = {k: v for k, v in results.destination_state_result(conns).items()
                                 if k != "stats"}
    if module._diff:
        result["diff"] = dict(
            before=results.destination_result(current) if current is not None else {},
            after=results.destination_result(dest) if state != "absent" else {},
        )
    module.exit_json(**result)


def missing(module, result, service, dest, state):
    """The service does not exist: nothing to remove, an error to add to (a warning in check
    mode, where an earlier task may only have pretended to create it)."""
    name = nl.describe_service(service)
    if state == "absent":
        module.exit_json(**result)
    if not module.check_mode:
        module.fail_json(msg=f"{name} does not exist: create it first "
                             "(lvs.cluster.ipvs_service or lvs.cluster.ipvs_table)")
    module.warn(f"{name} does not exist (yet): the destination would be added to it")
    op = rc.Operation("add_destination", service, dest)
    result.update(changed=True, operations=[results.operation_result(op)],
                  destination=results.destination_result(dest))
    if module._diff:
        result["diff"] = dict(before={}, after=results.destination_result(dest))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
