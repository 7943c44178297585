"""Which image a guest boots: one per Debian release, and the mirror each is built from."""

from pathlib import Path

import pytest
from lvslab import image
from lvslab.errors import LabError

DEB822 = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""
NODESOURCE = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""


def sources(tmp_path: Path, deb822: dict[str, str], classic: str = "") -> list:
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    for name, text in deb822.items():
        (folder / name).write_text(text)
    (tmp_path / "sources.list").write_text(classic)
    return image.apt_sources(folder, tmp_path / "sources.list")


def test_each_release_has_its_own_cache_directory_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    bookworm = image.image_for("6.1.176")
    trixie = image.image_for("6.1.176", "trixie")
    assert bookworm.directory.parent == trixie.directory.parent == tmp_path
    assert bookworm.directory.name.startswith("bookworm-6.1.176-")
    assert trixie.directory.name.startswith("trixie-6.1.176-")
    assert bookworm.directory.name.split("-")[2] != trixie.directory.name.split("-")[2]
    assert image.image_for("6.1.176", "bookworm") == bookworm
    assert image.recipe_key("6.1.177", "trixie") != image.recipe_key("6.1.176", "trixie")


def test_an_unknown_release_is_refused():
    with pytest.raises(LabError, match="'sid'.*bookworm, trixie"):
        image.image_for("6.1.176", "sid")


def test_stale_images_are_older_recipes_of_the_same_release_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    current = image.image_for("6.1.176", "trixie")
    for name in (current.directory.name, "trixie-6.1.170-0123456789abcdef",
                 "bookworm-6.1.176-0123456789abcdef", "debs-trixie", "debs"):
        (tmp_path / name).mkdir()
    assert image.stale_images(tmp_path, current) == [tmp_path / "trixie-6.1.170-0123456789abcdef"]


def test_mirror_from_deb822_sources_skips_security_and_other_vendors(tmp_path):
    found = sources(tmp_path, {"a-nodesource.sources": NODESOURCE, "debian.sources": DEB822})
    assert ("https://deb.nodesource.com/node_20.x", ["nodistro"]) in found
    assert image.pick_mirror(found, "bookworm") == "http://deb.debian.org/debian"


def test_trixie_comes_from_the_debian_archive_that_serves_bookworm(tmp_path):
    """A bookworm machine lists no trixie source; its Debian archive serves trixie too."""
    found = sources(tmp_path, {"a-nodesource.sources": NODESOURCE, "debian.sources": DEB822},
                    "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n")
    assert image.pick_mirror(found, "trixie") == "http://deb.debian.org/debian"


def test_a_source_naming_the_release_wins(tmp_path):
    found = sources(tmp_path, {"debian.sources": DEB822},
                    "deb [arch=amd64] http://mirror.example/debian trixie main contrib\n")
    assert image.pick_mirror(found, "trixie") == "http://mirror.example/debian"
    assert image.pick_mirror(found, "bookworm") == "http://deb.debian.org/debian"
    # "stable" names trixie since its release; bookworm is "oldstable".
    stable = [("http://old.example/debian", ["oldstable"]),
              ("http://new.example/debian", ["stable"])]
    assert image.pick_mirror(stable, "trixie") == "http://new.example/debian"
    assert image.pick_mirror(stable, "bookworm") == "http://old.example/debian"


def test_no_debian_source_is_an_error_and_lab_mirror_overrides(tmp_path, monkeypatch):
    found = sources(tmp_path, {"n.sources": NODESOURCE, "s.sources": DEB822.split("\n\n")[1]})
    with pytest.raises(LabError, match="no Debian mirror for trixie"):
        image.pick_mirror(found, "trixie")
    monkeypatch.setenv("LAB_MIRROR", "http://override.example/debian")
    assert image.debian_mirror("trixie") == "http://override.example/debian"
