# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Examples A and B of the Piranha reference (§1.7, §1.8): their text and the models they
must parse to, written out by hand from the reference."""

from pathlib import Path

from plugins.module_utils.lvs_cluster.lvs_cf.model import (
    DeviceAddress,
    LvsConfig,
    RealServer,
    VirtualService,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lvs_cf"


def fixture_text(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


def _shop(name, port, **options):
    return VirtualService(
        name=name,
        active=True,
        address=DeviceAddress("198.51.100.50", "eth0:1"),
        vip_nmask="255.255.255.0",
        port=port,
        protocol="tcp",
        scheduler="wlc",
        persistent=900,
        pmask="255.255.255.0",
        timeout=5,
        reentry=30,
        **options,
    )


EXAMPLE_A = LvsConfig(
    serial_no=27,
    service="lvs",
    primary="198.51.100.11",
    primary_private="10.99.0.11",
    backup_active=True,
    backup="198.51.100.12",
    backup_private="10.99.0.12",
    heartbeat=True,
    heartbeat_port=539,
    keepalive=2,
    deadtime=8,
    network="direct",
    debug_level="NONE",
    monitor_links=1,
    syncdaemon=True,
    syncd_iface="eth1",
    syncd_id=51,
    tcp_timeout=900,
    tcpfin_timeout=60,
    udp_timeout=300,
    hard_shutdown=False,
    active_cmd="/usr/local/sbin/lvs-became-active",
    inactive_cmd="/usr/local/sbin/lvs-became-standby",
    virtuals=(
        _shop(
            "shop_https", 443,
            sorry_server="198.51.100.60",
            send_program="/usr/local/libexec/lvs-check-https %h %p",
            expect="UP",
            load_monitor="none",
            quiesce_server=True,
            servers=(
                RealServer("web01", "198.51.100.21", active=True, weight=100, port=443),
                RealServer("web02", "198.51.100.22", active=True, weight=100, port=443),
                RealServer("web03", "198.51.100.23", active=False, weight=50, port=443),
            ),
        ),
        _shop(
            "shop_http", 80,
            send=r"GET /healthz HTTP/1.0\r\nHost: shop.example.com\r\n\r\n",
            expect=r"^HTTP/1\.[01] 200",
            use_regex=True,
            quiesce_server=False,
            servers=(
                RealServer("web01", "198.51.100.21", active=True, weight=100, port=80),
                RealServer("web02", "198.51.100.22", active=True, weight=100, port=80),
            ),
        ),
    ),
)

EXAMPLE_B = LvsConfig(
    serial_no=31,
    service="lvs",
    primary="203.0.113.2",
    backup_active=True,
    backup="203.0.113.3",
    heartbeat=True,
    heartbeat_port=539,
    keepalive=3,
    deadtime=12,
    network="nat",
    nat_router=DeviceAddress("10.20.0.254", "eth1:1"),
    nat_nmask="255.255.255.0",
    debug_level="NONE",
    syncdaemon=False,
    virtuals=(
        VirtualService(
            name="web_bundle",
            active=True,
            address=DeviceAddress("203.0.113.10", "eth0:1"),
            vip_nmask="255.255.255.0",
            fwmark=80,
            port=80,
            protocol="tcp",
            scheduler="wlc",
            persistent=1800,
            send=r"HEAD / HTTP/1.0\r\n\r\n",
            expect="HTTP",
            load_monitor="uptime",
            timeout=10,
            reentry=60,
            quiesce_server=False,
            servers=(
                RealServer("app1", "10.20.0.11", active=True, weight=40, port=80),
                RealServer("app2", "10.20.0.12", active=True, weight=40, port=80),
            ),
        ),
        VirtualService(
            name="smtp",
            active=True,
            address=DeviceAddress("203.0.113.11", "eth0:2"),
            vip_nmask="255.255.255.0",
            port=25,
            protocol="tcp",
            scheduler="rr",
            expect="220",
            timeout=10,
            reentry=60,
            servers=(RealServer("mx1", "10.20.0.21", active=True, weight=1, port=2525),),
        ),
        VirtualService(
            name="dns",
            active=True,
            address=DeviceAddress("203.0.113.11", "eth0:2"),
            vip_nmask="255.255.255.0",
            port=53,
            protocol="udp",
            scheduler="rr",
            send_program="/usr/local/libexec/lvs-check-dns %h",
            expect="ok",
            timeout=5,
            reentry=30,
            servers=(
                RealServer("ns1", "10.20.0.31", active=True, weight=1, port=53),
                RealServer("ns2", "10.20.0.32", active=True, weight=1, port=53),
            ),
        ),
    ),
)
