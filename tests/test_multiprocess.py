"""Two real daphne processes on PostgreSQL and Redis: replies cross processes and survive kill -9."""

from __future__ import annotations

import asyncio
import json
import signal
import time

from emulator.assistant import compose_reply
from tests.cluster import WITHIN, frame, until


async def test_a_reply_started_on_a_is_watched_and_stopped_on_b(cluster):
    a, b = cluster.start(), cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, "mistral:model:mistral-small-latest")
    text = "[[emulator tokens_per_second=20 tokens=400]] A long answer please"
    async with (
        cluster.socket(a, client, conversation) as on_a,
        cluster.socket(b, client, conversation) as on_b,
    ):
        assert (await frame(on_a))["id"] is None and (await frame(on_b))["id"] is None
        await on_a.send(json.dumps({"type": "send", "text": text}))
        assert (await frame(on_b))["type"] == "turn"
        texts = 0
        while texts < 3:
            got = await frame(on_b)
            texts += got["type"] == "delta" and bool(got.get("text"))
        await on_b.send(json.dumps({"type": "stop"}))
        _, done_b = await until(on_b, "done")
        _, done_a = await until(on_a, "done")
    assert done_a["id"] == done_b["id"]
    _, status, saved, runner = cluster.reply_row(conversation)
    assert status == "stopped"
    full = compose_reply("A long answer please", tokens=400).full_text
    assert saved and full.startswith(saved) and len(saved) < len(full)
    assert "!" in runner, "the runner is addressed by its process's inbox channel"


async def test_a_reload_that_lands_on_another_process_resumes_with_no_gap(cluster):
    a, b = cluster.start(), cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, "orq:model:openai/gpt-4o")
    text = "[[emulator tokens_per_second=30 tokens=150]] Stream across processes"
    async with cluster.socket(a, client, conversation) as on_a:
        await frame(on_a)
        await on_a.send(json.dumps({"type": "send", "text": text}))
        seen = 0
        while seen < 8:
            seen += (await frame(on_a))["type"] == "delta"
    # The tab reloads, and the load balancer sends it to B.
    async with cluster.socket(b, client, conversation) as on_b:
        snapshot = await frame(on_b)
        assert snapshot["type"] == "snapshot" and snapshot["streaming"]
        assert snapshot["seq"] >= 8, "B asked A for the live text, not the last save"
        seq = snapshot["seq"]
        deltas, done = await until(on_b, "done")
        for got in deltas:
            if got["type"] != "delta" or got["seq"] <= seq:
                continue
            assert got["from"] == seq + 1, "a gap in the stream"
            seq = got["seq"]
        assert done["seq"] == seq
    _, status, saved, _ = cluster.reply_row(conversation)
    assert status == "complete"
    assert saved == compose_reply("Stream across processes", tokens=150).full_text


async def test_kill_9_mid_reply_leaves_it_interrupted_with_its_text(cluster):
    a = cluster.start()
    client = cluster.sign_in(a)
    conversation = cluster.new_conversation(client, "mistral:model:mistral-small-latest")
    text = "[[emulator tokens_per_second=20 tokens=400]] Keep talking"
    async with cluster.socket(a, client, conversation) as on_a:
        await frame(on_a)
        await on_a.send(json.dumps({"type": "send", "text": text}))
        deadline = time.monotonic() + WITHIN
        while not (row := cluster.reply_row(conversation)) or not row[2]:  # wait for a save
            assert time.monotonic() < deadline
            await frame(on_a)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
    _, status, saved_at_kill, _ = cluster.reply_row(conversation)
    assert status == "streaming" and saved_at_kill

    b = cluster.start()
    await asyncio.sleep(2.5)  # the lease runs out
    async with cluster.socket(b, cluster.sign_in(b), conversation) as on_b:
        snapshot = await frame(on_b)
    assert not snapshot["streaming"]
    assert "Interrupted" in snapshot["html"] and "Retry" in snapshot["html"]
    _, status, saved, _ = cluster.reply_row(conversation)
    assert status == "interrupted"
    assert saved.startswith(saved_at_kill)
