# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's IPVS over generic netlink: ``IpvsNetlink``, the project's only path to it.

One socket per run. Reads are dumps (services, then each service's destinations); writes are
pipelined: many messages per ``send``, an acknowledgement asked for only on the last message of
each batch. The kernel still answers every *failed* message with an error carrying its sequence
number, so no failure is lost, and success costs no round trip.

pyroute2's high-level IPVS API reads back wrong values (forwarding method, thresholds, flags,
timeout) and is one round trip per object; this client reads the raw attributes. What goes on
the wire is ``ipvs/codec.py``, the netlink framing ``lvs_cluster/netlink.py``; both are
re-exported here, as the names were all defined here once. Standard library only.
"""

from __future__ import annotations

from ..netlink import (
    BATCH_BYTES,
    CTRL_ATTR_FAMILY_ID,
    CTRL_ATTR_FAMILY_NAME,
    CTRL_CMD_GETFAMILY,
    GENL_ID_CTRL,
    GENLHDR,
    NETLINK_GENERIC,
    NLA_F_NESTED,
    NLA_TYPE_MASK,
    NLATTR,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_MULTI,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSGHDR,
    RECV_BUFFER,
    SO_RCVBUFFORCE,
    SO_SNDBUFFORCE,
    SOCKET_BUFFER,
    GenericNetlink,
    NetlinkError,
    Request,
    address,
    attr,
    be16,
    ip_text,
    nested,
    parse_attrs,
    string,
    text,
    u8,
    u16,
    u32,
    unpack,
)
from . import codec
from .codec import (
    CMD_ATTR_DAEMON,
    CMD_ATTR_DEST,
    CMD_ATTR_SERVICE,
    CMD_ATTR_TIMEOUT_TCP,
    CMD_ATTR_TIMEOUT_TCP_FIN,
    CMD_ATTR_TIMEOUT_UDP,
    CMD_DEL_DAEMON,
    CMD_DEL_DEST,
    CMD_DEL_SERVICE,
    CMD_GET_CONFIG,
    CMD_GET_DAEMON,
    CMD_GET_DEST,
    CMD_GET_INFO,
    CMD_GET_SERVICE,
    CMD_NEW_DAEMON,
    CMD_NEW_DEST,
    CMD_NEW_SERVICE,
    CMD_SET_CONFIG,
    CMD_SET_DEST,
    CMD_SET_SERVICE,
    DAEMON_DEFAULTS,
    DAEMON_MCAST_GROUP,
    DAEMON_MCAST_GROUP6,
    DAEMON_MCAST_IFN,
    DAEMON_MCAST_PORT,
    DAEMON_MCAST_TTL,
    DAEMON_STATE,
    DAEMON_STATES,
    DAEMON_SYNC_ID,
    DAEMON_SYNC_MAXLEN,
    DEST_ACTIVE_CONNS,
    DEST_ADDR,
    DEST_ADDR_FAMILY,
    DEST_FWD_METHOD,
    DEST_INACT_CONNS,
    DEST_L_THRESH,
    DEST_PERSIST_CONNS,
    DEST_PORT,
    DEST_STATS,
    DEST_STATS64,
    DEST_TUN_FLAGS,
    DEST_TUN_PORT,
    DEST_TUN_TYPE,
    DEST_U_THRESH,
    DEST_WEIGHT,
    FAMILIES,
    FAMILY_NAMES,
    FLAG_BITS,
    FLAG_HASHED,
    FLAG_SCHED1,
    FLAG_SCHED2,
    FORWARDING,
    FORWARDING_NAMES,
    FWD_MASK,
    INFO_CONN_TAB_SIZE,
    INFO_VERSION,
    IPVS_GENL_NAME,
    IPVS_GENL_VERSION,
    PROTOCOL_NAMES,
    PROTOCOLS,
    STATS_FIELDS,
    SVC_ADDR,
    SVC_AF,
    SVC_FLAGS,
    SVC_FWMARK,
    SVC_NETMASK,
    SVC_PE_NAME,
    SVC_PORT,
    SVC_PROTOCOL,
    SVC_SCHED_NAME,
    SVC_STATS,
    SVC_STATS64,
    SVC_TIMEOUT,
    TUNNEL_FLAG_BITS,
    TUNNEL_TYPE_NAMES,
    TUNNEL_TYPES,
    DestinationState,
    Stats,
    SyncDaemon,
    Timeouts,
    add_destination,
    add_service,
    daemon_matches,
    decode_daemon,
    decode_destination,
    decode_service,
    decode_stats,
    decode_timeouts,
    delete_destination,
    delete_service,
    describe_destination,
    describe_service,
    dest_attrs,
    dest_identity,
    destination_options,
    edit_destination,
    edit_service,
    expected_daemon,
    normalize_destination,
    normalize_service,
    service_attrs,
    service_identity,
)
from .model import Destination, Service

__all__ = [  # what other code imports from here
    "BATCH_BYTES",
    "CMD_ATTR_DAEMON",
    "CMD_ATTR_DEST",
    "CMD_ATTR_SERVICE",
    "CMD_ATTR_TIMEOUT_TCP",
    "CMD_ATTR_TIMEOUT_TCP_FIN",
    "CMD_ATTR_TIMEOUT_UDP",
    "CMD_DEL_DAEMON",
    "CMD_DEL_DEST",
    "CMD_DEL_SERVICE",
    "CMD_GET_CONFIG",
    "CMD_GET_DAEMON",
    "CMD_GET_DEST",
    "CMD_GET_INFO",
    "CMD_GET_SERVICE",
    "CMD_NEW_DAEMON",
    "CMD_NEW_DEST",
    "CMD_NEW_SERVICE",
    "CMD_SET_CONFIG",
    "CMD_SET_DEST",
    "CMD_SET_SERVICE",
    "CTRL_ATTR_FAMILY_ID",
    "CTRL_ATTR_FAMILY_NAME",
    "CTRL_CMD_GETFAMILY",
    "DAEMON_DEFAULTS",
    "DAEMON_MCAST_GROUP",
    "DAEMON_MCAST_GROUP6",
    "DAEMON_MCAST_IFN",
    "DAEMON_MCAST_PORT",
    "DAEMON_MCAST_TTL",
    "DAEMON_STATE",
    "DAEMON_STATES",
    "DAEMON_SYNC_ID",
    "DAEMON_SYNC_MAXLEN",
    "DEST_ACTIVE_CONNS",
    "DEST_ADDR",
    "DEST_ADDR_FAMILY",
    "DEST_FWD_METHOD",
    "DEST_INACT_CONNS",
    "DEST_L_THRESH",
    "DEST_PERSIST_CONNS",
    "DEST_PORT",
    "DEST_STATS",
    "DEST_STATS64",
    "DEST_TUN_FLAGS",
    "DEST_TUN_PORT",
    "DEST_TUN_TYPE",
    "DEST_U_THRESH",
    "DEST_WEIGHT",
    "DestinationState",
    "FAMILIES",
    "FAMILY_NAMES",
    "FLAG_BITS",
    "FLAG_HASHED",
    "FLAG_SCHED1",
    "FLAG_SCHED2",
    "FORWARDING",
    "FORWARDING_NAMES",
    "FWD_MASK",
    "GENLHDR",
    "GENL_ID_CTRL",
    "GenericNetlink",
    "INFO_CONN_TAB_SIZE",
    "INFO_VERSION",
    "IPVS_GENL_NAME",
    "IPVS_GENL_VERSION",
    "IpvsNetlink",
    "IpvsNetlinkError",
    "NETLINK_GENERIC",
    "NLATTR",
    "NLA_F_NESTED",
    "NLA_TYPE_MASK",
    "NLMSGHDR",
    "NLMSG_DONE",
    "NLMSG_ERROR",
    "NLM_F_ACK",
    "NLM_F_DUMP",
    "NLM_F_MULTI",
    "NLM_F_REQUEST",
    "NetlinkError",
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "RECV_BUFFER",
    "Request",
    "SOCKET_BUFFER",
    "SO_RCVBUFFORCE",
    "SO_SNDBUFFORCE",
    "STATS_FIELDS",
    "SVC_ADDR",
    "SVC_AF",
    "SVC_FLAGS",
    "SVC_FWMARK",
    "SVC_NETMASK",
    "SVC_PE_NAME",
    "SVC_PORT",
    "SVC_PROTOCOL",
    "SVC_SCHED_NAME",
    "SVC_STATS",
    "SVC_STATS64",
    "SVC_TIMEOUT",
    "Stats",
    "SyncDaemon",
    "TUNNEL_FLAG_BITS",
    "TUNNEL_TYPES",
    "TUNNEL_TYPE_NAMES",
    "Timeouts",
    "add_destination",
    "add_service",
    "address",
    "attr",
    "be16",
    "daemon_matches",
    "decode_daemon",
    "decode_destination",
    "decode_service",
    "decode_stats",
    "decode_timeouts",
    "delete_destination",
    "delete_service",
    "describe_destination",
    "describe_service",
    "dest_attrs",
    "dest_identity",
    "edit_destination",
    "edit_service",
    "expected_daemon",
    "ip_text",
    "nested",
    "normalize_destination",
    "normalize_service",
    "parse_attrs",
    "read_live",
    "service_attrs",
    "service_identity",
    "string",
    "text",
    "u16",
    "u32",
    "u8",
    "unpack",
]

# private names of the framing, still read by bench/reconcile.py
_NLMSGHDR, _GENLHDR, _NLATTR = NLMSGHDR, GENLHDR, NLATTR
_u, _text, _address, _stats = unpack, text, ip_text, decode_stats


class IpvsNetlinkError(NetlinkError):
    """The kernel refused an IPVS request; ``errno`` is its reason, ``what`` names the object.

    ``index`` is the request's position in what ``pipeline`` was given (None elsewhere).
    """


class IpvsNetlink(GenericNetlink):
    """A generic netlink socket bound to the kernel's IPVS family."""

    family_name = IPVS_GENL_NAME.decode()
    version = IPVS_GENL_VERSION
    missing_hint = " (is the ip_vs kernel module loaded?)"
    error = IpvsNetlinkError
    fence = codec.FENCE

    def write(self, request: Request) -> None:
        """One write through the pipeline; raises its refusal."""
        _sent, failures = self.pipeline([request])
        if failures:
            raise failures[0]

    # --- reads ---------------------------------------------------------------------------------

    def services(self) -> list[tuple[Service, Stats]]:
        out = []
        for reply in self.dump(CMD_GET_SERVICE):
            if CMD_ATTR_SERVICE in reply:
                out.append(decode_service(parse_attrs(reply[CMD_ATTR_SERVICE])))
        return out

    def destinations(self, service: Service, with_state: bool = True
                     ) -> list[tuple[Destination, DestinationState | None]]:
        """The service's destinations; without ``with_state`` counters are not decoded (None)."""
        family = FAMILIES[service.family]
        identity = nested(CMD_ATTR_SERVICE, service_identity(service))
        if not with_state:
            return [(dest, None) for dest in self.dump_decoded(
                CMD_GET_DEST, identity, lambda body: destination_options(body, family))]
        out = []
        for reply in self.dump(CMD_GET_DEST, identity):
            if CMD_ATTR_DEST in reply:
                out.append(decode_destination(parse_attrs(reply[CMD_ATTR_DEST]), family,
                                              with_state))
        return out

    def timeouts(self) -> Timeouts:
        return decode_timeouts(self.request(CMD_GET_CONFIG, b"", "IPVS timeouts")[0])

    def daemons(self) -> list[SyncDaemon]:
        return [decode_daemon(parse_attrs(reply[CMD_ATTR_DAEMON]))
                for reply in self.dump(CMD_GET_DAEMON) if CMD_ATTR_DAEMON in reply]

    # --- writes beside the table ---------------------------------------------------------------

    def set_timeouts(self, timeouts: Timeouts) -> None:
        self.write(codec.set_timeouts(timeouts))

    def start_daemon(self, daemon: SyncDaemon) -> None:
        self.write(codec.start_daemon(daemon))

    def stop_daemon(self, state: str) -> None:
        """Stop the master or backup sync daemon (see ``codec.stop_daemon``: no ack)."""
        self.write(codec.stop_daemon(state))


def read_live(kernel: IpvsNetlink
              ) -> list[tuple[Service, Stats, list[tuple[Destination, DestinationState]]]]:
    """Services with their stats, and each one's destinations with their states."""
    return [(service, stats, kernel.destinations(service))
            for service, stats in kernel.services()]
