"""The websocket's doors: only this site's own pages may open one, and a socket lasts no longer
than the session it was opened with (sign-out, a new password, a deactivated account)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client

from conversations import services
from conversations.choices import choice_for
from tests.sockets import WITHIN, receive, socket_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


async def signed_in_client(user) -> Client:
    client = Client()
    await sync_to_async(client.force_login)(user)
    return client


async def conversation_of(user):
    return await services.conversation_create(
        owner=user, choice=choice_for("mistral:model:mistral-small-latest")
    )


async def open_socket(
    conversation_id, client: Client | None, *, origin: bytes | None, host=b"localhost", extra=()
):
    """A socket with `client`'s session (signed out later by the test through that client)."""
    cookie = None
    if client is not None:
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator, connected, _ = await socket_for(
        conversation_id, origin=origin, cookie=cookie, host=host, extra=extra
    )
    return communicator, connected


async def closed_with(communicator) -> int:
    return (await communicator.receive_output(timeout=WITHIN))["code"]


async def answers(communicator) -> bool:
    await communicator.send_json_to({"type": "snapshot"})
    return (await receive(communicator))["type"] == "snapshot"


# --- Origin: scheme, host and port, as CSRF compares them -------------------------------------


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        pytest.param(b"http://localhost", b"localhost", id="same-origin"),
        pytest.param(b"http://localhost:8000", b"localhost:8000", id="same-origin-with-port"),
        pytest.param(b"http://127.0.0.1:8000", b"127.0.0.1:8000", id="same-origin-address"),
        pytest.param(b"http://[::1]:8000", b"[::1]:8000", id="same-origin-ipv6"),
    ],
)
async def test_the_sites_own_page_opens_a_socket(origin, host, alice):
    conversation = await conversation_of(alice)
    socket, connected = await open_socket(
        conversation.pk, await signed_in_client(alice), origin=origin, host=host
    )
    assert connected
    assert (await receive(socket))["type"] == "snapshot"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        pytest.param(b"https://localhost", b"localhost", id="wrong-scheme"),
        pytest.param(b"https://127.0.0.1:8000", b"127.0.0.1:8000", id="wrong-scheme-same-port"),
        pytest.param(b"http://127.0.0.1:1", b"127.0.0.1:8000", id="wrong-port"),
        pytest.param(b"http://127.0.0.1", b"127.0.0.1:8000", id="default-port"),
        pytest.param(b"https://evil.example", b"localhost", id="foreign-host"),
        pytest.param(b"http://localhost.evil.example", b"localhost", id="lookalike-host"),
        pytest.param(b"null", b"localhost", id="null-origin"),
        pytest.param(None, b"localhost", id="missing-origin"),
        pytest.param(b"http://user@localhost", b"localhost", id="user-info"),
        pytest.param(b"http://evil.example", b"evil.example", id="host-not-allowed"),
    ],
)
async def test_any_other_origin_is_refused_at_the_handshake(origin, host, alice):
    conversation = await conversation_of(alice)
    _, connected = await open_socket(
        conversation.pk, await signed_in_client(alice), origin=origin, host=host
    )
    assert not connected


async def test_a_trusted_origin_opens_a_socket(alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    conversation = await conversation_of(alice)
    client = await signed_in_client(alice)
    for origin in (b"https://chat.example.com", b"https://team.example.org"):
        socket, connected = await open_socket(conversation.pk, client, origin=origin)
        assert connected, origin
        await socket.disconnect()
    for origin in (b"http://chat.example.com", b"https://chat.example.com:8443"):
        _, connected = await open_socket(conversation.pk, client, origin=origin)
        assert not connected, origin


async def test_behind_a_trusted_tls_proxy_the_https_page_is_the_sites_own(alice, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    conversation = await conversation_of(alice)
    client = await signed_in_client(alice)
    proxied = [(b"x-forwarded-proto", b"https")]
    socket, connected = await open_socket(
        conversation.pk, client, origin=b"https://localhost", extra=proxied
    )
    assert connected
    await socket.disconnect()
    _, connected = await open_socket(
        conversation.pk, client, origin=b"http://localhost", extra=proxied
    )
    assert not connected


# --- A socket ends with its session ----------------------------------------------------------


async def test_signing_out_closes_that_sessions_sockets_only(alice):
    conversation = await conversation_of(alice)
    here, elsewhere = await signed_in_client(alice), await signed_in_client(alice)
    mine, _ = await open_socket(conversation.pk, here, origin=b"http://localhost")
    other, _ = await open_socket(conversation.pk, elsewhere, origin=b"http://localhost")
    await receive(mine)
    await receive(other)

    response = await sync_to_async(here.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await closed_with(mine) == 4403
    assert await answers(other), "another session of the same person is not signed out"
    await other.disconnect()


async def test_a_new_password_closes_every_socket_of_the_user(alice, bob):
    conversation = await conversation_of(alice)
    first, second = await signed_in_client(alice), await signed_in_client(alice)
    sockets = [
        (await open_socket(conversation.pk, client, origin=b"http://localhost"))[0]
        for client in (first, second)
    ]
    bobs_socket, _ = await open_socket(
        (await conversation_of(bob)).pk, await signed_in_client(bob), origin=b"http://localhost"
    )
    for socket in (*sockets, bobs_socket):
        await receive(socket)

    alice.set_password("a-new-password-2")
    await alice.asave()
    for socket in sockets:
        assert await closed_with(socket) == 4403
    assert await answers(bobs_socket)
    await bobs_socket.disconnect()


async def test_changing_ones_password_ends_the_other_sessions_sockets_for_good(carol):
    # The password change page keeps its own session signed in under a new key (the old one is
    # gone, so are its sockets): the page's new socket opens with it; the other session's not.
    conversation = await conversation_of(carol)
    here, elsewhere = await signed_in_client(carol), await signed_in_client(carol)
    mine, _ = await open_socket(conversation.pk, here, origin=b"http://localhost")
    other, _ = await open_socket(conversation.pk, elsewhere, origin=b"http://localhost")
    await receive(mine)
    await receive(other)

    new_password = "a-brand-new-password-4"
    response = await sync_to_async(here.post)(
        "/admin/password_change/",
        {
            "old_password": "carol-password-1",
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    assert response.status_code == 302, response.content
    assert await closed_with(other) == 4403
    assert await closed_with(mine) == 4403
    again, _ = await open_socket(conversation.pk, here, origin=b"http://localhost")
    assert (await receive(again))["type"] == "snapshot", "this session is still signed in"
    await again.disconnect()
    refused, _ = await open_socket(conversation.pk, elsewhere, origin=b"http://localhost")
    assert await closed_with(refused) == 4403


async def test_a_deactivated_account_loses_its_sockets(alice):
    conversation = await conversation_of(alice)
    socket, _ = await open_socket(
        conversation.pk, await signed_in_client(alice), origin=b"http://localhost"
    )
    await receive(socket)
    alice.is_active = False
    await alice.asave(update_fields=["is_active"])
    assert await closed_with(socket) == 4403


async def test_signing_in_elsewhere_leaves_open_sockets_alone(alice):
    conversation = await conversation_of(alice)
    socket, _ = await open_socket(
        conversation.pk, await signed_in_client(alice), origin=b"http://localhost"
    )
    await receive(socket)
    await signed_in_client(alice)  # saves last_login
    await alice.arefresh_from_db()
    alice.first_name = "Alice"
    await alice.asave()  # a change that does not sign anyone out
    assert await answers(socket)
    await socket.disconnect()


async def test_a_socket_whose_session_is_gone_is_refused_at_its_next_request(alice):
    # No signal for this one (expired, or removed by `clearsessions` or by hand): the socket
    # checks its session before it acts on a request.
    conversation = await conversation_of(alice)
    client = await signed_in_client(alice)
    socket, _ = await open_socket(conversation.pk, client, origin=b"http://localhost")
    await receive(socket)
    assert await answers(socket)
    await Session.objects.filter(session_key=client.session.session_key).adelete()
    await socket.send_json_to({"type": "send", "text": "Still there?"})
    assert await closed_with(socket) == 4403
    assert not await conversation.messages.aexists()


async def test_a_socket_whose_password_changed_unseen_is_refused_at_its_next_request(alice):
    # The same, when the password changed in a way that sent no signal (an UPDATE).
    conversation = await conversation_of(alice)
    socket, _ = await open_socket(
        conversation.pk, await signed_in_client(alice), origin=b"http://localhost"
    )
    await receive(socket)
    alice.set_password("changed-behind-our-back-3")
    await type(alice).objects.filter(pk=alice.pk).aupdate(password=alice.password)
    await socket.send_json_to({"type": "snapshot"})
    assert await closed_with(socket) == 4403
