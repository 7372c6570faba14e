"""Writing the audit trail: who did what, when, and from which address."""

from __future__ import annotations

from django.http import HttpRequest

from administration.models import AuditAction, AuditEntry
from webchat.addresses import client_address


def record(
    action: AuditAction,
    summary: str,
    *,
    request: HttpRequest | None = None,
    actor=None,
    target=None,
    detail: dict | None = None,
) -> AuditEntry:
    """Record one entry. `actor` defaults to the request's user; with neither it is a job. A
    request nobody signed in to (a shared link's reader) is "anonymous"."""
    if actor is None and request is not None:
        actor = request.user
    signed_in = actor is not None and getattr(actor, "is_authenticated", False)
    if signed_in:
        name = actor.get_username()
    else:
        name = "anonymous" if request is not None else "system (command line)"
    return AuditEntry.objects.create(
        actor=actor if signed_in else None,
        actor_name=name,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary,
        address=client_address(request),
        detail=detail or {},
    )


def record_admin_change(request: HttpRequest, action: str, obj, summary: str) -> None:
    """What `webchat.admin_base.AuditedAdmin` writes (handed over in administration/admin.py)."""
    record(AuditAction(action), summary, request=request, target=obj)


def record_file_link(sender, *, attachment, request, **kwargs) -> None:
    """A provider fetched an attached file through its signed link (no one is signed in)."""
    message = attachment.message
    record(
        AuditAction.FILE_LINK,
        f"Attachment #{attachment.pk} of conversation #{message.conversation_id} fetched by "
        "its signed link",
        request=request,
        target=attachment,
        detail={"name": attachment.name, "mime": attachment.mime, "size": attachment.size},
    )
