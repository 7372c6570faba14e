"""The run command's page: the server is up, and which upstreams it talks to."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from conversations.providers import ADAPTERS
from emulator.process import ROOT, stop_process
from upstream import clients
from webchat.management.commands import serve
from widgets.models import Widget


@pytest.fixture
def staff(client, carol):
    client.force_login(carol)
    return client


def test_status_page_shows_both_upstreams_reachable(staff, upstreams, emulator_url):
    response = staff.get("/status")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("reachable") == 2
    assert page.count("bundled emulator") == 2
    assert emulator_url in page
    assert "openai/gpt-4o" in page and "mistral-medium-latest" in page


def test_status_page_says_why_an_upstream_is_unreachable(staff, upstreams):
    upstreams.MISTRAL_BASE_URL = "http://127.0.0.1:9"
    clients.mistral.cache_clear()
    page = staff.get("/status").content.decode()
    assert "unreachable" in page
    assert "cannot connect to http://127.0.0.1:9" in page


def test_a_provider_without_key_is_shown_disabled(staff, upstreams):
    upstreams.ORQ_API_KEY = ""
    page = staff.get("/status").content.decode()
    assert "no API key: disabled" in page
    assert page.count(">reachable<") == 1


@pytest.mark.django_db
def test_healthz_is_liveness_only_and_never_calls_upstream(client, upstreams):
    """Public, so it must not spend the providers' keys: an upstream that counts calls sees none."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    calls: list[socket.socket] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            try:
                calls.append(listener.accept()[0])
            except TimeoutError:
                pass

    counter = threading.Thread(target=count)
    counter.start()
    upstream = f"http://127.0.0.1:{listener.getsockname()[1]}"
    upstreams.MISTRAL_BASE_URL = upstreams.ORQ_BASE_URL = upstream
    clients.orq.cache_clear()
    clients.mistral.cache_clear()
    try:
        response = client.get("/healthz")
    finally:
        done.set()
        counter.join()
        listener.close()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert calls == []


@pytest.mark.django_db
def test_the_upstream_check_is_for_signed_in_staff_only(client, alice):
    assert client.get("/status").status_code == 302  # to sign in
    client.force_login(alice)
    assert client.get("/status").status_code == 404


@pytest.mark.django_db
def test_favicon_ico_is_answered_with_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and b"<svg" in b"".join(icon.streaming_content)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_every_later_start_says_whom_to_sign_in_as_and_how_to_set_a_new_password():
    first, later = io.StringIO(), io.StringIO()
    serve.Command(stdout=first)._ensure_demo_user()
    password = first.getvalue().split("demo / ")[1].split()[0]
    serve.Command(stdout=later)._ensure_demo_user()
    assert "Sign in as demo" in later.getvalue()
    assert ".venv/bin/python manage.py changepassword demo" in later.getvalue()
    assert password not in later.getvalue()  # printed once, kept nowhere


def test_the_emulator_starts_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))}
    env["DJANGO_SETTINGS_MODULE"] = "webchat.settings"  # as in a shell that exports it
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "emulator", "--port", "0"],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "Emulator listening on http://" in first, first + proc.stdout.read()
        url = first.split("listening on ")[1].split()[0]
        answer = httpx.get(f"{url}/v1/conversations", headers={"Authorization": "Bearer k"})
        assert answer.status_code == 200
    finally:
        stop_process(proc)


@pytest.mark.slow
def test_run_command_serves_the_page_and_the_emulator_with_no_keys(tmp_path):
    """`manage.py serve` as the README runs it: no keys, so both providers are emulated."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORQ_", "MISTRAL_", "DJANGO_", "WEBCHAT_", "DATABASE_URL"))
    }
    env.update(
        WEBCHAT_DEMO="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="webchat.settings",
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--emulator-port", "0"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_for_page(f"{url}/healthz", proc, log) == '{"status": "ok"}'
        output = log.read_text()
        assert "Created a user to sign in with: demo / " in output
        # The upstream check is for staff: an operator makes one, as the README says.
        staff = "from django.contrib.auth.models import User; User.objects.create_superuser("
        staff += "'olga', password='olga-password-1')"
        command = [sys.executable, "manage.py", "shell", "-c", staff]
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        with httpx.Client(base_url=url, timeout=10) as browser:
            browser.get("/accounts/login/")
            credentials = {"username": "olga", "password": "olga-password-1"}
            token = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
            signed_in = browser.post("/accounts/login/", data={**credentials, **token})
            assert signed_in.status_code == 302
            page = browser.get("/status").text
        assert page.count("reachable") == 2 and page.count("bundled emulator") == 2
        emulator = output.split("bundled emulator at ")[1].split()[0]

        headers = {"Authorization": "Bearer any"}
        orq = httpx.get(f"{emulator}/v2/conversations/", headers=headers).json()
        assert orq["object"] == "list" and "has_more" in orq
        mistral = httpx.get(f"{emulator}/v1/conversations", headers=headers)
        assert mistral.status_code == 200 and isinstance(mistral.json(), list)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{emulator}/v1/conversations", headers=headers, timeout=2)


def _wait_for_page(url: str, proc: subprocess.Popen, log) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("serve exited early:\n" + log.read_text())
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response.text
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail("serve did not answer within 60 s:\n" + log.read_text())


@pytest.mark.django_db
def test_the_demo_widget_is_made_for_the_emulated_providers(settings, alice):
    """`serve` makes the demo widget before its server has the emulator's keys: the providers
    the emulator stands in for are what it is made with."""
    settings.ORQ_API_KEY = settings.MISTRAL_API_KEY = ""
    settings.WEBCHAT_DEFAULT_CHOICE = ""
    emulated = list(ADAPTERS.values())
    key = serve.Command(stdout=io.StringIO())._ensure_demo_widget("http://127.0.0.1:8001", emulated)
    widget = Widget.objects.get(public_key=key)
    first = emulated[0]
    assert (widget.provider, widget.model) == (first.key, first.models()[0])
    assert "http://127.0.0.1:8001" in widget.allowed_origins.splitlines()
    assert serve.Command(stdout=io.StringIO())._ensure_demo_widget("http://x:1", []) == key


@pytest.mark.django_db
def test_the_demo_widget_on_a_default_agent_talks_to_that_agent(settings, alice):
    settings.ORQ_API_KEY = "emulator"
    settings.WEBCHAT_DEFAULT_CHOICE = "orq:agent:demo"
    key = serve.Command(stdout=io.StringIO())._ensure_demo_widget("http://127.0.0.1:8001", [])
    widget = Widget.objects.get(public_key=key)
    assert (widget.provider, widget.agent, widget.model) == ("orq", "demo", "")
