"""Input we cannot read is a 400 with a message in plain words, never a 500.

Views, admin pages and filters raise `BadInput`; Django turns any `BadRequest` into a 400 and
`bad_request` (the 400 handler) shows its message. A NUL character is refused for every
request at once: PostgreSQL cannot store or even compare text that contains one, so a query,
a form field or a cookie carrying it would reach the database as a 500 wherever it is used.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import BadRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.decorators import sync_and_async_middleware

# The largest id any of our tables can hold (a signed 64-bit integer).
MAX_ID = 2**63 - 1
NUL_REFUSED = (
    "That request contains a null character (\\0), which Webchat cannot store or search for. "
    "Remove it and try again."
)


class BadInput(BadRequest):
    """A request we will not read, with what to tell the person who sent it."""


def parse_id(raw, *, what: str = "id") -> int:
    """A positive whole number that fits our ids, or `BadInput` saying which value was wrong."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadInput(f"The {what} must be a whole number.") from None
    if not 0 < value <= MAX_ID:
        raise BadInput(f"There is no {what} {value}.")
    return value


def bad_request(request, exception=None) -> HttpResponse:
    """The 400 page: our own message, or a general one (Django's wording may name internals)."""
    message = str(exception) if isinstance(exception, BadInput) else ""
    return render(
        request,
        "400.html",
        {"message": message or "Webchat could not read that request."},
        status=400,
    )


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    pairs = [*request.GET.lists(), *((k, [v]) for k, v in request.COOKIES.items())]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        # Form bodies only: JSON bodies are parsed (and checked) by their views, which read
        # `request.body`, and that is gone once a multipart body has been read as a form.
        pairs += request.POST.lists()
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in pairs)


@sync_and_async_middleware
def refuse_nul(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if has_nul(request):
                return bad_request(request, BadInput(NUL_REFUSED))
            return await get_response(request)

    else:

        def middleware(request):
            if has_nul(request):
                return bad_request(request, BadInput(NUL_REFUSED))
            return get_response(request)

    return middleware
