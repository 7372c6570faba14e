"""On PostgreSQL, text with a NUL character cannot be stored or compared: every door answers 400
with a message instead of a 500. A real daphne on a scratch database, over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from emulator.process import ROOT
from tests.servers import WebchatProcess, prepare

PASSWORD = "nul-password-1"
NUL = "\x00"


@pytest.fixture
def webchat_on_postgresql(scratch_database, emulator_url, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))},
        "DJANGO_SETTINGS_MODULE": "webchat.settings",
        "WEBCHAT_DEMO": "1",
        "DATABASE_URL": scratch_database,
        "ORQ_API_KEY": "k",
        "ORQ_PROJECT_ID": "prj_nul",
        "ORQ_BASE_URL": emulator_url,
        "MISTRAL_API_KEY": "k",
        "MISTRAL_BASE_URL": emulator_url,
    }
    prepare(env, username="nina", password=PASSWORD)
    made = (
        "from django.contrib.auth.models import User; from conversations.models import "
        "Conversation; nina = User.objects.get(username='nina'); nina.is_staff = "
        "nina.is_superuser = True; nina.save(); print(Conversation.objects.create(owner=nina, "
        "provider='mistral', model='mistral-small-latest', title='Budget').pk)"
    )
    shell = [sys.executable, "manage.py", "shell", "-c", made]
    created = subprocess.run(shell, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    server = WebchatProcess(env, tmp_path / "daphne.log")
    client = httpx.Client(base_url=server.url, timeout=10)
    client.get("/accounts/login/")
    signed_in = client.post(
        "/accounts/login/",
        data={
            "username": "nina",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert signed_in.status_code == 302, signed_in.text
    yield client, int(created.stdout.split()[-1])
    client.close()
    server.stop()


def test_a_nul_in_a_search_a_title_or_an_admin_filter_is_400_on_postgresql(
    webchat_on_postgresql,
):
    client, conversation = webchat_on_postgresql
    htmx = {"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]}
    answers = {
        "sidebar search": client.get("/conversations/", params={"q": f"Bud{NUL}"}, headers=htmx),
        "rename": client.post(
            f"/conversations/{conversation}/rename", data={"title": f"a{NUL}b"}, headers=htmx
        ),
        "admin search": client.get("/admin/conversations/conversation/", params={"q": NUL}),
        "admin owner filter": client.get(
            "/admin/conversations/conversation/", params={"owner": f"nina{NUL}"}
        ),
        "admin user search": client.get("/admin/auth/user/", params={"q": NUL}),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 400)
    for response in answers.values():
        assert "null character" in response.text
    # The conversation is as it was, and the same requests without the NUL work.
    found = client.get("/conversations/", params={"q": "Bud"}, headers=htmx)
    assert found.status_code == 200 and "Budget" in found.text
    cursor = client.get("/conversations/", params={"cursor": "1e18_1"}, headers=htmx)
    assert cursor.status_code == 400
