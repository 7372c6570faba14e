"""A widget on the live emulator, allowed on one site and its example.org subdomains."""

from __future__ import annotations

import pytest

from tests.sockets import SITE
from widgets.models import Widget


@pytest.fixture
def widget(alice, upstreams):
    return Widget.objects.create(
        name="Shop help",
        owner=alice,
        provider="mistral",
        model="mistral-small-latest",
        allowed_origins=f"{SITE}\nhttps://*.example.org",
    )
