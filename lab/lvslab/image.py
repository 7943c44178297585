"""The guest images: built once by image/build.sh, one per Debian release, cached under a key
made of the recipe, the release and the UML kernel (the same kernel boots every release)."""

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
DEFAULT_RELEASE = "bookworm"
# Debian releases the recipe builds, with the archive suite aliases that may name them in apt
# sources (bookworm was "stable" until trixie's release, then "oldstable").
RELEASES: dict[str, tuple[str, ...]] = {
    "bookworm": ("bookworm", "oldstable"),
    "trixie": ("trixie", "stable"),
}


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


def check_release(release: str) -> str:
    if release not in RELEASES:
        raise LabError(f"unknown Debian release {release!r} for a lab guest "
                       f"(known: {', '.join(RELEASES)})")
    return release


def recipe_key(version: str, release: str = DEFAULT_RELEASE) -> str:
    digest = hashlib.sha256()
    digest.update(RECIPE.read_bytes())
    digest.update(version.encode())
    digest.update(release.encode())
    return digest.hexdigest()[:16]


def image_for(version: str, release: str = DEFAULT_RELEASE) -> Image:
    check_release(release)
    return Image(cache_root() / f"{release}-{version}-{recipe_key(version, release)}")


def apt_sources(sources_d: Path = Path("/etc/apt/sources.list.d"),
                classic: Path = Path("/etc/apt/sources.list")) -> list[tuple[str, list[str]]]:
    """(URI, suites) of every `deb` source with the main component, in apt's reading order."""
    found: list[tuple[str, list[str]]] = []
    if classic.is_file():
        for line in classic.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)\s.*\bmain\b", line)
            if m:
                found.append((m.group(1), [m.group(2)]))
    for path in sorted(sources_d.glob("*.sources")) if sources_d.is_dir() else []:
        for stanza in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if "deb" not in fields.get("Types", "deb").split():
                continue
            if "main" in fields.get("Components", "").split():
                for uri in fields.get("URIs", "").split():
                    found.append((uri, fields.get("Suites", "").split()))
    return found


def pick_mirror(sources: list[tuple[str, list[str]]], release: str) -> str:
    """The Debian archive to debootstrap `release` from: a source that names the release (or
    its alias), else any Debian archive of the machine's (one archive serves every release).
    Security archives and other vendors' repositories (no Debian release among their suites)
    are never taken."""
    aliases = RELEASES[check_release(release)]
    debian = {name for names in RELEASES.values() for name in names} | {
        "sid", "unstable", "testing"}

    def usable(uri: str) -> bool:
        return uri.startswith(("http://", "https://", "file:/")) and "security" not in uri

    for uri, suites in sources:
        if usable(uri) and any(s in aliases for s in suites):
            return uri
    for uri, suites in sources:
        if usable(uri) and any(s.split("-")[0] in debian for s in suites):
            return uri
    raise LabError(f"no Debian mirror for {release} found in /etc/apt/sources.list(.d); "
                   "set LAB_MIRROR to one")


def debian_mirror(release: str = DEFAULT_RELEASE) -> str:
    """The Debian archive this machine's apt uses for `release` (LAB_MIRROR overrides)."""
    if os.environ.get("LAB_MIRROR"):
        return os.environ["LAB_MIRROR"]
    return pick_mirror(apt_sources(), release)


def cleanup_partial_builds(root: Path) -> None:
    """Remove what a killed build left: unmount its chroot mounts first, never cross them."""
    for partial in root.glob("*/.build.*"):
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(partial) + "/")]
        for mount in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", str(partial)], check=False)


def stale_images(root: Path, image: Image) -> list[Path]:
    """The images of older recipes of the same release as `image`: removed once it is built.
    Another release's images stay (a lab may boot several releases)."""
    release = image.directory.name.split("-", 1)[0]
    return sorted(old for old in root.glob(f"{release}-*")
                  if old != image.directory and old.is_dir())


def ensure_image(rebuild: bool = False, release: str = DEFAULT_RELEASE) -> Image:
    version = uml_version()
    image = image_for(version, release)
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
        debs = root / ("debs" if release == DEFAULT_RELEASE else f"debs-{release}")
        result = subprocess.run(["bash", str(RECIPE), str(image.directory), version,
                                 debian_mirror(release), str(debs), release])
        if result.returncode != 0 or not image.ready():
            raise LabError(f"guest image build failed (exit {result.returncode}); "
                           f"see the output above")
        print(f"lab: image built in {time.monotonic() - started:.1f} s", file=sys.stderr)
        for old in stale_images(root, image):
            subprocess.run(["rm", "-rf", "--one-file-system", str(old)], check=False)
    return image
