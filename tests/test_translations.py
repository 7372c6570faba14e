"""Every word Webchat marks for translation (the team chat's and the widget's) has its French, and
the compiled catalog that ships (locale/fr/LC_MESSAGES/django.mo, committed so that a fresh
machine needs no gettext to run Webchat) says the same as the .po it comes from. These checks
need GNU gettext's tools, which `make test` installs.

`makemessages` runs on a copy of the sources, so the checkout's catalog is never rewritten: a
string marked in a template or a module but missing from locale/ fails here, as does one left
empty or fuzzy."""

from __future__ import annotations

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SOURCES = (".py", ".html", ".txt")
LEFT_OUT = {"var", "docs", "locale", "static", "__pycache__", "node_modules"}


def _sources_only(folder: str, names: list[str]) -> set[str]:
    return {
        name
        for name in names
        if name.startswith(".")
        or name in LEFT_OUT
        or name.endswith(".egg-info")
        or ((Path(folder) / name).is_file() and not name.endswith(SOURCES))
    }


@pytest.fixture
def merged_catalog(tmp_path, settings, monkeypatch) -> Path:
    """locale/fr's .po after `makemessages` has merged in every marked string of the sources."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=_sources_only)
    catalog = copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    catalog.parent.mkdir(parents=True)
    shutil.copy(PO, catalog)
    settings.LOCALE_PATHS = [str(copy / "locale")]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["fr"], verbosity=0)
    return catalog


def _entries(*args: str, po: Path) -> str:
    """What msgattrib selects from the catalog (its header aside), as .po text."""
    found = subprocess.run(
        ["msgattrib", "--no-obsolete", "--no-wrap", *args, str(po)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return "\n\n".join(block for block in found.split("\n\n") if 'msgid ""\nmsgstr' not in block)


def _msgids(po: Path) -> set[str]:
    return {
        line for line in _entries(po=po).splitlines() if line.startswith(("msgid ", "msgctxt "))
    }


def test_every_marked_string_has_its_french(merged_catalog):
    untranslated = _entries("--untranslated", po=merged_catalog)
    assert not untranslated, f"strings without French in locale/fr:\n{untranslated}"
    fuzzy = _entries("--only-fuzzy", po=merged_catalog)
    assert not fuzzy, f"French that gettext only guessed (fuzzy):\n{fuzzy}"
    # Nothing marked is missing from the checkout's own catalog (run makemessages -l fr).
    assert _msgids(merged_catalog) <= _msgids(PO)


def test_the_shipped_catalog_is_compiled_from_the_po(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(PO)], check=True)
    with fresh.open("rb") as compiled, MO.open("rb") as shipped:
        expected = gettext.GNUTranslations(compiled)._catalog
        assert gettext.GNUTranslations(shipped)._catalog == expected, (
            "locale/fr/LC_MESSAGES/django.mo is out of date: run manage.py compilemessages"
        )
