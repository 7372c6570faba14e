"""The README's "Where the providers differ" table, written from the adapters' capabilities.

`manage.py provider_table --write README.md` puts it between the README's markers; a test fails
when the README says something the adapters no longer do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from conversations.providers.base import ProviderAdapter

BEGIN = "<!-- provider table: written by `manage.py provider_table --write README.md` -->"
END = "<!-- end of provider table -->"


def _rename(a: ProviderAdapter) -> str:
    if a.capabilities.can_rename:
        return f"renamed at {a.name} too"
    return f"kept by Webchat only ({a.name} has no titles to rename)"


def _title(a: ProviderAdapter) -> str:
    if a.capabilities.names_conversations:
        return f"named by {a.name} from the first exchange"
    return "made by Webchat from the first message"


def _regenerate(a: ProviderAdapter) -> str:
    if a.capabilities.can_branch:
        return "restart from the entry before the last question"
    return f"the last question is asked again as a new turn ({a.name} cannot branch)"


def _edit(a: ProviderAdapter) -> str:
    if a.capabilities.can_branch:
        return (
            "restart from the entry before that message; the old branch is kept upstream until "
            "the conversation is deleted"
        )
    return (
        f"a new {a.name} conversation starts from the edited message, without the turns before "
        "it (the page says so)"
    )


def _versions(a: ProviderAdapter) -> str:
    if a.capabilities.can_branch:
        return f"each is its own {a.name} conversation: the one shown is the one that goes on"
    return (
        f"only the latest goes on ({a.name} cannot branch back to an earlier one); earlier ones "
        "are for reading (the page says so)"
    )


def _shared_copy(a: ProviderAdapter) -> str:
    if a.capabilities.keeps_earlier_turns_on_continue:
        return "given the copied turns"
    return f"starts without the copied turns ({a.no_earlier_turns_because})"


def _continue(a: ProviderAdapter) -> str:
    if a.capabilities.keeps_earlier_turns_on_continue:
        return "a new conversation, given the earlier turns"
    return f"a new conversation, without the earlier turns ({a.no_earlier_turns_because})"


def _instructions(a: ProviderAdapter) -> str:
    model, agent = a.takes("model"), a.takes("agent")
    if not model.instructions:
        said = "not taken"
    elif model.instructions_fixed_at_start:
        said = (
            "models: sent when the conversation starts; a change starts a new one given the "
            "earlier turns"
        )
    else:
        said = "models: sent with each turn"
    return said + ("" if agent.instructions else "; agents use their own")


def _parameters(a: ProviderAdapter) -> str:
    if not a.takes("model").parameters:
        return "not taken"
    return "models: sent with each turn; a reply cut at max tokens can be continued"


def _model_change(a: ProviderAdapter) -> str:
    match a.takes("model").model_change:
        case "turn":
            return "from the next turn (each turn names its model)"
        case "new":
            return f"a new {a.name} conversation, given the earlier turns"
    return "not offered"


def _variables(a: ProviderAdapter) -> str:
    return "agents: sent with each turn" if a.takes("agent").variables else "not taken"


def _files(a: ProviderAdapter) -> str:
    if not a.capabilities.takes_files:
        return "not taken"
    if a.sends_as_link("application/pdf"):
        return (
            "images inline; documents as a short-lived signed link it fetches (only with "
            "`WEBCHAT_PUBLIC_URL`)"
        )
    return "each file's bytes, with the turn"


ROWS: list[tuple[str, Callable[[ProviderAdapter], str]]] = [
    ("New conversation", lambda a: "made upstream with its first message"),
    ("Rename", _rename),
    ("Title after the first exchange", _title),
    ("Regenerate", _regenerate),
    ("Edit an earlier message", _edit),
    ("Versions (after a regenerate or edit)", _versions),
    ("Continue one the provider lost", _continue),
    ("Continue a shared conversation", _shared_copy),
    ("Instructions", _instructions),
    ("Temperature, top-p, max tokens", _parameters),
    ("Another model mid-conversation", _model_change),
    ("Variables", _variables),
    ("Files", _files),
    ("Delete", lambda a: "deletes every upstream conversation the chat used"),
]


def table(adapters: Iterable[ProviderAdapter]) -> str:
    adapters = list(adapters)
    lines = [
        "| | " + " | ".join(a.name for a in adapters) + " |",
        "|---|" + "---|" * len(adapters),
    ]
    for feature, say in ROWS:
        cells = [say(a) for a in adapters]
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def with_table(document: str, adapters: Iterable[ProviderAdapter]) -> str:
    """`document` with the table between its markers replaced."""
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    return f"{document[:start]}\n\n{table(adapters)}\n\n{document[end:]}"
