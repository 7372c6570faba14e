"""The built wheel, installed in a fresh venv outside the checkout, migrates and serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from emulator.process import ROOT, stop_process
from tests.servers import free_port

pytestmark = pytest.mark.slow

# What the wheel must carry: every app, and the templates, static files and translations.
SHIPPED = (
    "webchat",
    "conversations",
    "sharing",
    "administration",
    "widgets",
    "upstream",
    "emulator",
)
FOLDERS = ("templates", "static", "locale")


def _run(*command, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **options)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def _tracked_files() -> list[str]:
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    return [name for name in listed.stdout.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def sources() -> list[str]:
    return _tracked_files()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, sources) -> Path:
    """The wheel, built from a copy of the checkout (no build/ or egg-info left behind)."""
    source = tmp_path_factory.mktemp("source")
    for name in sources:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((ROOT / name).read_bytes())
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source))
    (built,) = out.glob("webchat-*.whl")
    return built


def test_the_wheel_holds_every_app_file_and_the_shared_folders(wheel, sources):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = set()
    for name in sources:
        top, _, rest = name.partition("/")
        if top in SHIPPED and rest:
            expected.add(name)
        elif top in FOLDERS:
            expected.add(f"webchat/{name}")
    assert sorted(expected - names) == []


def test_an_installed_wheel_migrates_and_serves(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    # Its dependencies come from the package index the project's own install uses.
    _run(python, "-m", "pip", "install", "--quiet", str(wheel))

    # Outside the checkout, with nothing of it on the path.
    site = tmp_path / "site"
    site.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if name in {"PATH", "HOME", "LANG", "TMPDIR"} or name.startswith("LC_")
    }
    # No DATABASE_URL: the default SQLite database is written where it is started.
    env.update(DJANGO_SETTINGS_MODULE="webchat.settings", WEBCHAT_DEMO="1")
    run = {"cwd": site, "env": env}

    where = _run(python, "-c", "import webchat; print(webchat.__file__)", **run).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    _run(python, "-m", "django", "migrate", "--noinput", **run)
    _run(python, "-m", "django", "collectstatic", "--noinput", **run)
    # What it writes lands in the working directory, none of it in the installed package.
    assert (site / "db.sqlite3").is_file() and (site / "var" / "static").is_dir()
    written = [p for p in venv.rglob("*") if p.name == "db.sqlite3" or p.name == "var"]
    assert written == []
    roles = _run(
        python,
        "-c",
        "import django; django.setup(); from django.contrib.auth.models import Group; "
        "print(sorted(Group.objects.values_list('name', flat=True)))",
        **run,
    ).stdout
    assert roles.strip() == "['Operators', 'Transcript reviewers']"
    french = _run(
        python,
        "-c",
        "import django; django.setup(); from django.utils import translation; "
        "translation.activate('fr'); print(translation.gettext('Editing is not available here.'))",
        **run,
    ).stdout
    assert french.strip() == "La modification n\u2019est pas disponible ici."

    port = free_port()
    log = (site / "server.log").open("w")
    serve = ["-m", "webchat.server", "-b", "127.0.0.1", "-p", str(port), "webchat.asgi:application"]
    server = subprocess.Popen(
        [python, *serve],
        stdout=log,
        stderr=subprocess.STDOUT,
        **run,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"{base}/accounts/login/")
                break
            except httpx.TransportError:
                assert server.poll() is None, (site / "server.log").read_text()
                assert time.monotonic() < deadline, "the installed server never answered"
                time.sleep(0.2)
        assert page.status_code == 200
        assert 'name="password"' in page.text
        stylesheet = f"{base}/static/css/webchat."
        assert stylesheet.removeprefix(base) in page.text
        href = page.text.split(stylesheet.removeprefix(base), 1)[1].split('"', 1)[0]
        css = httpx.get(f"{stylesheet}{href}")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
    finally:
        stop_process(server)
        log.close()
