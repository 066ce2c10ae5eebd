"""The OpenAI stand-in, driven by the real `openai.AsyncOpenAI` client."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.standins.openai_server import OpenAIStandIn

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is Milvus?"}]


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as standin:
        yield standin


def client_for(
    llm: OpenAIStandIn, max_retries: int = 0, timeout: float = 2.0
) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=llm.base_url, api_key="test", max_retries=max_retries, timeout=timeout
    )


async def test_streamed_reply_arrives_in_several_deltas(llm: OpenAIStandIn) -> None:
    text = "Milvus is an open-source vector database built for similarity search [1]."
    llm.reply_with(text)
    async with client_for(llm) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]

    deltas = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(deltas) > 2
    assert "".join(deltas) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.model for c in chunks} == {"m"}
    [call] = llm.chat_calls()
    assert call.json["stream"] is True
    assert call.json["messages"] == MESSAGES
    assert call.headers["authorization"] == "Bearer test"


async def test_non_streamed_reply_then_default(llm: OpenAIStandIn) -> None:
    llm.reply_with("First answer [1]")
    async with client_for(llm) as client:
        first = await client.chat.completions.create(model="m", messages=MESSAGES)
        second = await client.chat.completions.create(model="m", messages=MESSAGES)

    assert first.choices[0].message.content == "First answer [1]"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.completion_tokens == 3
    assert second.choices[0].message.content == llm.default_reply


async def test_embeddings_are_deterministic_unit_vectors(llm: OpenAIStandIn) -> None:
    llm.embedding_dim = 16
    async with client_for(llm) as client:
        first = await client.embeddings.create(model="e", input=["alpha", "beta"])
        again = await client.embeddings.create(model="e", input="alpha", encoding_format="float")

    assert [item.index for item in first.data] == [0, 1]
    alpha, beta = (item.embedding for item in first.data)
    assert len(alpha) == len(beta) == 16
    assert math.isclose(math.fsum(x * x for x in alpha), 1.0, rel_tol=1e-5)
    assert alpha != beta
    assert again.data[0].embedding == alpha
    assert first.model == "e"


async def test_server_error_is_retried_by_the_client(llm: OpenAIStandIn) -> None:
    llm.fail_with(500, retry_after=0.01)
    llm.reply_with("Recovered [1]")
    async with client_for(llm, max_retries=1) as client:
        reply = await client.chat.completions.create(model="m", messages=MESSAGES)

    assert reply.choices[0].message.content == "Recovered [1]"
    first, second = llm.chat_calls()
    assert first.json == second.json
    assert second.headers["x-stainless-retry-count"] == "1"


async def test_error_body_reaches_the_client(llm: OpenAIStandIn) -> None:
    llm.fail_with(429)
    async with client_for(llm) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=MESSAGES)

    assert caught.value.code == "rate_limit_exceeded"


async def test_hang_past_the_client_timeout_raises(llm: OpenAIStandIn) -> None:
    llm.hang(5.0)
    llm.reply_with("Kept for the next request")
    async with client_for(llm, timeout=0.2) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=MESSAGES)
        reply = await client.chat.completions.create(model="m", messages=MESSAGES)

    assert reply.choices[0].message.content == "Kept for the next request"
    assert len(llm.chat_calls()) == 2


async def test_stalled_stream_times_out_mid_stream(llm: OpenAIStandIn) -> None:
    llm.reply_with("one two three four five six seven")
    llm.stall_stream_after(1, 5.0)
    received: list[str] = []
    async with client_for(llm, timeout=0.2) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APITimeoutError):
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "one two three "


async def test_shutdown_does_not_wait_for_a_hanging_handler() -> None:
    started = time.monotonic()
    async with OpenAIStandIn() as llm:
        llm.hang(30.0)
        async with client_for(llm, timeout=0.2) as client:
            with pytest.raises(openai.APITimeoutError):
                await client.chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - started < 2.0
