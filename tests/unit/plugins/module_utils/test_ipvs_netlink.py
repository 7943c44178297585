# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS netlink client against the fake kernel: every feature round trip, the kernel's
refusals, pipelining and batching, dumps, timeouts and the sync daemon."""

from __future__ import annotations

import dataclasses
import errno
import math
import struct

import pytest
from fake_ipvs_kernel import (
    AF_INET,
    AF_INET6,
    HASHED,
    KERNEL_SCHEDULERS,
    FakeIpvsKernel,
)

from plugins.module_utils.lvs_cluster.ipvs import netlink as nl
from plugins.module_utils.lvs_cluster.ipvs.model import Destination, Service

VIP4, VIP6 = "192.0.2.10", "2001:db8::10"


@pytest.fixture
def fake():
    return FakeIpvsKernel()


@pytest.fixture
def kernel(fake):
    return nl.IpvsNetlink(fake)


def web(address=VIP4, port=80, protocol="tcp", **options):
    family = "inet6" if ":" in address else "inet"
    return Service(family, protocol, address, port, **options)


def add(kernel, service, *dests):
    sent, failures = kernel.pipeline(
        [nl.add_service(service)] + [nl.add_destination(service, d) for d in dests])
    assert failures == []
    assert sent == 1 + len(dests)


def only_service(kernel):
    [(service, stats)] = kernel.services()
    assert stats == nl.Stats()
    return service


def services_of(kernel):
    return [service for service, _stats in kernel.services()]


def dests_of(kernel, service):
    return [dest for dest, _state in kernel.destinations(service)]


def refused(call, *args):
    with pytest.raises(nl.IpvsNetlinkError) as info:
        call(*args)
    return info.value


# --- the family --------------------------------------------------------------------------------

def test_resolves_the_family_once_then_uses_it(fake):
    other = FakeIpvsKernel(family_id=0x25)
    kernel = nl.IpvsNetlink(other)
    assert kernel.family == 0x25
    assert other.batches == [[(nl.CTRL_CMD_GETFAMILY, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 1)]]
    assert kernel.services() == []  # a wrong family id would be ENOENT


def test_missing_family_names_the_ip_vs_module():
    error = refused(nl.IpvsNetlink, FakeIpvsKernel(ipvs_loaded=False))
    assert error.errno == errno.ENOENT
    assert "ip_vs" in str(error)


def test_unprivileged_reads_and_writes_are_eperm():
    kernel = nl.IpvsNetlink(FakeIpvsKernel(privileged=False))
    assert refused(kernel.services).errno == errno.EPERM
    assert refused(kernel.request, *_raw(nl.add_service(web()))).errno == errno.EPERM


def _raw(request):
    return request.command, request.payload, request.what


# --- services ----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["tcp", "udp", "sctp"])
@pytest.mark.parametrize("address", [VIP4, VIP6, "0.0.0.0", "::"])
def test_service_identity_round_trip(kernel, fake, protocol, address):
    service = web(address, 8080, protocol)
    add(kernel, service)
    assert only_service(kernel) == service
    raw = fake.service(address, 8080, protocol={"tcp": 6, "udp": 17, "sctp": 132}[protocol])
    assert raw.port == 8080  # the fake reads the port big-endian
    assert raw.address == address


@pytest.mark.parametrize("family", ["inet", "inet6"])
def test_fwmark_service_round_trip(kernel, fake, family):
    service = Service(family, None, None, None, fwmark=0xFFFFFFFF, scheduler="rr")
    add(kernel, service)
    assert only_service(kernel) == service
    af = AF_INET if family == "inet" else AF_INET6
    assert fake.service(fwmark=0xFFFFFFFF, af=af).sched_name == "rr"


def test_fwmark_services_of_both_families_are_distinct(kernel):
    v4 = Service("inet", None, None, None, fwmark=7)
    v6 = Service("inet6", None, None, None, fwmark=7)
    add(kernel, v4)
    add(kernel, v6)
    assert set(services_of(kernel)) == {v4, v6}


@pytest.mark.parametrize("scheduler", sorted(KERNEL_SCHEDULERS | {"none"}))
def test_every_scheduler_round_trips(kernel, scheduler):
    add(kernel, web(scheduler=scheduler))
    assert only_service(kernel).scheduler == scheduler


@pytest.mark.parametrize("scheduler,flags,bits", [
    ("sh", {"sh-fallback"}, 0x8), ("sh", {"sh-port"}, 0x10),
    ("sh", {"sh-fallback", "sh-port"}, 0x18), ("mh", {"mh-fallback"}, 0x8),
    ("mh", {"mh-port"}, 0x10), ("mh", {"mh-fallback", "mh-port"}, 0x18)])
def test_scheduler_flags_decode_after_their_scheduler(kernel, fake, scheduler, flags, bits):
    add(kernel, web(scheduler=scheduler, flags=flags))
    assert only_service(kernel).flags == flags
    assert fake.service(VIP4, 80).flags == bits | HASHED


def test_hashed_bit_is_set_in_the_kernel_and_masked_when_read(kernel, fake):
    service = web(flags={"persistent", "one-packet"}, timeout=60)
    add(kernel, service)
    assert fake.service(VIP4, 80).flags == 0x1 | 0x4 | HASHED
    assert only_service(kernel).flags == {"persistent", "one-packet"}


@pytest.mark.parametrize("netmask,raw", [
    (None, b"\xff\xff\xff\xff"), (24, b"\xff\xff\xff\x00"), (17, b"\xff\xff\x80\x00"),
    (1, b"\x80\x00\x00\x00"), (0, b"\x00\x00\x00\x00")])
def test_persistence_with_ipv4_netmask(kernel, fake, netmask, raw):
    service = web(flags={"persistent"}, timeout=3600, netmask=netmask)
    add(kernel, service)
    assert only_service(kernel) == service
    stored = fake.service(VIP4, 80)
    assert stored.netmask == raw  # the mask's four bytes in network order
    assert stored.timeout_seconds == 3600
    assert stored.timeout == 3600 * fake.hz  # kept in jiffies


@pytest.mark.parametrize("netmask,prefix", [(None, 128), (64, 64), (1, 1), (127, 127)])
def test_persistence_with_ipv6_prefix(kernel, fake, netmask, prefix):
    service = web(VIP6, flags={"persistent"}, timeout=300, netmask=netmask)
    add(kernel, service)
    assert only_service(kernel) == service
    stored = fake.service(VIP6, 80)
    assert stored.netmask == struct.pack("=I", prefix)  # the prefix length, host order
    assert stored.netmask_host_u32 == prefix


def test_timeouts_beyond_2_32_jiffies_wrap_like_the_kernel(kernel, fake):
    # svc->timeout = u->timeout * HZ, an unsigned int: the model accepts timeouts the kernel
    # cannot hold (above 17179869 s at HZ=250), which then read back as something else
    big = 2**32 // fake.hz + 2
    add(kernel, web(flags={"persistent"}, timeout=big))
    assert only_service(kernel).timeout == 1


def test_ipv6_prefix_zero_is_refused_like_the_kernel(kernel):
    error = refused(kernel.request, *_raw(nl.add_service(web(VIP6, netmask=0))))
    assert error.errno == errno.EINVAL


def test_one_packet_and_sip_persistence_engine(kernel, fake):
    service = web(protocol="udp", port=5060, flags={"persistent", "one-packet"}, timeout=90,
                  pe_name="sip")
    add(kernel, service)
    assert only_service(kernel) == service
    assert fake.service(VIP4, 5060, protocol=17).pe_name == "sip"


def test_edit_service_replaces_every_option(kernel, fake):
    before = web(scheduler="sh", flags={"persistent", "sh-port"}, timeout=60, netmask=24,
                 pe_name="sip")
    after = web(scheduler="mh", flags={"mh-fallback"}, timeout=0)
    add(kernel, before)
    kernel.request(*_raw(nl.edit_service(after)))
    assert only_service(kernel) == after
    stored = fake.service(VIP4, 80)
    assert (stored.flags, stored.pe_name, stored.netmask) == (0x8 | HASHED, None, b"\xff" * 4)


def test_delete_service_takes_its_destinations(kernel, fake):
    service = web()
    add(kernel, service, Destination("10.0.0.1", 80), Destination("10.0.0.2", 80))
    kernel.request(*_raw(nl.delete_service(service)))
    assert kernel.services() == []
    assert kernel.destinations(service) == []
    assert fake.snapshot() == {}


# --- destinations ------------------------------------------------------------------------------

DESTINATIONS = [
    Destination("10.0.0.1", 8080),
    Destination("10.0.0.1", 80, forwarding="direct", weight=0),
    Destination("10.0.0.1", 80, forwarding="local", weight=0x7FFFFFFF),
    Destination("10.0.0.1", 80, forwarding="nat", weight=3, upper_threshold=100,
                lower_threshold=50),
    Destination("10.0.0.1", 80, forwarding="nat", upper_threshold=7, lower_threshold=7),
    Destination("10.0.0.1", 80, forwarding="tunnel"),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=6080),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=1,
                tunnel_flags={"csum"}),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=65535,
                tunnel_flags={"remcsum", "csum"}),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gre"),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gre",
                tunnel_flags={"csum"}),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gre", tunnel_port=4754,
                tunnel_flags={"remcsum"}),
    Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_port=99),  # the kernel keeps it
]


@pytest.mark.parametrize("dest", DESTINATIONS, ids=repr)
def test_destination_round_trip(kernel, dest):
    service = web()
    add(kernel, service, dest)
    [(read, state)] = kernel.destinations(service)
    assert read == dest
    assert state == nl.DestinationState()


@pytest.mark.parametrize("dest", [Destination("2001:db8:1::1", 80),
                                  Destination("2001:db8:1::1", 443, forwarding="tunnel",
                                              tunnel_type="gue", tunnel_port=6080)], ids=repr)
def test_ipv6_destination_round_trip(kernel, dest):
    service = web(VIP6, 443)
    add(kernel, service, dest)
    assert dests_of(kernel, service) == [dest]


def test_destinations_of_a_fwmark_service(kernel):
    service = Service("inet6", None, None, None, fwmark=42)
    dests = [Destination("2001:db8:1::1", 0), Destination("2001:db8:1::2", 0, weight=2)]
    add(kernel, service, *dests)
    assert set(dests_of(kernel, service)) == set(dests)


def test_mixed_family_destination_only_by_tunnel(kernel):
    service = web()
    tunnel = Destination("2001:db8:1::1", 80, forwarding="tunnel")
    add(kernel, service, tunnel)
    assert dests_of(kernel, service) == [tunnel]
    nat = Destination("2001:db8:1::2", 80)
    error = refused(kernel.request, *_raw(nl.add_destination(service, nat)))
    assert error.errno == errno.EINVAL


def test_edit_destination_resets_what_it_does_not_send(kernel, fake):
    service = web()
    gue = Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gue",
                      tunnel_port=6080, tunnel_flags={"csum"}, weight=4)
    add(kernel, service, gue)
    nat = Destination("10.0.0.1", 80, forwarding="nat", weight=9, upper_threshold=5)
    kernel.request(*_raw(nl.edit_destination(service, nat)))
    assert dests_of(kernel, service) == [nat]
    [stored] = fake.service(VIP4, 80).dests.values()
    assert (stored.tun_type, stored.tun_port, stored.tun_flags) == (0, 0, 0)


def test_delete_destination(kernel):
    service = web()
    keep, drop = Destination("10.0.0.1", 80), Destination("10.0.0.2", 80)
    add(kernel, service, keep, drop)
    kernel.request(*_raw(nl.delete_destination(service, drop)))
    assert dests_of(kernel, service) == [keep]


def test_destinations_dump_newest_first_like_the_kernel(kernel):
    service = web()
    dests = [Destination(f"10.0.0.{i}", 80) for i in range(1, 6)]
    add(kernel, service, *dests)
    assert dests_of(kernel, service) == dests[::-1]


def test_objects_read_unchecked_are_what_the_checked_constructors_make(kernel):
    # a table read builds its objects with from_kernel, skipping the checks: each must equal
    # (and hash and print like) the checked constructor's object of the same values
    from plugins.module_utils.lvs_cluster.ipvs.reconcile import read_table
    services = [web(port=1000 + i) for i in range(len(DESTINATIONS))] + [
        web(VIP6, 443), web("2001:DB8:0:0::11", 443, "udp", flags={"persistent"}, timeout=60,
                            netmask=64),
        Service("inet", None, None, None, fwmark=7, scheduler="sh",
                flags={"sh-port", "sh-fallback"}),
        Service("inet6", None, None, None, fwmark=8, scheduler="mh", flags={"mh-port"}),
        web(port=1, flags={"persistent", "one-packet"}, timeout=300, netmask=24,
            pe_name="sip")]
    dests = [(d,) for d in DESTINATIONS] + [
        (Destination("2001:db8:1::1", 443), Destination("::ffff:10.0.0.9", 443, "tunnel")),
        (Destination("2001:db8:1:0::2", 443, weight=5),), (Destination("10.0.0.3", 0),),
        (Destination("2001:db8:1::3", 0, "direct"),), (Destination("10.0.0.4", 80, "direct"),)]
    for service, its in zip(services, dests, strict=True):
        add(kernel, service, *its)
    table = read_table(kernel)
    assert set(table) == set(services)
    for service, its in zip(services, dests, strict=True):
        assert table[service] == its[::-1]
        assert [d for d, _state in kernel.destinations(service)] == list(its[::-1])
    for read in [*table, *(d for its in table.values() for d in its)]:
        checked = dataclasses.replace(read)
        assert (checked, hash(checked), repr(checked)) == (read, hash(read), repr(read))


def _dest_reply(*attributes):
    return nl.GENLHDR.pack(nl.CMD_NEW_DEST, 1, 0) + nl.nested(nl.CMD_ATTR_DEST, *attributes)


def test_a_reply_laid_out_unlike_the_learned_one_is_walked():
    # replies are read with the layout learned from the first of their size, checked against
    # every attribute header: one with the same size but other attributes in other places
    # must still decode by its own headers
    common = [nl.address(nl.DEST_ADDR, "10.0.0.1"), nl.be16(nl.DEST_PORT, 80),
              nl.u32(nl.DEST_FWD_METHOD, 0)]
    first = _dest_reply(*common, nl.u32(nl.DEST_WEIGHT, 5), nl.u32(nl.DEST_U_THRESH, 7),
                        nl.u32(nl.DEST_L_THRESH, 3), nl.u32(nl.DEST_ACTIVE_CONNS, 9))
    swapped = _dest_reply(*common, nl.u32(nl.DEST_ACTIVE_CONNS, 9), nl.u32(nl.DEST_L_THRESH, 2),
                          nl.u32(nl.DEST_U_THRESH, 8), nl.u32(nl.DEST_WEIGHT, 6))
    assert len(first) == len(swapped)
    for learned in (False, True):  # then both are read through the learned layout
        assert nl.destination_options(first, AF_INET) == Destination(
            "10.0.0.1", 80, "nat", weight=5, upper_threshold=7, lower_threshold=3), learned
        assert nl.destination_options(swapped, AF_INET) == Destination(
            "10.0.0.1", 80, "nat", weight=6, upper_threshold=8, lower_threshold=2), learned


def test_destinations_of_a_missing_service_are_an_empty_dump(kernel):
    assert kernel.destinations(web()) == []


def test_counters_and_statistics_are_decoded(kernel, fake):
    service = web()
    add(kernel, service, Destination("10.0.0.1", 80))
    stored = fake.service(VIP4, 80)
    stored.stats.update({1: 5, 4: 2**40, 10: 77})
    [dest] = stored.dests.values()
    dest.activeconns, dest.inactconns, dest.persistconns = 3, 2, 1
    dest.stats.update({2: 11, 5: 2**33})
    [(_service, stats)] = kernel.services()
    assert (stats.conns, stats.inbytes, stats.outbps) == (5, 2**40, 77)
    [(_dest, state)] = kernel.destinations(service)
    assert (state.active_conns, state.inactive_conns, state.persistent_conns) == (3, 2, 1)
    assert (state.stats.inpkts, state.stats.outbytes) == (11, 2**33)


def test_statistics_with_u64_padding_attributes():
    fake = FakeIpvsKernel(pad_u64=True)
    kernel = nl.IpvsNetlink(fake)
    add(kernel, web())
    fake.service(VIP4, 80).stats[4] = 2**50
    [(_service, stats)] = kernel.services()
    assert stats.inbytes == 2**50


# --- the kernel's refusals ---------------------------------------------------------------------

def _dest_request(command, service, *parts):
    return nl.Request(command, nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(service))
                      + nl.nested(nl.CMD_ATTR_DEST, *parts), "crafted")


def test_refusals(kernel):
    service, dest = web(), Destination("10.0.0.1", 80)
    missing = web(port=81)

    def code(request):
        return refused(kernel.request, *_raw(request)).errno

    add(kernel, service, dest)
    assert code(nl.add_service(service)) == errno.EEXIST
    assert code(nl.edit_service(missing)) == errno.ESRCH
    assert code(nl.delete_service(missing)) == errno.ESRCH
    identity_only = nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(missing))
    assert code(nl.Request(nl.CMD_NEW_SERVICE, identity_only, "x")) == errno.EINVAL
    identity_only = nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(service))
    assert code(nl.Request(nl.CMD_SET_SERVICE, identity_only, "x")) == errno.EINVAL
    assert code(nl.add_service(web(port=82, scheduler="nope"))) == errno.ENOENT
    assert code(nl.edit_service(web(scheduler="nope"))) == errno.ENOENT
    assert code(nl.add_service(web(port=82, pe_name="nope"))) == errno.ENOENT
    assert code(nl.add_service(web(port=82, scheduler="x" * 16))) == errno.EINVAL
    assert code(nl.add_destination(service, dest)) == errno.EEXIST
    other = Destination("10.0.0.2", 80)
    assert code(nl.edit_destination(service, other)) == errno.ENOENT
    assert code(nl.delete_destination(service, other)) == errno.ENOENT
    assert code(nl.add_destination(missing, other)) == errno.ESRCH
    assert code(nl.edit_destination(missing, dest)) == errno.ESRCH
    assert code(nl.delete_destination(missing, dest)) == errno.ESRCH
    assert code(nl.add_destination(service, Destination(
        "10.0.0.3", 80, upper_threshold=5, lower_threshold=6))) == errno.ERANGE
    # unconditional in ip_vs_add_dest(): an upper threshold of 0 is no exception
    assert code(nl.add_destination(service, Destination(
        "10.0.0.3", 80, upper_threshold=0, lower_threshold=1))) == errno.ERANGE
    assert code(nl.edit_destination(service, Destination(
        "10.0.0.1", 80, upper_threshold=1, lower_threshold=2))) == errno.ERANGE
    assert code(_dest_request(nl.CMD_NEW_DEST, service, nl.dest_identity(other),
                              nl.u32(nl.DEST_FWD_METHOD, 0), nl.u32(nl.DEST_WEIGHT, 1 << 31),
                              nl.u32(nl.DEST_U_THRESH, 0), nl.u32(nl.DEST_L_THRESH, 0))
                ) == errno.ERANGE
    assert code(_dest_request(nl.CMD_NEW_DEST, service, nl.dest_identity(other))
                ) == errno.EINVAL
    assert code(nl.add_destination(service, Destination(
        "10.0.0.3", 80, forwarding="tunnel", tunnel_type="gue"))) == errno.EINVAL
    for address in ("224.0.0.1", "255.255.255.255", "0.0.0.0"):
        assert code(nl.add_destination(service, Destination(address, 80))) == errno.EINVAL
    # nothing of this changed the table
    assert only_service(kernel) == service
    assert dests_of(kernel, service) == [dest]


# --- pipelining --------------------------------------------------------------------------------

def test_pipeline_reports_each_failure_with_its_object(kernel, fake):
    service = web()
    good, bad = Destination("10.0.0.1", 80), Destination("10.0.0.2", 80)
    fake.fail_on(lambda w: w.name == "NEW_DEST" and w.dest_address == "10.0.0.2",
                 errno.ENOMEM)
    requests = [nl.add_service(service), nl.add_destination(service, bad),
                nl.add_destination(service, good), nl.add_destination(service, good)]
    sent, failures = kernel.pipeline(requests)
    assert sent == 4  # one batch: the kernel goes on after a failed message
    assert [(f.errno, f.index, f.what) for f in failures] == [
        (errno.ENOMEM, 1, "add destination 10.0.0.2:80 of service tcp 192.0.2.10:80"),
        (errno.EEXIST, 3, "add destination 10.0.0.1:80 of service tcp 192.0.2.10:80")]
    assert "Cannot allocate memory" in str(failures[0])
    assert dests_of(kernel, service) == [good]


def test_ipv6_descriptions(kernel):
    service = web(VIP6, 443)
    sent, failures = kernel.pipeline([nl.add_destination(service, Destination(
        "2001:db8:1::1", 443))])
    assert (sent, [f.what for f in failures]) == (1, [
        "add destination [2001:db8:1::1]:443 of service tcp [2001:db8::10]:443"])
    fwmark = Service("inet6", None, None, None, fwmark=3)
    assert nl.delete_service(fwmark).what == "delete service fwmark 3 (inet6)"


def _many_destinations(services=1000, per_service=4):
    table = {}
    for s in range(services):
        service = web(f"192.0.{2 + s // 250}.{1 + s % 250}", 80 + s % 3)
        table[service] = tuple(Destination(f"10.{s // 250}.{s % 250}.{d + 1}", 8080 + d,
                                           weight=d)
                               for d in range(per_service))
    return table


def _requests(table):
    requests = []
    for service, dests in table.items():
        requests.append(nl.add_service(service))
        requests += [nl.add_destination(service, d) for d in dests]
    return requests


def test_5000_writes_in_few_sends_acked_once_per_batch(kernel, fake):
    table = _many_destinations()
    requests = _requests(table)
    before = fake.sends
    sent, failures = kernel.pipeline(requests)
    assert (sent, failures) == (5000, [])
    batches = fake.batches[before:]
    sizes = fake.sent_bytes[before:]
    assert sum(len(b) for b in batches) == 5000
    assert len(batches) == math.ceil(sum(sizes) / nl.BATCH_BYTES) or \
        len(batches) == math.ceil(sum(sizes) / nl.BATCH_BYTES) + 1
    assert len(batches) < 20
    assert all(size <= nl.BATCH_BYTES for size in sizes)
    for batch in batches:
        acks = [bool(flags & nl.NLM_F_ACK) for _cmd, flags, _seq in batch]
        assert acks == [False] * (len(batch) - 1) + [True]
    assert len(fake.services) == 1000
    assert sum(len(s.dests) for s in fake.services.values()) == 4000


def test_ack_only_on_the_last_message_whatever_the_sizes(kernel, fake):
    # payloads of many sizes, so that some message ends just short of the batch limit
    service = web()
    requests = [nl.Request(nl.CMD_SET_CONFIG, nl.attr(99, b"x" * (n % 300)), f"r{n}")
                for n in range(3000)]
    assert kernel.pipeline(requests) == (3000, [])
    for batch, size in zip(fake.batches[1:], fake.sent_bytes[1:], strict=True):
        assert [flags & nl.NLM_F_ACK for _c, flags, _s in batch][-1]
        assert sum(bool(flags & nl.NLM_F_ACK) for _c, flags, _s in batch) == 1
        assert size <= nl.BATCH_BYTES
    assert service not in fake.services


def test_pipeline_stops_after_the_first_failing_batch(kernel, fake):
    table = _many_destinations(services=500)
    requests = _requests(table)
    fake.fail_on(7, errno.ENOMEM)
    before = fake.sends
    sent, failures = kernel.pipeline(requests)
    assert fake.sends - before == 1
    first_batch = len(fake.batches[-1])
    assert sent == first_batch < len(requests)
    assert [(f.index, f.errno) for f in failures] == [(6, errno.ENOMEM)]
    assert failures[0].what == requests[6].what
    # the rest of the first batch was applied, nothing after it
    applied = sum(1 + len(s.dests) for s in fake.services.values())
    assert applied == first_batch - 1


def test_pipeline_can_go_on_after_failures(kernel, fake):
    requests = _requests(_many_destinations(services=500))
    fake.fail_on(lambda w: w.name == "NEW_DEST" and w.dest_port == 8081, errno.EBUSY,
                 times=None)
    sent, failures = kernel.pipeline(requests, stop_on_failure=False)
    assert sent == len(requests)
    assert len(failures) == 500
    assert {f.errno for f in failures} == {errno.EBUSY}
    assert [f.index for f in failures] == list(range(2, len(requests), 5))


def test_empty_pipeline_sends_nothing(kernel, fake):
    before = fake.sends
    assert kernel.pipeline([]) == (0, [])
    assert fake.sends == before


# --- dumps -------------------------------------------------------------------------------------

def test_large_dump_spans_datagrams(kernel, fake):
    table = _many_destinations()
    assert kernel.pipeline(_requests(table)) == (5000, [])
    recvs = fake.recvs
    read = kernel.services()
    assert fake.recvs - recvs > 5  # several NLM_F_MULTI datagrams, then DONE
    assert [service for service, _stats in read] == list(table)
    first = next(iter(table))
    assert set(dests_of(kernel, first)) == set(table[first])


def test_get_service_do_request(kernel):
    service = web(scheduler="rr")
    add(kernel, service)
    request = nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(service))
    [reply] = kernel.request(nl.CMD_GET_SERVICE, request, "get")
    assert nl.decode_service(nl.parse_attrs(reply[nl.CMD_ATTR_SERVICE]))[0] == service
    missing = nl.nested(nl.CMD_ATTR_SERVICE, nl.service_identity(web(port=1)))
    assert refused(kernel.request, nl.CMD_GET_SERVICE, missing, "get").errno == errno.ESRCH


# --- timeouts and the sync daemon --------------------------------------------------------------

def test_timeouts(kernel):
    assert kernel.timeouts() == nl.Timeouts(tcp=900, tcp_fin=120, udp=300)
    kernel.set_timeouts(nl.Timeouts(tcp=7200, tcp_fin=30, udp=60))
    assert kernel.timeouts() == nl.Timeouts(tcp=7200, tcp_fin=30, udp=60)
    kernel.set_timeouts(nl.Timeouts(tcp=0, tcp_fin=0, udp=45))  # 0: leave it as it is
    assert kernel.timeouts() == nl.Timeouts(tcp=7200, tcp_fin=30, udp=45)
    error = refused(kernel.set_timeouts, nl.Timeouts(tcp=2**31 - 1, tcp_fin=1, udp=1))
    assert error.errno == errno.EINVAL


def test_sync_daemons(kernel, fake):
    assert kernel.daemons() == []
    master = nl.SyncDaemon("master", "eth0", sync_id=9, max_len=1400, group="239.1.1.1",
                           port=8849, ttl=2)
    backup = nl.SyncDaemon("backup", "eth1", sync_id=9, group="ff02::81")
    kernel.start_daemon(master)
    kernel.start_daemon(backup)
    assert fake.daemons[1].mcast_port == 8849  # host byte order on the wire
    assert kernel.daemons() == [master, nl.SyncDaemon(
        "backup", "eth1", sync_id=9, max_len=9000 - 48, group="ff02::81", port=8848, ttl=1)]
    assert refused(kernel.start_daemon, master).errno == errno.EEXIST
    kernel.stop_daemon("master")
    assert [d.state for d in kernel.daemons()] == ["backup"]
    kernel.stop_daemon("backup")
    assert kernel.daemons() == []
    assert refused(kernel.stop_daemon, "backup").errno == errno.ESRCH


def test_stopping_a_daemon_whose_thread_never_ran_does_not_hang():
    fake = FakeIpvsKernel(sync_threads_run=False)
    kernel = nl.IpvsNetlink(fake)
    kernel.start_daemon(nl.SyncDaemon("backup", "eth0"))
    kernel.stop_daemon("backup")  # -EINTR: no error, no ack
    assert kernel.daemons() == []
    assert refused(kernel.stop_daemon, "backup").errno == errno.ESRCH
    # why: an acknowledged DEL_DAEMON gets no answer at all (a real socket blocks for ever)
    kernel.start_daemon(nl.SyncDaemon("backup", "eth0"))
    request = nl.nested(nl.CMD_ATTR_DAEMON, nl.u32(nl.DAEMON_STATE, 2))
    with pytest.raises(TimeoutError):
        kernel.request(nl.CMD_DEL_DAEMON, request, "stop")
    assert fake.daemons == {}


def test_sync_daemon_defaults_and_refusals(kernel):
    kernel.start_daemon(nl.SyncDaemon("master", "lo"))
    assert kernel.daemons() == [nl.SyncDaemon("master", "lo", 0, 1472, "224.0.0.81", 8848, 1)]
    error = refused(kernel.start_daemon, nl.SyncDaemon("backup", "nosuch0"))
    assert error.errno == errno.ENODEV
    error = refused(kernel.start_daemon, nl.SyncDaemon("backup", "lo", group="10.0.0.1"))
    assert error.errno == errno.EINVAL


def test_sync_daemon_and_mixed_family_destinations_exclude_each_other(kernel):
    service = web()
    tunnel = Destination("2001:db8:1::1", 80, forwarding="tunnel")
    add(kernel, service, tunnel)
    assert refused(kernel.start_daemon, nl.SyncDaemon("master", "lo")).errno == errno.EINVAL
    kernel.request(*_raw(nl.delete_destination(service, tunnel)))
    kernel.start_daemon(nl.SyncDaemon("master", "lo"))
    error = refused(kernel.request, *_raw(nl.add_destination(service, tunnel)))
    assert error.errno == errno.EINVAL


# --- normalisation -----------------------------------------------------------------------------

@pytest.mark.parametrize("given,read", [
    (web(scheduler="mh", flags={"sh-port", "sh-fallback"}),
     web(scheduler="mh", flags={"mh-port", "mh-fallback"})),
    (web(scheduler="rr", flags={"mh-port"}), web(scheduler="rr", flags={"sh-port"})),
    (web(pe_name=""), web()),
    (web(flags={"persistent"}, timeout=5), web(flags={"persistent"}, timeout=5)),
])
def test_normalize_service_is_what_the_kernel_reads_back(kernel, given, read):
    assert nl.normalize_service(given) == read
    add(kernel, given)
    assert only_service(kernel) == read


@pytest.mark.parametrize("given,read", [
    (Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="ipip"),
     Destination("10.0.0.1", 80, forwarding="tunnel")),
    (Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=5,
                 tunnel_flags={"nocsum"}),
     Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gue", tunnel_port=5)),
    (Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gre", tunnel_port=0),
     Destination("10.0.0.1", 80, forwarding="tunnel", tunnel_type="gre")),
    (Destination("10.0.0.1", 80, forwarding="direct"),
     Destination("10.0.0.1", 80, forwarding="direct")),
])
def test_normalize_destination_is_what_the_kernel_reads_back(kernel, given, read):
    assert nl.normalize_destination(given) == read
    service = web()
    add(kernel, service, given)
    assert dests_of(kernel, service) == [read]


# --- the fake itself ---------------------------------------------------------------------------

def test_fake_echoes_failed_requests_and_caps_acks(fake):
    kernel = nl.IpvsNetlink(fake)
    request = nl.add_service(web(scheduler="nope"))
    seq, message = kernel._message(kernel.family, request.command,
                                   nl.NLM_F_REQUEST | nl.NLM_F_ACK, request.payload)
    fake.send(message)
    reply = fake.recv(65536)
    length, kind, flags, reply_seq, _pid = struct.unpack_from("=IHHII", reply)
    assert (kind, flags, reply_seq) == (nl.NLMSG_ERROR, 0, seq)
    assert struct.unpack_from("=i", reply, 16)[0] == -errno.ENOENT
    assert reply[20:length] == message  # the whole request echoed
    seq, message = kernel._message(kernel.family, nl.CMD_GET_INFO,
                                   nl.NLM_F_REQUEST | nl.NLM_F_ACK, b"")
    fake.send(message)
    fake.recv(65536)  # the GET_INFO reply
    ack = fake.recv(65536)
    assert struct.unpack_from("=IHHII", ack)[1:4] == (nl.NLMSG_ERROR, 0x100, seq)
    assert struct.unpack_from("=i", ack, 16)[0] == 0
    assert ack[20:] == message[:16]  # header only (NLM_F_CAPPED)
    with pytest.raises(TimeoutError):
        fake.recv(65536)


def test_fake_overruns_a_small_receive_buffer(fake):
    kernel = nl.IpvsNetlink(fake)
    fake.setsockopt(1, 8, 4096)  # SO_RCVBUF: 8192 in effect
    requests = [nl.delete_service(web(port=p)) for p in range(1, 40)]
    with pytest.raises(OSError) as info:
        kernel.pipeline(requests)
    assert info.value.errno == errno.ENOBUFS


def test_fake_refuses_oversized_sends(fake):
    with pytest.raises(OSError) as info:
        fake.send(b"\0" * 300000)
    assert info.value.errno == errno.EMSGSIZE
