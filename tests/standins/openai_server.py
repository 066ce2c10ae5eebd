"""A local stand-in for an OpenAI-compatible endpoint, for tests.

It speaks enough of the OpenAI HTTP wire protocol (chat completions, streamed or not,
embeddings, models) for the unmodified `openai.AsyncOpenAI` client, serves canned replies,
can fail, hang or stall on demand, and records every request to assert on:

    async with OpenAIStandIn() as llm:
        llm.reply_with("Milvus is a vector database [1]")
        client = openai.AsyncOpenAI(base_url=llm.base_url, api_key="test")
        ...
        assert llm.chat_calls()[0].json["stream"] is True
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import random
import re
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.standins.local_server import serve

CHAT_PATH = "/v1/chat/completions"
# How long shutdown waits for a handler still running (a hang, a stall) before cancelling it.
_SHUTDOWN_GRACE_S = 0.1
# OpenAI's error `type` and `code` for the statuses tests are likely to ask for.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class RecordedCall:
    """One request as the stand-in received it; header names are lower-cased."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None


@dataclass(frozen=True)
class _Reply:
    """What every object of one chat reply shares."""

    id: str
    created: int
    model: str
    usage: dict[str, int]

    def envelope(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self.envelope("chat.completion.chunk"), "choices": [choice]}


class OpenAIStandIn:
    """Async context manager: `async with OpenAIStandIn() as llm: ... llm.base_url ...`"""

    base_url: str
    calls: list[RecordedCall]
    default_reply: str = "OK [1]"
    embedding_dim: int = 8
    model_ids: tuple[str, ...] = ("stand-in",)
    # Every chat request waits this long before answering, unless hang() says otherwise.
    time_to_first_token_s: float = 0.0
    # A streamed reply waits this long between content deltas (a slow model on a CPU).
    delta_interval_s: float = 0.0

    def __init__(self) -> None:
        self.calls = []
        self._replies: deque[str] = deque()
        self._failures: deque[_Failure] = deque()
        self._hangs: deque[float] = deque()
        self._stall: tuple[int, float] | None = None
        self._runner: web.AppRunner | None = None

    # -- scripting -------------------------------------------------------------------------

    def chat_calls(self) -> list[RecordedCall]:
        """The recorded calls to /v1/chat/completions, in order."""
        return [call for call in self.calls if call.path == CHAT_PATH]

    def reply_with(self, *texts: str) -> None:
        """Queue chat replies, one per chat request; `default_reply` once they run out."""
        self._replies.extend(texts)

    def fail_with(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` chat requests answer HTTP `status` with an OpenAI-style error body
        (and a Retry-After header, in seconds, if given). A failed request uses up no reply."""
        self._failures.extend([_Failure(status, retry_after)] * times)

    def hang(self, seconds: float, times: int = 1) -> None:
        """The next `times` chat requests wait `seconds` before answering. A request whose
        client gives up (disconnects) meanwhile is cancelled and uses up no reply."""
        self._hangs.extend([seconds] * times)

    def stall_stream_after(self, deltas: int, seconds: float) -> None:
        """The next streamed reply sends `deltas` content deltas, then waits `seconds` before
        the rest."""
        self._stall = (deltas, seconds)

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> OpenAIStandIn:
        app = web.Application(middlewares=[self._record])
        app.router.add_post(CHAT_PATH, self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        self._runner, port = await serve(app, _SHUTDOWN_GRACE_S)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers --------------------------------------------------------------------------

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.json() if request.body_exists else None
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.calls.append(RecordedCall(request.method, request.path, body, headers))
        return await handler(request)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        hang = self._hangs.popleft() if self._hangs else self.time_to_first_token_s
        failure = self._failures.popleft() if self._failures else None
        await asyncio.sleep(hang)
        if failure is not None:
            return _error_response(failure)
        text = self._replies.popleft() if self._replies else self.default_reply
        reply = _Reply(
            id=f"chatcmpl-{len(self.calls)}",
            created=int(time.time()),
            model=body.get("model", ""),
            usage=_usage(_word_count(body.get("messages", [])), len(text.split())),
        )
        if not body.get("stream"):
            message = {"role": "assistant", "content": text, "refusal": None}
            return web.json_response(
                {
                    **reply.envelope("chat.completion"),
                    "choices": [
                        {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
                    ],
                    "usage": reply.usage,
                }
            )
        pieces = _deltas(text)
        events = [reply.chunk({"role": "assistant", "content": ""})]
        events += [reply.chunk({"content": piece}) for piece in pieces]
        events.append(reply.chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(
                {**reply.envelope("chat.completion.chunk"), "choices": [], "usage": reply.usage}
            )
        stall, self._stall = self._stall, None
        # The stall goes after the role chunk and `deltas` content chunks.
        pause_at = None if stall is None else (1 + min(stall[0], len(pieces)), stall[1])
        return await _stream(request, events, pause_at, self.delta_interval_s)

    async def _embeddings(self, request: web.Request) -> web.Response:
        """Deterministic unit vectors from a hash of each input, as float32 (so the client's
        default base64 encoding and "float" give the same numbers)."""
        body = await request.json()
        inputs = body["input"]
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        dim = body.get("dimensions") or self.embedding_dim
        data = []
        for index, text in enumerate(texts):
            raw = _unit_vector(text if isinstance(text, str) else json.dumps(text), dim)
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(raw).decode()
            else:
                embedding = list(struct.unpack(f"<{dim}f", raw))
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(str(text).split()) for text in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _models(self, request: web.Request) -> web.Response:
        models = [
            {"id": model_id, "object": "model", "created": 0, "owned_by": "stand-in"}
            for model_id in self.model_ids
        ]
        return web.json_response({"object": "list", "data": models})


def _error_response(failure: _Failure) -> web.Response:
    error_type, code = _ERROR_KINDS.get(failure.status, ("server_error", None))
    error = {
        "message": f"Stand-in failure (HTTP {failure.status})",
        "type": error_type,
        "param": None,
        "code": code,
    }
    headers = {} if failure.retry_after is None else {"Retry-After": f"{failure.retry_after:g}"}
    return web.json_response({"error": error}, status=failure.status, headers=headers)


async def _stream(
    request: web.Request,
    events: list[dict[str, Any]],
    pause_at: tuple[int, float] | None,
    interval_s: float,
) -> web.StreamResponse:
    """Send `events` as OpenAI does (SSE `data: {json}` lines, then `data: [DONE]`), pausing
    `pause_at[1]` seconds before event number `pause_at[0]` and `interval_s` between events."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    for index, event in enumerate(events):
        if pause_at is not None and index == pause_at[0]:
            await asyncio.sleep(pause_at[1])
        elif index and interval_s:
            await asyncio.sleep(interval_s)
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _deltas(text: str, words: int = 3) -> list[str]:
    """`text` in pieces of about `words` words, whitespace kept, so the pieces join to `text`."""
    pieces = re.split(r"(?<=\s)(?=\S)", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]


def _unit_vector(text: str, dim: int) -> bytes:
    """A unit vector seeded by the SHA-256 of `text`, packed as little-endian float32."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return struct.pack(f"<{dim}f", *(x / norm for x in vector))


def _word_count(messages: list[dict[str, Any]]) -> int:
    """Words in the messages' text contents: the stand-in's notion of tokens."""
    return sum(len(m["content"].split()) for m in messages if isinstance(m.get("content"), str))


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
