"""The two roles besides superusers, as groups of admin permissions."""

from __future__ import annotations

REVIEWERS = "Transcript reviewers"
OPERATORS = "Operators"

ROLES = {
    # Read conversations and transcripts; no export, delete or change.
    REVIEWERS: [
        ("conversations", "view_conversation"),
        ("conversations", "view_transcript"),
    ],
    # Usage and its export, retention; never a transcript or a conversation list.
    OPERATORS: [
        ("conversations", "view_dailyusage"),
        ("conversations", "export_dailyusage"),
        ("conversations", "purge_conversation"),
        ("administration", "view_tombstone"),
    ],
}


def sync_roles(group_model, permission_model) -> None:
    """Create the role groups (or reset their permissions); models passed in for migrations."""
    for name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(
            [
                permission_model.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in codenames
            ]
        )
