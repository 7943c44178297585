"""The generated SSH config, inventory and ansible.cfg reach every guest through the namespace."""

from pathlib import Path

import yaml
from lvslab.access import write_access_files
from lvslab.guests import command
from lvslab.topology import load_topology

DEFAULT = Path(__file__).resolve().parents[1] / "topologies" / "default.yml"
TRIXIE = Path(__file__).resolve().parents[1] / "topologies" / "trixie.yml"


def test_access_files(tmp_path):
    topology = load_topology(DEFAULT)
    key = tmp_path / "id_ed25519"
    repo = tmp_path / "repo"
    repo.mkdir()
    paths = write_access_files(topology, tmp_path, key, Path("/run/x/lvslab"), repo)

    ssh = paths["ssh_config"].read_text()
    assert "Host lvs1 10.254.0.11\n  HostName 10.254.0.11\n" in ssh
    assert "netns exec lvslab" in ssh and " %h %p" in ssh
    assert f"IdentityFile {key}" in ssh
    assert "ControlPath /run/x/lvslab/%C" in ssh

    inventory = yaml.safe_load(paths["inventory"].read_text())["all"]
    assert inventory["vars"]["ansible_ssh_common_args"] == f"-F {paths['ssh_config']}"
    hosts = inventory["children"]["lab"]["hosts"]
    assert hosts["web1"]["ansible_host"] == "10.254.0.21"
    assert hosts["web1"]["lab_nics"][1] == {"name": "eth1", "network": "back",
                                            "address": "10.254.1.21/24",
                                            "mac": "52:54:00:fe:03:01"}
    assert set(inventory["children"]["lvs_routers"]["hosts"]) == {"lvs1", "lvs2"}
    assert set(inventory["children"]["clients"]["hosts"]) == {"client"}

    cfg = paths["ansible_cfg"].read_text()
    assert f"inventory = {paths['inventory']}" in cfg and "pipelining = True" in cfg
    link = paths["collections"] / "ansible_collections" / "lvs" / "cluster"
    assert link.resolve() == repo.resolve()
    # Rewriting (a second `up`) replaces the link instead of failing.
    write_access_files(topology, tmp_path, key, Path("/run/x/lvslab"), repo)
    assert link.resolve() == repo.resolve()


def test_each_guest_logs_in_with_the_key_of_its_release(tmp_path):
    """Each release's image has its own login key: a mixed lab names the right one per host."""
    topology = load_topology(TRIXIE)
    keys = {"bookworm": tmp_path / "id_ed25519", "trixie": tmp_path / "id_ed25519-trixie"}
    repo = tmp_path / "repo"
    repo.mkdir()
    paths = write_access_files(topology, tmp_path, keys, Path("/run/x/t"), repo)
    ssh = paths["ssh_config"].read_text()
    # by name (labctl ssh) and by address (labctl's readiness check, ansible_host)
    assert (f"Host lvs1 10.254.0.11\n  HostName 10.254.0.11\n"
            f"  IdentityFile {keys['trixie']}\n") in ssh
    assert (f"Host client 10.254.0.50\n  HostName 10.254.0.50\n"
            f"  IdentityFile {keys['bookworm']}\n") in ssh
    assert ssh.count("IdentityFile") == 5  # none under Host *: ssh would offer both keys
    hosts = yaml.safe_load(paths["inventory"].read_text())["all"]["children"]["lab"]["hosts"]
    assert {name: (h["ansible_ssh_private_key_file"], h["lab_release"])
            for name, h in hosts.items()} == {
        "lvs1": (str(keys["trixie"]), "trixie"), "lvs2": (str(keys["trixie"]), "trixie"),
        "web1": (str(keys["trixie"]), "trixie"), "web2": (str(keys["trixie"]), "trixie"),
        "client": (str(keys["bookworm"]), "bookworm")}


def test_guest_command_line():
    topology = load_topology(DEFAULT)
    lvs1 = topology.guest("lvs1")
    args = command(lvs1, "lvslab", Path("/img/rootfs.img"), Path("/s/lvs1.cow"), Path("/s/uml"))
    assert args[:5] == ["ip", "netns", "exec", "lvslab", "linux"]
    assert "ubd0=/s/lvs1.cow,/img/rootfs.img" in args
    assert "vec1:transport=tap,ifname=lt1n1,mac=52:54:00:fe:01:01,gro=1" in args
    assert "lab.nic=vec0,eth0,10.254.0.11/24" in args and "lab.host=lvs1" in args
    assert not any(arg.startswith("lab.route=") for arg in args)


def test_guest_command_line_routes_come_after_the_nics():
    topology = load_topology(Path(__file__).resolve().parents[1] / "topologies" / "scaleout.yml")
    args = command(topology.guest("web1"), "scaleout", Path("/i"), Path("/c"), Path("/u"))
    assert args[-2:] == ["lab.nic=vec0,eth0,10.254.1.21/24",
                         "lab.route=10.254.3.0/24,10.254.1.2"]
