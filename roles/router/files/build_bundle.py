# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the router bundle on the Ansible controller: one reproducible .tar.gz holding the
lvs.cluster core and agents, the launcher and its command links, the systemd unit, the
documentation and the pure-Python wheels the agents need (scapy), unpacked under vendor/.

The same inputs always give the same bytes (sorted entries, fixed times and owners, gzip
without a time stamp), so the file name carries its content hash and the router role's copy is
idempotent. Wheels come from --wheel, or --download REQUIREMENT fetches one into --cache once
(the routers need no internet access; the controller needs a package index only the first time).

Prints one JSON line: {"path": ..., "sha256": ..., "created": true|false}.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

MTIME = 1_600_000_000
COMMANDS = ("pulse", "lvsd", "nanny", "send_arp", "lvs-status", "lvs-cf")
LIB = "usr/lib/lvs-cluster"


def _info(name: str, mode: int, size: int = 0, kind: bytes = tarfile.REGTYPE,
          link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.size, info.type, info.linkname = mode, size, kind, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "root", "root"
    return info


def collection_files(root: Path) -> dict[str, tuple[bytes, int]]:
    """Archive name -> (content, mode) for the collection's own files."""
    files: dict[str, tuple[bytes, int]] = {}
    # The two packages as they are in the collection: the core (the same folder the modules
    # import) and the agents, subpackages included.
    for source in (root / "plugins" / "module_utils" / "lvs_cluster",
                   root / "files" / "lib" / "lvs_agents"):
        for path in sorted(source.rglob("*.py")):
            name = path.relative_to(source.parent).as_posix()
            files[f"{LIB}/{name}"] = (path.read_bytes(), 0o644)
    files["usr/sbin/lvs-cluster"] = ((root / "files" / "bin" / "lvs-cluster").read_bytes(), 0o755)
    unit = root / "files" / "systemd" / "lvs-cluster-pulse.service"
    files[f"usr/lib/systemd/system/{unit.name}"] = (unit.read_bytes(), 0o644)
    doc = root / "docs" / "agents.md"
    if doc.exists():
        files["usr/share/doc/lvs-cluster/agents.md"] = (doc.read_bytes(), 0o644)
    return files


def wheel_files(wheel: Path) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if member.is_dir() or member.filename.startswith("/") or ".." in member.filename:
                continue
            files[f"{LIB}/vendor/{member.filename}"] = (archive.read(member), 0o644)
    return files


HASH_OPTION = "--hash=sha256:"


def pinned(requirement: str) -> tuple[str, str]:
    """``NAME==VERSION --hash=sha256:HEX`` (pip's own syntax) -> (``NAME==VERSION``, HEX)."""
    words = requirement.split()
    hashes = [w[len(HASH_OPTION):].lower() for w in words if w.startswith(HASH_OPTION)]
    rest = [w for w in words if not w.startswith(HASH_OPTION)]
    if len(rest) != 1 or len(hashes) != 1 or len(hashes[0]) != 64:
        raise SystemExit(f"router_python_requirements: {requirement!r}: give one NAME==VERSION "
                         f"and its wheel's {HASH_OPTION}HEX (the file is checked against it)")
    return rest[0], hashes[0]


def checked(wheel: Path, requirement: str, expected: str) -> Path:
    actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if actual != expected:
        raise SystemExit(f"router_python_requirements: {requirement}: {wheel} has sha256 "
                         f"{actual}, the pin says {expected}: refusing it (delete the file if "
                         "it is a stale download, or correct the pin)")
    return wheel


def download(pinned_requirement: str, cache: Path) -> Path:
    """The requirement's wheel from ``cache``, downloaded with pip when missing; either way its
    sha256 must equal the pin."""
    requirement, expected = pinned(pinned_requirement)
    name, _sep, version = requirement.partition("==")
    pattern = f"{name.replace('-', '_')}-{version or '*'}-*.whl"
    found = sorted(cache.glob(pattern))
    if found:
        return checked(found[-1], requirement, expected)
    cache.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "--dest", str(cache), requirement],
        capture_output=True, text=True, check=False)
    found = sorted(cache.glob(pattern))
    if result.returncode != 0 or not found:
        raise SystemExit(f"cannot download {requirement} on the controller: "
                         f"{result.stderr.strip() or 'no wheel'}; give the wheel file instead "
                         "(router_python_wheels)")
    return checked(found[-1], requirement, expected)


def build(files: dict[str, tuple[bytes, int]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(files):
            content, mode = files[name]
            tar.addfile(_info(name, mode, len(content)), io.BytesIO(content))
        for command in COMMANDS:
            tar.addfile(_info(f"usr/sbin/{command}", 0o777, kind=tarfile.SYMTYPE,
                              link="lvs-cluster"))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=6) as stream:
        stream.write(raw.getvalue())
    return packed.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--collection", required=True, type=Path, help="the collection's root")
    parser.add_argument("--cache", required=True, type=Path, help="where bundles and wheels go")
    parser.add_argument("--wheel", action="append", default=[], type=Path)
    parser.add_argument("--download", action="append", default=[], metavar="REQUIREMENT")
    args = parser.parse_args(argv)
    files = collection_files(args.collection)
    wheels = list(args.wheel) + [download(req, args.cache / "wheels") for req in args.download]
    for wheel in wheels:
        if not wheel.is_file():
            raise SystemExit(f"router_python_wheels: {wheel}: no such file")
        files.update(wheel_files(wheel))
    data = build(files)
    digest = hashlib.sha256(data).hexdigest()
    path = args.cache / f"lvs-cluster-router-{digest[:16]}.tar.gz"
    created = not path.exists()
    if created:
        args.cache.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    print(json.dumps({"path": str(path), "sha256": digest, "created": created}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
