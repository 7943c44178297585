#!/usr/bin/python
# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_table
short_description: Reconcile the kernel's whole IPVS table with a declaration
version_added: 1.0.0
description:
  - Makes the kernel's IPVS (Linux Virtual Server) table what O(services) declares - every
    virtual service with its destinations (real servers) - in one run, and optionally the
    connection timeouts (O(timeouts)) and synchronisation daemons (O(sync_daemons)).
  - The drift-correction module. It reads the live table, computes the operations that turn
    it into the declared one - add what is missing, edit in place what differs (never a delete
    and add, so connections are kept), delete what is not declared within the ownership
    O(scope) - and applies them in order (services before their destinations, destinations
    removed before their services).
  - Services outside the O(scope) are never touched, so services of other tools or added by
    hand on other addresses survive.
  - Transactional - if the kernel refuses an operation (for example an unknown scheduler), the
    operations already applied are undone in reverse order, and the timeouts, sync daemons and
    drained weights changed by the run are restored, so the table is left as it was.
  - Check mode computes the exact plan from the live table and reports each drifted object in
    RV(operations), without touching the kernel.
author:
  - lvs.cluster developers (@lvs-cluster)
options:
  services:
    description:
      - The virtual services, each with its options and O(services[].destinations). The same
        options as M(lvs.cluster.ipvs_service) and M(lvs.cluster.ipvs_real_server), and the
        same defaults; an option left out means its default.
      - Each service may appear only once, each destination once per service.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description:
          - The protocol of a service by address - V(tcp) (C(ipvsadm -t)), V(udp) (C(-u)) or
            V(sctp) (C(--sctp-service)).
          - Defaults to V(tcp) when O(services[].address) is given. Not allowed with
            O(services[].fwmark).
        type: str
        choices: [tcp, udp, sctp]
      address:
        description:
          - The virtual IP address of the service, IPv4 or IPv6.
          - Either O(services[].address) and O(services[].port), or O(services[].fwmark),
            identifies the service.
          - Refused, naming the option, when it names no single host - unspecified (V(0.0.0.0),
            V(::)), in V(0.0.0.0/8), V(255.255.255.255), multicast, or IPv4-mapped IPv6 (write the
            IPv4 address) - or has an IPv6 zone index (V(fe80::1%eth0)). A loopback address is
            allowed, it serves this host's own clients.
        type: str
      port:
        description:
          - The virtual port (0-65535). Required with O(services[].address). V(0) makes a service
            for all ports of the address, and only with O(services[].persistence_timeout) - without
            persistence the kernel takes it, then schedules nothing, so the module refuses it.
        type: int
      fwmark:
        description:
          - A firewall-mark service (C(ipvsadm -f)) - packets that netfilter marked with this
            value (1-4294967295) instead of an address, protocol and port.
          - Mutually exclusive with O(services[].address), O(services[].port) and
            O(services[].protocol).
        type: int
      family:
        description:
          - The address family, V(inet) (IPv4) or V(inet6) (IPv6).
          - Inferred from O(services[].address) (a mismatch fails); a O(services[].fwmark)
            service is V(inet) unless V(inet6) is given (C(ipvsadm -6)).
        type: str
        choices: [inet, inet6]
      scheduler:
        description:
          - The scheduling algorithm (C(ipvsadm -s)), any that the kernel offers - on Linux 6.1
            V(rr), V(wrr), V(lc), V(wlc), V(lblc), V(lblcr), V(dh), V(sh), V(sed), V(nq),
            V(mh), V(fo) and V(ovf). The kernel loads the matching C(ip_vs_<scheduler>) module
            itself.
          - A scheduler the kernel does not know fails the module, and nothing is changed.
          - At most 15 bytes, without NUL (the kernel holds 16 bytes with the terminating NUL); a
            longer name fails the module naming the option.
        type: str
        default: wlc
      persistence_timeout:
        description:
          - Persistence (C(ipvsadm -p)) - for this many seconds after its last connection, a
            client is sent to the same real server again.
          - V(0) means no persistence. At most V(4294967) (49.7 days) - the kernel keeps the timeout
            times HZ (up to 1000) in 32 bits, so a longer one would silently wrap to a short one.
        type: int
        default: 0
      persistence_netmask:
        description:
          - The granularity of persistence (C(ipvsadm -M)) - clients within the same network of
            this size share their real server.
          - For IPv4 a dotted mask (V(255.255.255.0)) or a prefix length 0-32 (V(24)); for IPv6 a
            prefix length 1-128 (V(64); the kernel refuses V(0)).
          - Left out, the full length (V(32) or V(128)) - every client on its own.
        type: raw
      one_packet:
        description:
          - One-packet scheduling (C(ipvsadm -o)) - every UDP datagram is scheduled on its own,
            no connection entry is kept.
        type: bool
        default: false
      scheduler_flags:
        description:
          - Flags of the V(sh) and V(mh) schedulers (C(ipvsadm -b)).
          - V(sh-fallback), V(mh-fallback) - when the real server chosen by the hash is
            unavailable (weight 0 or overloaded), choose another one.
          - V(sh-port), V(mh-port) - hash the source port as well as the source address.
          - The V(sh-) flags need O(services[].scheduler=sh), the V(mh-) flags
            O(services[].scheduler=mh).
        type: list
        elements: str
        choices: [sh-fallback, sh-port, mh-fallback, mh-port]
        default: []
      pe_name:
        description:
          - A persistence engine (C(ipvsadm --pe)), for example V(sip) - persistence by the SIP
            Call-ID rather than by client address (UDP, with O(services[].persistence_timeout)).
          - The kernel loads C(ip_vs_pe_<name>) itself; an unknown engine fails the module.
          - At most 15 bytes, without NUL, as O(services[].scheduler).
        type: str
      destinations:
        description:
          - The service's destinations (real servers).
          - With O(purge_destinations=true) live destinations of the service that are not listed
            are removed (drained first with O(drain_timeout)).
        type: list
        elements: dict
        default: []
        suboptions:
          address:
            description:
              - The real server's IP address (C(ipvsadm -r)).
              - Of the service's family, except with
                O(services[].destinations[].forwarding=tunnel), where the kernel also takes the
                other family.
              - Refused, naming the option, when the kernel would refuse it - unspecified, in
                V(0.0.0.0/8), V(255.255.255.255), multicast, IPv6 link-local or IPv4-mapped IPv6 -
                or with a zone index. A loopback address is a real server on this host.
            type: str
            required: true
          port:
            description:
              - The real server's port.
              - Defaults to the service's port (V(0) for a firewall-mark service). With
                O(services[].destinations[].forwarding=direct) and
                O(services[].destinations[].forwarding=tunnel) packets keep their destination
                port whatever this is; C(ipvsadm) sets it to the service's port.
              - V(0) means the port each packet was sent to.
            type: int
          forwarding:
            description:
              - How packets reach the real server.
              - V(nat) - masquerading (C(ipvsadm -m)); replies must return through this host.
              - V(direct) - direct routing, "gatewaying" (C(ipvsadm -g), the default as in
                C(ipvsadm)); the real server must hold the virtual IP and be on the same network.
              - V(tunnel) - encapsulation (C(ipvsadm -i)), IP-in-IP unless
                O(services[].destinations[].tunnel_type) says otherwise.
              - V(local) - the kernel's local-node method (C(ipvsadm) shows C(Local)), for a
                real server on this host.
            type: str
            choices: [nat, direct, tunnel, local]
            default: direct
          weight:
            description:
              - The real server's weight (0-2147483647, C(ipvsadm -w)); weighted schedulers
                send it connections in proportion.
              - V(0) quiesces it - no new connections, existing ones continue.
            type: int
            default: 1
          upper_threshold:
            description:
              - The most connections (active and inactive) the real server takes
                (C(ipvsadm -x)); above it, it is overloaded and gets no new connections. V(0)
                means no limit.
            type: int
            default: 0
          lower_threshold:
            description:
              - An overloaded real server gets new connections again when it has fewer
                connections than this (C(ipvsadm -y)). V(0) means when it is below three
                quarters of O(services[].destinations[].upper_threshold).
              - Must not be above O(services[].destinations[].upper_threshold) (the kernel
                refuses it).
            type: int
            default: 0
          tunnel_type:
            description:
              - The encapsulation of O(services[].destinations[].forwarding=tunnel)
                (C(ipvsadm --tun-type)) - V(ipip) (IP-in-IP, the default), V(gue) (Generic UDP
                Encapsulation, needs O(services[].destinations[].tunnel_port)) or V(gre).
            type: str
            choices: [ipip, gue, gre]
          tunnel_port:
            description:
              - The UDP destination port of V(gue) encapsulation (C(ipvsadm --tun-port)),
                required by O(services[].destinations[].tunnel_type=gue). The other tunnel types
                do not use it.
            type: int
          tunnel_flags:
            description:
              - Checksums of V(gue) and V(gre) encapsulation - V(nocsum) (none, the default, the
                same as an empty list), V(csum) (C(ipvsadm --tun-csum)) or V(remcsum) (remote
                checksum offload, C(--tun-remcsum)).
            type: list
            elements: str
            choices: [nocsum, csum, remcsum]
            default: []
  purge:
    description:
      - Remove live services within the O(scope) that O(services) does not list (with their
        destinations; they are not drained).
      - With V(false) the module only adds and edits.
    type: bool
    default: true
  purge_destinations:
    description:
      - Remove live destinations of a listed service that its O(services[].destinations) does
        not list.
    type: bool
    default: true
  scope:
    description:
      - Which live services this declaration owns, that is, may remove with O(purge).
      - V(declared) - the services on the virtual IP addresses and firewall marks that
        O(services) uses (any protocol or port on those addresses), plus O(scope_addresses)
        and O(scope_fwmarks). A service on another address is never removed.
      - V(all) - every service of the table; O(services=[]) then empties the table.
    type: str
    choices: [declared, all]
    default: declared
  scope_addresses:
    description:
      - More virtual IP addresses owned with O(scope=declared) - for example an address whose
        last service was taken out of O(services) and must be removed.
    type: list
    elements: str
    default: []
  scope_fwmarks:
    description:
      - More firewall marks owned with O(scope=declared).
    type: list
    elements: int
    default: []
  drain_timeout:
    description:
      - Drain destinations before removing them (those not listed in their service's
        O(services[].destinations)) - set their weight to 0, wait until they have no active or
        inactive connection or until this many seconds have passed, then remove them.
      - Left out, they are removed at once. Services removed by O(purge) are not drained.
      - In check mode nothing is changed and nobody waits.
    type: int
  timeouts:
    description:
      - The connection timeouts (C(ipvsadm --set)); only those given are set, left out the
        kernel's are kept.
    type: dict
    suboptions:
      tcp:
        description: Established TCP connections, seconds (1-2147483, the kernel refuses more).
        type: int
      tcp_fin:
        description: TCP connections after a FIN was received, seconds (1-2147483).
        type: int
      udp:
        description: UDP, seconds (1-2147483).
        type: int
  sync_daemons:
    description:
      - Connection synchronisation daemons (C(ipvsadm --start-daemon)) - at most one
        V(master) and one V(backup). A daemon not listed is left alone.
      - A running daemon with other settings is stopped and started again with these.
    type: list
    elements: dict
    suboptions:
      state:
        description:
          - The daemon's role (as C(ipvsadm --start-daemon STATE)) - V(master) sends the
            connection table, V(backup) receives it.
        type: str
        choices: [master, backup]
        required: true
      present:
        description:
          - V(true) - the daemon runs with these settings. V(false) - it is stopped.
        type: bool
        default: true
      interface:
        description:
          - The multicast interface (C(--mcast-interface)). Required with
            O(sync_daemons[].present=true).
        type: str
      sync_id:
        description: The synchronisation id (0-255, C(--syncid)); 0 means any.
        type: int
        default: 0
      max_len:
        description:
          - The largest sync message in bytes (C(--sync-maxlen)). Left out, the kernel chooses
            from the interface's MTU, and it is not compared.
        type: int
      group:
        description:
          - The multicast group (C(--mcast-group)), IPv4 or IPv6; default 224.0.0.81.
          - A multicast address without zone index (the kernel refuses any other).
        type: str
      port:
        description: The UDP port (C(--mcast-port)); default 8848.
        type: int
      ttl:
        description: The multicast TTL (C(--mcast-ttl)); default 1.
        type: int
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lvs.cluster.ipvs
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the live table and returns the exact plan in RV(operations); it never
        writes and never waits for a drain.
  diff_mode:
    support: full
    details:
      - The diff shows the table within the scope (and the managed timeouts and sync daemons)
        before and after, as C(ipvsadm-save) rules, one line per service or destination; when
        nothing differs it is empty.
  platform:
    platforms: linux
notes:
  - The drift playbook of the collection runs this module in check mode with diff to report
    every difference, and without check mode to restore the declared state.
  - With more than 100 services declared, the result's C(invocation) names how many services
    and destinations were given instead of echoing them (Ansible echoes a module's arguments
    in its result; at 10,000 services that was 21 MB sent back for every run).
seealso:
  - module: lvs.cluster.ipvs_service
  - module: lvs.cluster.ipvs_real_server
  - module: lvs.cluster.ipvs_info
"""

EXAMPLES = r"""
- name: Declare the whole table of the virtual IP 192.0.2.10
  lvs.cluster.ipvs_table:
    services:
      - address: 192.0.2.10
        port: 80
        scheduler: wrr
        destinations:
          - {address: 10.0.1.21, forwarding: nat, weight: 3}
          - {address: 10.0.1.22, forwarding: nat, weight: 1}
      - address: 192.0.2.10
        port: 443
        persistence_timeout: 600
        persistence_netmask: 24
        destinations:
          - {address: 192.0.2.21}
          - {address: 192.0.2.22}
      - protocol: udp
        address: 192.0.2.10
        port: 53
        scheduler: rr
        one_packet: true
        destinations:
          - {address: 192.0.2.21}
    drain_timeout: 120

- name: Report drift without changing anything
  lvs.cluster.ipvs_table:
    services: "{{ lvs_services }}"
  check_mode: true
  diff: true
  register: drift

- name: Show each drifted object
  ansible.builtin.debug:
    var: drift.operations

- name: Own every service of the table, set the timeouts, run the sync master
  lvs.cluster.ipvs_table:
    scope: all
    services: "{{ lvs_services }}"
    timeouts: {tcp: 3600, tcp_fin: 60, udp: 120}
    sync_daemons:
      - {state: master, interface: eth1, sync_id: 7}
      - {state: backup, present: false}

- name: Remove every service of an address that is no longer declared
  lvs.cluster.ipvs_table:
    services: []
    scope_addresses: [192.0.2.99]
"""

RETURN = r"""
operations:
  description:
    - The operations applied (in check mode, that would be), in order - one per drifted object.
    - C(action) is V(add_service), V(edit_service), V(delete_service), V(add_destination),
      V(edit_destination), V(delete_destination), V(set_timeouts), V(start_sync_daemon) or
      V(stop_sync_daemon); C(service) and C(destination) name the object; an edit has
      C(changes), each changed option as C([before, after]).
    - Empty when the table is already as declared.
  returned: always
  type: list
  elements: dict
  sample:
    - action: edit_service
      service: service tcp 192.0.2.10:80
      changes:
        scheduler: [rr, wrr]
    - action: add_destination
      service: service tcp 192.0.2.10:80
      destination: 10.0.1.22:80
    - action: edit_destination
      service: service tcp 192.0.2.10:80
      destination: 10.0.1.21:80
      changes:
        weight: [5, 3]
    - action: delete_service
      service: service tcp 192.0.2.10:8080
    - action: set_timeouts
      changes:
        tcp: [900, 3600]
drained:
  description:
    - One entry per drained destination - C(connections) left (active and inactive) when
      waiting stopped, and C(seconds) waited.
  returned: O(drain_timeout) was given and destinations were removed, not in check mode
  type: list
  elements: dict
  sample:
    - {service: service tcp 192.0.2.10:80, destination: 10.0.1.23:80, connections: 0,
       seconds: 4.0}
"""

import ipaddress

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import ipvs_module
from ..module_utils.lvs_cluster.ipvs import codec, input_rules, options, results, text
from ..module_utils.lvs_cluster.ipvs import drain as draining
from ..module_utils.lvs_cluster.ipvs import netlink as nl
from ..module_utils.lvs_cluster.ipvs import reconcile as rc


def argument_spec():
    service = options.service_spec()
    service["destinations"] = dict(type="list", elements="dict", default=[],
                                   options=options.destination_spec())
    return dict(
        services=dict(type="list", elements="dict", default=[], options=service),
        purge=dict(type="bool", default=True),
        purge_destinations=dict(type="bool", default=True),
        scope=dict(type="str", choices=["declared", "all"], default="declared"),
        scope_addresses=dict(type="list", elements="str", default=[]),
        scope_fwmarks=dict(type="list", elements="int", default=[]),
        drain_timeout=dict(type="int"),
        timeouts=dict(type="dict", options=dict(
            tcp=dict(type="int"), tcp_fin=dict(type="int"), udp=dict(type="int"))),
        sync_daemons=dict(type="list", elements="dict", options=dict(
            state=dict(type="str", choices=options.DAEMON_STATES, required=True),
            present=dict(type="bool", default=True),
            interface=dict(type="str"),
            sync_id=dict(type="int", default=0),
            max_len=dict(type="int"),
            group=dict(type="str"),
            port=dict(type="int"),
            ttl=dict(type="int"),
        ), required_if=[("present", True, ("interface",))]),
    )


def scope_of(params, desired):
    if params["scope"] == "all":
        if params["scope_addresses"] or params["scope_fwmarks"]:
            raise options.ParamError("scope_addresses", "extends scope=declared; scope=all "
                                                        "owns every service already")
        return rc.Scope.everything()
    addresses = []
    for index, address in enumerate(params["scope_addresses"]):
        zone = input_rules.zone_problem(address)
        if zone:
            raise options.ParamError(f"scope_addresses[{index}]", zone)
        try:
            addresses.append(str(ipaddress.ip_address(address)))
        except ValueError:
            raise options.ParamError(f"scope_addresses[{index}]",
                                     f"invalid IP address {address!r}") from None
    declared = rc.Scope.of_table(desired)
    return rc.Scope.of(declared.addresses | set(addresses),
                       declared.fwmarks | set(params["scope_fwmarks"]))


def main():
    spec = argument_spec()
    # the services checked by simple_spec, not by AnsibleModule: 10,000 of them took 8-12 s
    module = AnsibleModule(argument_spec=ipvs_module.unchecked_list(spec, "services"),
                           supports_check_mode=True)
    params = module.params
    params["services"] = ipvs_module.checked_list(module, spec, "services")
    drain_timeout = params["drain_timeout"]
    if drain_timeout is not None and drain_timeout < 0:
        module.fail_json(msg="drain_timeout: seconds >= 0 expected", field="drain_timeout")
    try:
        desired = options.table_from_params(params["services"])
        scope = scope_of(params, desired)
        timeouts = options.timeouts_from_params(params["timeouts"])
        daemons = options.sync_daemons_from_params(params["sync_daemons"])
    except options.ParamError as err:
        ipvs_module.fail(module, err)

    result = dict(changed=False)
    echoed = invocation(params, desired)
    if echoed is not None:  # else Ansible echoes every argument itself
        result["invocation"] = echoed
    with ipvs_module.kernel(module) as kernel:
        try:
            live = rc.read_table(kernel)
            table = rc.plan(desired, live, scope, purge=params["purge"],
                            purge_destinations=params["purge_destinations"]).operations
            live_timeouts = kernel.timeouts() if timeouts else None
            live_daemons = {d.state: d for d in kernel.daemons()} if daemons else {}
            settings = rc.plan_timeouts(timeouts, live_timeouts) if timeouts else []
            settings += rc.plan_sync_daemons(daemons, live_daemons.values())
        except nl.IpvsNetlinkError as err:
            ipvs_module.fail(module, err)

        # reported table first, then settings; applied settings first (see apply)
        result["operations"] = [results.operation_result(op) for op in table + settings]
        result["changed"] = bool(result["operations"])
        if module._diff and not result["changed"]:
            result["diff"] = dict(before="", after="")
        elif module._diff:
            desired_keys = {s.key for s in desired}
            owned = {s: d for s, d in live.items() if scope.owns(s) or s.key in desired_keys}
            result["diff"] = dict(
                before=text.table_text(owned) + text.settings_text(
                    {name: getattr(live_timeouts, name) for name in timeouts},
                    [live_daemons[state] for state in daemons if state in live_daemons]),
                after=text.table_text(rc.simulate(owned, table)) + text.settings_text(
                    timeouts, [codec.expected_daemon(d, live_daemons.get(state))
                               for state, d in daemons.items() if d is not None]),
                before_header="IPVS table (in scope)", after_header="IPVS table (in scope)")

        if result["changed"] and not module.check_mode:
            result.update(apply(module, kernel, live, table, settings, drain_timeout,
                                result["operations"], echoed))
    module.exit_json(**result)


ECHO_LIMIT = 100  # services: above this, the result's invocation summarises them


def invocation(params, desired):
    """For a large table, what the result echoes of the arguments: a count of its services and
    destinations in place of ``services``; None for a small one (Ansible echoes them all)."""
    if len(params["services"]) <= ECHO_LIMIT:
        return None
    summary = dict(params)
    summary["services"] = (f"{len(desired)} services, "
                           f"{sum(len(d) for d in desired.values())} destinations (not echoed)")
    return {"module_args": summary}


def apply(module, kernel, live, table, settings, drain_timeout, report, echoed):
    """One transaction: the settings, the drains, then the table; any refusal undoes it all."""
    out = {}
    targets = {}
    if drain_timeout is not None:
        for op in table:
            if op.action == "delete_destination":
                targets.setdefault(op.service, []).append(op.destination)
    transaction = rc.Transaction(kernel, live)
    try:
        try:
            transaction.apply(settings)
            if targets:
                out["drained"] = draining.drain(kernel, targets, drain_timeout, transaction)
            transaction.apply(table)
        except nl.IpvsNetlinkError as err:  # a read while draining
            transaction.abort(err)
    except rc.ApplyError as err:
        extra = {} if echoed is None else {"invocation": echoed}
        module.fail_json(msg=str(err), operations=report, errno=ipvs_module.errno_name(err),
                         **extra)
    return out


if __name__ == "__main__":
    main()
