"""The emulator as one raw ASGI app: Orq under /v2, Mistral under /v1, knobs applied on the way."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

from emulator import knobs
from emulator.asgi import Answer, ClientGone, Receive, Request, Scope, Send, json_response
from emulator.knobs import DEFAULT_TOKENS_PER_SECOND, KnobError, Knobs, ServerFault
from emulator.mistral import MistralAPI
from emulator.orq import OrqAPI
from emulator.routing import Provider, Route


@dataclass(frozen=True)
class EmulatorConfig:
    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND
    fault: str = ""  # server-wide knobs, as `status=503 retry_after=1 times=1`


class EmulatorApp:
    """Both APIs on one port, state in memory for the life of the process."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.fault = ServerFault(config.fault)
        self.orq = OrqAPI()
        self.mistral = MistralAPI()
        self._providers: tuple[tuple[Provider, list[Route]], ...] = tuple(
            (provider, provider.routes()) for provider in (self.orq, self.mistral)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            request = await Request.read(scope, receive)
        except ClientGone:
            return
        answer = await self.answer(request)
        await answer(send, receive)

    async def answer(self, request: Request) -> Answer:
        found = self._route(request)
        if found is None:
            return json_response(404, {"detail": "Not Found"})
        provider, route = found
        if route is None:
            return provider.error(404, f"No route for {request.method} {request.path}")
        if not _authorized(request):
            return provider.error(401, "Unauthorized: send Authorization: Bearer <API key>")
        try:
            header = knobs.parse(request.headers.get(knobs.HEADER, ""))
        except KnobError as exc:
            return provider.knob_error(exc, source="header")
        directive = {}
        if route.turn:
            try:
                directive = knobs.from_text(provider.user_text(request))
            except KnobError as exc:
                return provider.knob_error(exc, source="directive")
        base = {"tokens_per_second": self.config.tokens_per_second}
        settings = Knobs.from_layers(base, self.fault.take(turn=route.turn), header, directive)
        if settings.first_byte_delay:
            await asyncio.sleep(settings.first_byte_delay)
        if settings.status is not None:
            phrase = HTTPStatus(settings.status).phrase if settings.status in _STATUSES else "Error"
            failure = provider.error(settings.status, f"{phrase} (emulated)")
            if settings.retry_after is not None:
                failure = failure.with_headers(
                    ("retry-after", knobs.format_seconds(settings.retry_after))
                )
            return failure
        return await route.handler(request, settings)

    def _route(self, request: Request) -> tuple[Provider, Route | None] | None:
        for provider, routes in self._providers:
            if request.path.startswith(provider.prefix):
                for candidate in routes:
                    params = candidate.match(request)
                    if params is not None:
                        request.params = params
                        return provider, candidate
                return provider, None
        return None


_STATUSES = {status.value for status in HTTPStatus}


def build_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    return EmulatorApp(config or EmulatorConfig())


def _authorized(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
