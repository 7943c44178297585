# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router bundle (roles/router/files/build_bundle.py): the same bytes from the same inputs,
the core and the agents as the packages they are in the collection, no test double inside,
and every module of both importable from the unpacked bundle alone."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILDER = REPO / "roles" / "router" / "files" / "build_bundle.py"
LIB = "usr/lib/lvs-cluster"


def build(cache: Path) -> dict:
    result = subprocess.run([sys.executable, str(BUILDER), "--collection", str(REPO),
                             "--cache", str(cache)], capture_output=True, text=True,
                            check=True, timeout=120)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return Path(build(tmp_path_factory.mktemp("cache"))["path"])


@pytest.fixture(scope="module")
def unpacked(bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    with tarfile.open(bundle) as tar:
        tar.extractall(root, filter="tar")
    return root


def source_files(folder: Path) -> set[str]:
    return {p.relative_to(folder.parent).as_posix() for p in folder.rglob("*.py")}


def test_the_same_inputs_give_the_same_bytes(bundle, tmp_path):
    again = build(tmp_path)
    assert Path(again["path"]).read_bytes() == bundle.read_bytes()
    assert again["created"] is True


def test_the_packages_are_copied_as_they_are(bundle):
    with tarfile.open(bundle) as tar:
        names = set(tar.getnames())
    packed = {name[len(LIB) + 1:] for name in names
              if name.startswith(LIB + "/") and name.endswith(".py")}
    expected = (source_files(REPO / "plugins" / "module_utils" / "lvs_cluster")
                | source_files(REPO / "files" / "lib" / "lvs_agents"))
    assert packed == expected
    assert "lvs_cluster/__init__.py" in packed
    assert "lvs_cluster/ipvs/__init__.py" in packed
    for command in ("pulse", "lvsd", "nanny", "send_arp", "lvs-status", "lvs-cf"):
        assert f"usr/sbin/{command}" in names
    assert "usr/sbin/lvs-cluster" in names


def test_no_test_double_in_the_bundle(unpacked):
    for path in (unpacked / LIB).rglob("*.py"):
        text = path.read_text()
        assert "FAKE" not in text, path
        assert not path.name.startswith(("fake", "recording", "test_")), path


def test_every_module_imports_from_the_bundle_alone(unpacked):
    """No site-packages (-S), no PYTHONPATH (-I): only the bundle's folder on the path, as the
    launcher sets it on a router; third-party packages (scapy, pyroute2) are imported where
    they are used, not when a module loads."""
    library = unpacked / LIB
    modules = sorted(
        ".".join(path.relative_to(library).with_suffix("").parts).removesuffix(".__init__")
        for package in ("lvs_cluster", "lvs_agents")
        for path in (library / package).rglob("*.py"))
    code = ("import importlib, sys\n"
            f"sys.path[0:0] = [{str(library)!r}]\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(len(sys.modules))\n")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "lvs_agents.pulse" in modules and "lvs_cluster.lvs_cf.cli" in modules


def test_the_launcher_runs_from_the_bundle(unpacked, tmp_path):
    result = subprocess.run([str(unpacked / "usr" / "sbin" / "lvs-cf"), "--help"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env={"LVS_CLUSTER_LIB": str(unpacked / LIB), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lvs-cf")


# --- the wheels the controller downloads: pinned by sha256 ----------------------------------

def fake_wheel(folder: Path, name: str = "scapy-2.8.0-py3-none-any.whl") -> Path:
    import zipfile  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("scapy/__init__.py", "# not scapy\n")
    return path


def build_with(cache: Path, *requirements: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BUILDER), "--collection", str(REPO),
                           "--cache", str(cache),
                           *(f"--download={r}" for r in requirements)],
                          capture_output=True, text=True, check=False, timeout=120)


def test_a_cached_wheel_whose_sha256_differs_from_the_pin_is_refused(tmp_path):
    import hashlib  # noqa: PLC0415

    wheel = fake_wheel(tmp_path / "wheels")
    pin = hashlib.sha256(b"the real wheel").hexdigest()
    result = build_with(tmp_path, f"scapy==2.8.0 --hash=sha256:{pin}")
    assert result.returncode != 0
    assert str(wheel) in result.stderr and pin in result.stderr
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in result.stderr


def test_a_cached_wheel_matching_its_pin_is_bundled(tmp_path):
    import hashlib  # noqa: PLC0415

    wheel = fake_wheel(tmp_path / "wheels")
    pin = hashlib.sha256(wheel.read_bytes()).hexdigest()
    result = build_with(tmp_path, f"scapy==2.8.0 --hash=sha256:{pin}")
    assert result.returncode == 0, result.stderr
    with tarfile.open(json.loads(result.stdout)["path"]) as tar:
        assert f"{LIB}/vendor/scapy/__init__.py" in tar.getnames()


def test_a_download_without_a_pin_is_refused(tmp_path):
    fake_wheel(tmp_path / "wheels")
    result = build_with(tmp_path, "scapy==2.8.0")
    assert result.returncode != 0
    assert "scapy==2.8.0" in result.stderr and "--hash=sha256:" in result.stderr


def test_the_default_requirements_are_pinned():
    import yaml  # noqa: PLC0415

    defaults = yaml.safe_load((REPO / "roles" / "router" / "defaults" / "main.yml").read_text())
    for requirement in defaults["router_python_requirements"]:
        assert " --hash=sha256:" in requirement, requirement
