"""The two roles besides superusers, as groups of admin permissions."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

REVIEWERS = "Transcript reviewers"
OPERATORS = "Operators"

ROLES = {
    # Read conversations, transcripts, the feedback on replies and the shared links; no export,
    # delete, change or revoke.
    REVIEWERS: [
        ("conversations", "view_conversation"),
        ("conversations", "view_transcript"),
        ("conversations", "view_feedback"),
        ("sharing", "view_share"),
    ],
    # Usage and its export, retention; never a transcript or a conversation list.
    OPERATORS: [
        ("conversations", "view_dailyusage"),
        ("conversations", "export_dailyusage"),
        ("conversations", "purge_conversation"),
        ("administration", "view_tombstone"),
    ],
}


def sync_roles(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the role groups (or reset their permissions to these). Run after every migrate
    (administration/apps.py), so a change here reaches every database on its next migrate."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # Django makes permissions after migrate, app by app: the roles need theirs now.
    for label in {app for codenames in ROLES.values() for app, _ in codenames}:
        create_permissions(apps.get_app_config(label), verbosity=0, using=using)
    for name, codenames in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.using(using).get(content_type__app_label=app, codename=codename)
                for app, codename in codenames
            ]
        )
