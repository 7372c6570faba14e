"""Sign-in attempts are limited; `check --deploy` is clean with the documented production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from emulator.process import ROOT

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["admin:login", "login"])
def test_sign_in_is_locked_per_user_and_address_after_repeated_failures(url, carol, settings):
    settings.AXES_FAILURE_LIMIT = 3
    login = reverse(url)
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        response = attacker.post(login, {"username": "carol", "password": "wrong"})
        assert "_auth_user_id" not in attacker.session
    locked = attacker.post(login, {"username": "carol", "password": "carol-password-1"})
    assert locked.status_code == 429 and "Too many sign-in attempts" in locked.text
    assert "_auth_user_id" not in attacker.session
    # The same user from elsewhere, and another user from this address, are not locked.
    elsewhere = Client(REMOTE_ADDR="198.51.100.2")
    response = elsewhere.post(login, {"username": "carol", "password": "carol-password-1"})
    assert response.status_code == 302 and "_auth_user_id" in elsewhere.session


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_documented_production_settings():
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "WEBCHAT_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="webchat.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="chat.example.com",
        ORQ_API_KEY="k",
        ORQ_PROJECT_ID="prj",
        MISTRAL_API_KEY="k",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
