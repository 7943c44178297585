"""The guest image: built once by image/build.sh, cached under a key made of its recipe."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError

RECIPE = Path(__file__).resolve().parent.parent / "image" / "build.sh"
UML_MODULES = Path("/usr/lib/uml/modules")
DEFAULT_CACHE = Path("/var/cache/lvs-cluster-lab")


@dataclass(frozen=True)
class Image:
    directory: Path

    @property
    def rootfs(self) -> Path:
        return self.directory / "rootfs.img"

    @property
    def key(self) -> Path:
        return self.directory / "id_ed25519"

    def ready(self) -> bool:
        return self.rootfs.is_file() and self.key.is_file()


def cache_root() -> Path:
    return Path(os.environ.get("LAB_CACHE", DEFAULT_CACHE))


def uml_version() -> str:
    try:
        out = subprocess.run(["linux", "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LabError(f"the User-Mode Linux kernel (`linux`) does not run: {exc}; "
                       "install Debian's user-mode-linux package") from None
    if not (UML_MODULES / out).is_dir():
        raise LabError(f"UML kernel {out} has no modules in {UML_MODULES / out}")
    return out


def recipe_key(version: str) -> str:
    digest = hashlib.sha256()
    digest.update(RECIPE.read_bytes())
    digest.update(version.encode())
    return digest.hexdigest()[:16]


def image_for(version: str) -> Image:
    return Image(cache_root() / f"bookworm-{version}-{recipe_key(version)}")


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (LAB_MIRROR overrides)."""
    if os.environ.get("LAB_MIRROR"):
        return os.environ["LAB_MIRROR"]
    candidates: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            suites = fields.get("Suites", "").split()
            if any(s in ("bookworm", "stable") for s in suites) and "main" in fields.get(
                    "Components", "").split():
                candidates.extend(fields.get("URIs", "").split())
    classic = Path("/etc/apt/sources.list")
    if classic.is_file():
        for line in classic.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(bookworm|stable)\s.*\bmain\b", line)
            if m:
                candidates.append(m.group(1))
    for uri in candidates:
        if uri.startswith(("http://", "https://", "file:/")) and "security" not in uri:
            return uri
    raise LabError("no Debian bookworm mirror found in /etc/apt/sources.list(.d); "
                   "set LAB_MIRROR to one")


def cleanup_partial_builds(root: Path) -> None:
    """Remove what a killed build left: unmount its chroot mounts first, never cross them."""
    for partial in root.glob("*/.build.*"):
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(partial) + "/")]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", str(partial)], check=False)


def ensure_image(rebuild: bool = False) -> Image:
    version = uml_version()
    image = image_for(version)
    if image.ready() and not rebuild:
        return image
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second build waits for the first, then reuses it
        if image.ready() and not rebuild:
            return image
        cleanup_partial_builds(root)
        image.directory.mkdir(parents=True, exist_ok=True)
        image.rootfs.unlink(missing_ok=True)
        started = time.monotonic()
        print(f"lab: building guest image {image.directory.name} (once; cached in {root})",
              file=sys.stderr)
        result = subprocess.run(["bash", str(RECIPE), str(image.directory), version,
                                 debian_mirror(), str(root / "debs")])
        if result.returncode != 0 or not image.ready():
            raise LabError(f"guest image build failed (exit {result.returncode}); "
                           f"see the output above")
        print(f"lab: image built in {time.monotonic() - started:.1f} s", file=sys.stderr)
        for old in root.glob("bookworm-*"):  # images of older recipes
            if old != image.directory and old.is_dir():
                subprocess.run(["rm", "-rf", "--one-file-system", str(old)], check=False)
    return image
