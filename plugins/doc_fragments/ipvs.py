# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the IPVS modules (ipvs_service, ipvs_real_server, ipvs_info,
ipvs_table).

``DOCUMENTATION``: requirements and notes of every IPVS module. ``SERVICE``: the options of a
virtual service (ipvs_service). ``DESTINATION``: the options of a destination
(ipvs_real_server). ipvs_table documents the same options as suboptions, where a fragment
cannot reach; a unit test keeps its copies equal to these.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
requirements:
  - "Linux with IPVS (the C(ip_vs) kernel module). The kernel loads it on the first request;
    where it does not, the module runs C(modprobe ip_vs). Without IPVS the module fails with
    C(the kernel has no IPVS: load the ip_vs module (modprobe ip_vs))."
  - Root, or the capability C(CAP_NET_ADMIN) (the kernel refuses every IPVS request, reads
    included, to others).
  - Nothing but Python's standard library on the target; the modules speak generic netlink
    to the kernel themselves (neither C(ipvsadm) nor C(pyroute2) is used).
notes:
  - The modules act on the IPVS table of the network namespace the module runs in.
  - "Declarative: an option left out means its default (for example C(scheduler: wlc), no
    persistence, C(weight: 1)), never the value the kernel has now. Changed options are edited
    in place (never a delete and add), so established connections are kept."
  - IPVS does not need the virtual IP address configured on an interface of the host; add it
    where clients must reach it (ARP, routing), for example with C(ip addr add).
  - Every option is checked before the kernel is contacted. A value the kernel would refuse
    or silently change (an IPv6 zone index, a multicast or broadcast address, a scheduler name
    over 15 bytes, a persistence timeout that would wrap, port 0 without persistence...) fails
    the module with a message that names the option, and nothing is changed.
"""

    SERVICE = r"""
options:
  protocol:
    description:
      - The protocol of a service by address - V(tcp) (C(ipvsadm -t)), V(udp) (C(-u)) or
        V(sctp) (C(--sctp-service)).
      - Defaults to V(tcp) when O(address) is given. Not allowed with O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
  address:
    description:
      - The virtual IP address of the service, IPv4 or IPv6.
      - Either O(address) and O(port), or O(fwmark), identifies the service.
      - Refused, naming the option, when it names no single host - unspecified (V(0.0.0.0), V(::)),
        in V(0.0.0.0/8), V(255.255.255.255), multicast, or IPv4-mapped IPv6 (write the IPv4
        address) - or has an IPv6 zone index (V(fe80::1%eth0)). A loopback address is allowed, it
        serves this host's own clients.
    type: str
  port:
    description:
      - The virtual port (0-65535). Required with O(address). V(0) makes a service for all ports of
        the address, and only with O(persistence_timeout) - without persistence the kernel takes it,
        then schedules nothing, so the module refuses it.
    type: int
  fwmark:
    description:
      - A firewall-mark service (C(ipvsadm -f)) - packets that netfilter marked with this value
        (1-4294967295) instead of an address, protocol and port.
      - Mutually exclusive with O(address), O(port) and O(protocol).
    type: int
  family:
    description:
      - The address family, V(inet) (IPv4) or V(inet6) (IPv6).
      - Inferred from O(address) (a mismatch fails); a O(fwmark) service is V(inet) unless
        V(inet6) is given (C(ipvsadm -6)).
    type: str
    choices: [inet, inet6]
  scheduler:
    description:
      - The scheduling algorithm (C(ipvsadm -s)), any that the kernel offers - on Linux 6.1
        V(rr), V(wrr), V(lc), V(wlc), V(lblc), V(lblcr), V(dh), V(sh), V(sed), V(nq), V(mh),
        V(fo) and V(ovf). The kernel loads the matching C(ip_vs_<scheduler>) module itself.
      - A scheduler the kernel does not know fails the module, and nothing is changed.
      - At most 15 bytes, without NUL (the kernel holds 16 bytes with the terminating NUL); a longer
        name fails the module naming the option.
    type: str
    default: wlc
  persistence_timeout:
    description:
      - Persistence (C(ipvsadm -p)) - for this many seconds after its last connection, a client
        is sent to the same real server again.
      - V(0) means no persistence. At most V(4294967) (49.7 days) - the kernel keeps the timeout
        times HZ (up to 1000) in 32 bits, so a longer one would silently wrap to a short one.
    type: int
    default: 0
  persistence_netmask:
    description:
      - The granularity of persistence (C(ipvsadm -M)) - clients within the same network of this
        size share their real server.
      - For IPv4 a dotted mask (V(255.255.255.0)) or a prefix length 0-32 (V(24)); for IPv6 a prefix
        length 1-128 (V(64); the kernel refuses V(0)).
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
      - V(sh-fallback), V(mh-fallback) - when the real server chosen by the hash is unavailable
        (weight 0 or overloaded), choose another one.
      - V(sh-port), V(mh-port) - hash the source port as well as the source address.
      - The V(sh-) flags need O(scheduler=sh), the V(mh-) flags O(scheduler=mh).
    type: list
    elements: str
    choices: [sh-fallback, sh-port, mh-fallback, mh-port]
    default: []
  pe_name:
    description:
      - A persistence engine (C(ipvsadm --pe)), for example V(sip) - persistence by the SIP
        Call-ID rather than by client address (UDP, with O(persistence_timeout)).
      - The kernel loads C(ip_vs_pe_<name>) itself; an unknown engine fails the module.
      - At most 15 bytes, without NUL, as O(scheduler).
    type: str
"""

    DESTINATION = r"""
options:
  address:
    description:
      - The real server's IP address (C(ipvsadm -r)).
      - Of the service's family, except with O(forwarding=tunnel), where the kernel also takes
        the other family.
      - Refused, naming the option, when the kernel would refuse it - unspecified, in V(0.0.0.0/8),
        V(255.255.255.255), multicast, IPv6 link-local or IPv4-mapped IPv6 - or with a zone index. A
        loopback address is a real server on this host.
    type: str
    required: true
  port:
    description:
      - The real server's port.
      - Defaults to the service's port (V(0) for a firewall-mark service). With O(forwarding=direct)
        and O(forwarding=tunnel) packets keep their destination port whatever this is; C(ipvsadm)
        sets it to the service's port.
      - V(0) means the port each packet was sent to.
    type: int
  forwarding:
    description:
      - How packets reach the real server.
      - V(nat) - masquerading (C(ipvsadm -m)); replies must return through this host.
      - V(direct) - direct routing, "gatewaying" (C(ipvsadm -g), the default as in C(ipvsadm)); the
        real server must hold the virtual IP and be on the same network.
      - V(tunnel) - encapsulation (C(ipvsadm -i)), IP-in-IP unless O(tunnel_type) says otherwise.
      - V(local) - the kernel's local-node method (C(ipvsadm) shows C(Local)), for a real server
        on this host.
    type: str
    choices: [nat, direct, tunnel, local]
    default: direct
  weight:
    description:
      - The real server's weight (0-2147483647, C(ipvsadm -w)); weighted schedulers send it
        connections in proportion.
      - V(0) quiesces it - no new connections, existing ones continue.
    type: int
    default: 1
  upper_threshold:
    description:
      - The most connections (active and inactive) the real server takes (C(ipvsadm -x)); above
        it, it is overloaded and gets no new connections. V(0) means no limit.
    type: int
    default: 0
  lower_threshold:
    description:
      - An overloaded real server gets new connections again when it has fewer connections than
        this (C(ipvsadm -y)). V(0) means when it is below three quarters of
        O(upper_threshold).
      - Must not be above O(upper_threshold) (the kernel refuses it).
    type: int
    default: 0
  tunnel_type:
    description:
      - The encapsulation of O(forwarding=tunnel) (C(ipvsadm --tun-type)) - V(ipip) (IP-in-IP,
        the default), V(gue) (Generic UDP Encapsulation, needs O(tunnel_port)) or V(gre).
    type: str
    choices: [ipip, gue, gre]
  tunnel_port:
    description:
      - The UDP destination port of V(gue) encapsulation (C(ipvsadm --tun-port)), required by
        O(tunnel_type=gue). The other tunnel types do not use it.
    type: int
  tunnel_flags:
    description:
      - Checksums of V(gue) and V(gre) encapsulation - V(nocsum) (none, the default, the same as
        an empty list), V(csum) (C(ipvsadm --tun-csum)) or V(remcsum) (remote checksum
        offload, C(--tun-remcsum)).
    type: list
    elements: str
    choices: [nocsum, csum, remcsum]
    default: []
"""
