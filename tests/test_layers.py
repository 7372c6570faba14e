"""Apps import downwards only: `upstream` <- `conversations` <- `administration`, `widgets`;
`sharing` above `administration`.

- `upstream` (the provider clients) imports none of the apps;
- `conversations` may import `upstream`;
- `administration` and `widgets` may import both, never each other;
- `sharing` may import those three, and none of them imports it.

Every import counts: at the top of a module or inside a function, `import x` or `from x import
y`, relative or absolute. (A model's foreign key written as a string, "widgets.Widget", is no
import and is fine.) The project package `webchat` is both: its wiring (settings, urls, asgi, the
server, the `serve` command) imports any app, while the small modules the apps use (bad input,
the admin base, the client's address...) must import no app, or they would close a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each app and the apps it may import (itself always).
ALLOWED = {
    "upstream": set(),
    "conversations": {"upstream"},
    "administration": {"upstream", "conversations"},
    "widgets": {"upstream", "conversations"},
    # Shared links write the audit trail and list themselves in the admin beside its records.
    "sharing": {"upstream", "conversations", "administration"},
}
APPS = set(ALLOWED)
PROJECT = "webchat"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, function-local ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package.pop()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.append((node.lineno, prefix))
            # `from package import module` imports the module too
            found += [(node.lineno, f"{prefix}.{alias.name}") for alias in node.names]
    return found


def modules_of(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def top(module: str) -> str:
    return module.partition(".")[0]


def test_apps_import_downwards_only():
    wrong = {}  # one line per import statement
    for app, allowed in ALLOWED.items():
        for path in modules_of(app):
            for line, module in imported_modules(path):
                other = top(module)
                if other in APPS and other != app and other not in allowed:
                    wrong.setdefault(f"{path.relative_to(ROOT)}:{line}", f"imports {module}")
    assert not wrong, "Upward or sideways imports between apps:\n" + "\n".join(
        f"{where} {what}" for where, what in sorted(wrong.items())
    )


def test_project_modules_the_apps_use_import_no_app():
    """`webchat.badinput`, say, is under every app: if it imported one, there would be a loop."""
    used = set()
    for app in APPS:
        for path in modules_of(app):
            used |= {m for _, m in imported_modules(path) if top(m) == PROJECT}
    wrong = []
    for path in modules_of(PROJECT):
        if module_name(path) not in used:
            continue
        for line, module in imported_modules(path):
            if top(module) in APPS:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert used, "expected the apps to use a few project modules (bad input, the admin base)"
    assert not wrong, "Project modules the apps import must import no app:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from widgets.models import Widget\n", "widgets.models"),
        ("import widgets.admin as a\n", "widgets.admin"),
        ("from widgets import models\n", "widgets.models"),
        ("from .. import widgets\n", "administration.widgets"),  # relative: stays in the app
    ],
)
def test_the_check_sees_every_kind_of_import(tmp_path, source, expected):
    path = tmp_path / "administration" / "sub" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert expected in {m for _, m in imported_modules(path, tmp_path)}


@pytest.mark.django_db
def test_the_widgets_audited_admin_writes_the_administration_trail(admin_user, rf):
    """widgets imports no administration: the trail is handed over when administration is ready."""
    from django.contrib import admin

    from administration.models import AuditEntry
    from widgets.models import Widget

    widget = Widget.objects.create(name="Shop", provider="mistral", model="m", owner=admin_user)
    widget_admin = admin.site.get_model_admin(Widget)
    request = rf.post("/", REMOTE_ADDR="10.0.0.9")
    request.user = admin_user
    widget_admin.log_addition(request, widget, [{"added": {}}])
    widget_admin.log_change(request, widget, [{"changed": {"fields": ["Name"]}}])
    widget_admin.log_deletions(request, Widget.objects.filter(pk=widget.pk))
    rows = AuditEntry.objects.order_by("id").values_list("action", "summary", "address", "actor")
    assert list(rows) == [
        ("add", "Added widget “Shop”: Added.", "10.0.0.9", admin_user.pk),
        ("change", "Changed widget “Shop”: Changed Name.", "10.0.0.9", admin_user.pk),
        ("delete", "Deleted widget “Shop”", "10.0.0.9", admin_user.pk),
    ]
