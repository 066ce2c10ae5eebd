"""The chat model behind generative answers: any OpenAI-compatible endpoint, streamed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, cast

import openai
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionStreamOptionsParam

from core.errors import ModelError
from core.models import TokenUsage
from core.settings import Settings


class ChatModel(Protocol):
    """Streams a reply to chat messages as text deltas, then what it used when the endpoint
    reports it."""

    def stream(self, messages: list[dict[str, str]]) -> AsyncGenerator[str | TokenUsage, None]: ...

    async def complete(self, messages: list[dict[str, str]]) -> str: ...


class OpenAIChatModel:
    """`openai.AsyncOpenAI` with explicit timeout and retries; 429/5xx retries are the
    client's own (with backoff and Retry-After), never a second loop on top."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        temperature: float,
        stream_usage: bool = True,
    ) -> None:
        """`stream_usage`: ask for token usage at the end of the stream (`stream_options`);
        off for an endpoint that refuses the option."""
        self._client = client
        self._model = model
        self._temperature = temperature
        self._stream_options: ChatCompletionStreamOptionsParam | openai.Omit = (
            {"include_usage": True} if stream_usage else openai.omit
        )

    async def stream(
        self, messages: list[dict[str, str]]
    ) -> AsyncGenerator[str | TokenUsage, None]:
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=cast(list[ChatCompletionMessageParam], messages),
                temperature=self._temperature,
                stream=True,
                stream_options=self._stream_options,
            )
            async with response:
                async for chunk in response:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
                    if chunk.usage is not None:
                        yield TokenUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        except openai.OpenAIError as exc:
            raise ModelError(_describe(exc)) from exc

    async def complete(self, messages: list[dict[str, str]]) -> str:
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=cast(list[ChatCompletionMessageParam], messages),
                temperature=0,
            )
        except openai.OpenAIError as exc:
            raise ModelError(_describe(exc)) from exc
        return (response.choices[0].message.content or "").strip() if response.choices else ""

    async def close(self) -> None:
        await self._client.close()


def _describe(exc: openai.OpenAIError) -> str:
    status = getattr(exc, "status_code", None)
    return f"LLM endpoint failed: {type(exc).__name__}" + (f" (HTTP {status})" if status else "")


def build_chat_model(settings: Settings) -> OpenAIChatModel | None:
    """The configured chat model, or None for extractive answers."""
    if not settings.llm_configured:
        return None
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
    client = openai.AsyncOpenAI(
        base_url=settings.llm_base_url,
        api_key=api_key,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    return OpenAIChatModel(
        client, settings.llm_model, settings.llm_temperature, settings.llm_stream_usage
    )
