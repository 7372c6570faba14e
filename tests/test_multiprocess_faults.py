"""Faults across two real daphne processes on PostgreSQL and Redis: nothing written is lost.

- A regenerate or edit that meets a 502, a 503 or a broken stream leaves every earlier
  message in place, as every open page shows it.
- A process killed with -9 or stopped with SIGTERM mid-reply leaves every open page with a
  final state within the lease time, and SIGTERM saves every token a viewer has seen.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

import psycopg
import pytest

from emulator.assistant import compose_reply
from tests.cluster import frame, until

MISTRAL = "mistral:model:mistral-small-latest"
ORQ = "orq:model:openai/gpt-4o"
FAULTS = {
    "502": "[[emulator status=502]]",
    "503": "[[emulator status=503]]",
    "break": "[[emulator break_after=4]]",
}


def rows(cluster, conversation: int) -> list[tuple[int, str, str, str]]:
    """The conversation as its pages read it: (id, role, text, status), hidden turns left out."""
    with psycopg.connect(cluster.env["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT id, role, text, status FROM conversations_message "
            "WHERE conversation_id = %s AND replaced_by_id IS NULL ORDER BY id",
            (conversation,),
        ).fetchall()


def put_directive(cluster, message_id: int, directive: str) -> None:
    """The provider falls over on the next turn: the question resent carries the directive."""
    with psycopg.connect(cluster.env["DATABASE_URL"]) as conn:
        conn.execute(
            "UPDATE conversations_message SET text = %s || ' ' || text WHERE id = %s",
            (directive, message_id),
        )


async def send_and_finish(ws, text: str) -> dict:
    await ws.send(json.dumps({"type": "send", "text": text}))
    _, done = await until(ws, "done")
    return done


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("choice", [MISTRAL, ORQ], ids=["mistral", "orq"])
async def test_regenerate_and_edit_that_fail_leave_every_earlier_message(cluster, choice, fault):
    a, b = cluster.start(), cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, choice)
    async with (
        cluster.socket(a, client, conversation) as on_a,
        cluster.socket(b, client, conversation) as on_b,
    ):
        await frame(on_a), await frame(on_b)
        await send_and_finish(on_a, "Question one")
        await send_and_finish(on_a, "Question two")
        await until(on_b, "done"), await until(on_b, "done")
        before = rows(cluster, conversation)
        assert [r[1] for r in before] == ["user", "assistant"] * 2

        # Regenerate the last reply: the provider fails the resent question.
        put_directive(cluster, before[2][0], FAULTS[fault])
        before = rows(cluster, conversation)
        await on_a.send(json.dumps({"type": "regenerate"}))
        _, restored = await until(on_b, "restored")
        _, done = await until(on_b, "done")
        assert restored["ids"] == [before[3][0]]
        assert done["status"] == "failed"
        after = rows(cluster, conversation)
        assert after[:4] == before
        assert after[4][1:] == ("assistant", after[4][2], "failed")

        # Edit the first question: the provider fails the edited one.
        await until(on_a, "done")
        edited = f"{FAULTS[fault]} Question 1b"
        await on_a.send(json.dumps({"type": "edit", "id": before[0][0], "text": edited}))
        _, restored = await until(on_b, "restored")
        _, done = await until(on_b, "done")
        assert len(restored["ids"]) == 5
        assert done["status"] == "failed"
        final = rows(cluster, conversation)
        assert final[:5] == after, "every earlier message is back, the failed attempts too"
        assert [r[1:] for r in final[5:6]] == [("user", edited, "complete")]
        assert final[6][1] == "assistant" and final[6][3] == "failed"


async def test_kill_9_mid_reply_gives_every_open_page_a_final_state(cluster):
    a, b = cluster.start(), cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, MISTRAL)
    text = "[[emulator tokens_per_second=20 tokens=400]] Keep talking"
    async with cluster.socket(b, client, conversation) as on_b:
        async with cluster.socket(a, client, conversation) as on_a:
            await frame(on_a), await frame(on_b)
            await on_a.send(json.dumps({"type": "send", "text": text}))
            deadline = time.monotonic() + 20
            while not (row := cluster.reply_row(conversation)) or not row[2]:  # a save
                assert time.monotonic() < deadline
                await frame(on_b)
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait()
        # B's page asks nothing: it is told once the lease (2 s) runs out.
        killed = time.monotonic()
        _, done = await until(on_b, "done")
        assert time.monotonic() - killed < 2 + 2 + 1, "within the lease and one sweep"
    assert done["status"] == "interrupted"
    assert "Interrupted" in done["html"] and "Retry" in done["html"]
    _, status, saved, _ = cluster.reply_row(conversation)
    assert status == "interrupted" and saved


async def test_sigterm_mid_reply_saves_every_seen_token_and_tells_every_page(cluster):
    cluster.env["WEBCHAT_SHUTDOWN_GRACE"] = "0.5"
    cluster.env["WEBCHAT_SAVE_INTERVAL"] = "5"  # no periodic save could hide a lost tail
    a, b = cluster.start(), cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, MISTRAL)
    text = "[[emulator tokens_per_second=20 tokens=400]] Keep talking"
    async with (
        cluster.socket(a, client, conversation) as on_a,
        cluster.socket(b, client, conversation) as on_b,
    ):
        await frame(on_a), await frame(on_b)
        await on_a.send(json.dumps({"type": "send", "text": text}))
        last_seen = 0
        while last_seen < 12:
            got = await frame(on_b)
            if got["type"] == "delta":
                last_seen = got["seq"]
        stopped = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        _, done_a = await until(on_a, "done")  # the page on A hears it before A goes
        deltas_b, done_b = await until(on_b, "done")
        last_seen = max([last_seen] + [d["seq"] for d in deltas_b if d["type"] == "delta"])
        await asyncio.to_thread(a.proc.wait, 10)
        assert time.monotonic() - stopped < 0.5 + 5, "A exits soon after its grace period"
    assert done_a["status"] == done_b["status"] == "interrupted"
    assert done_b["seq"] >= last_seen
    with psycopg.connect(cluster.env["DATABASE_URL"]) as conn:
        status, saved, seq = conn.execute(
            "SELECT status, text, seq FROM conversations_message "
            "WHERE conversation_id = %s AND role = 'assistant'",
            (conversation,),
        ).fetchone()
    assert status == "interrupted"
    assert seq >= last_seen, "every token a viewer saw is saved"
    full = compose_reply("Keep talking", tokens=400).full_text
    assert saved and full.startswith(saved)


async def test_sigterm_lets_a_short_reply_finish_and_refuses_new_turns(cluster):
    cluster.env["WEBCHAT_SHUTDOWN_GRACE"] = "15"
    a, b = cluster.start(), cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, MISTRAL)
    other = cluster.new_conversation(client, MISTRAL)
    text = "[[emulator tokens_per_second=60 tokens=120]] A short one"
    async with (
        cluster.socket(a, client, conversation) as on_a,
        cluster.socket(b, client, conversation) as on_b,
        cluster.socket(a, client, other) as other_on_a,
    ):
        await frame(on_a), await frame(on_b), await frame(other_on_a)
        await on_a.send(json.dumps({"type": "send", "text": text}))
        await until(on_b, "delta")
        a.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        # A takes no new turn while it finishes the old one.
        await other_on_a.send(json.dumps({"type": "send", "text": "Anyone there?"}))
        _, refused = await until(other_on_a, "error")
        assert "restarting" in refused["message"]
        _, done = await until(on_b, "done")
        await asyncio.to_thread(a.proc.wait, 20)
    assert done["status"] == "complete"
    _, status, saved, _ = cluster.reply_row(conversation)
    assert status == "complete"
    assert saved == compose_reply("A short one", tokens=120).full_text
    assert [r[1] for r in rows(cluster, other)] == []
