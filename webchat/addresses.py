"""The client's address, as the audit trail and the widgets' limits record it.

Project level (not an app's): how the address reaches us is a matter of deployment, and both
`administration` (the audit trail) and `widgets` (a visitor's address) read it; neither may
import the other (tests/test_layers.py).
"""

from __future__ import annotations

from django.http import HttpRequest


def client_address(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR: behind a proxy, the proxy must pass the client's address through to daphne
    # (daphne --proxy-headers), never a header a client can set itself.
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
