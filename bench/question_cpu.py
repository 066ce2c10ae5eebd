"""Where a question's CPU goes: the bot's process and the store's engine, stage by stage.

The store is shared as `helpbot serve` shares it (the Lite file's engine in a child process,
whose CPU time is read from /proc), with the FAQ corpus ingested; the model is the
OpenAI-compatible stand-in, in a child process of its own (`load.py --driver`) so its CPU is
not counted. Each stage runs the same questions one at a time and reports CPU milliseconds per
question:

- embed: the query embedding alone (`Embedder.embed_query`);
- retrieve: what the service does before the model (validation, language, embedding, the
  question's latent terms, the search, its hub discount and the rerank): less `embed`, this
  is the search;
- answer: a whole generative answer (retrieve, prompt, the model's stream, citations).

What the Slack adapter adds on top (bolt, the Web API calls) is `bench/load.py`'s CPU per
question less `answer`. The baseline, in the same run: the same stages with one setting
changed (`--baseline`, by default `rerank=off`: no latent terms), so `ratio` is what that
setting costs (`--baseline hub_penalty=0`: what the hub discount costs).

`--corpus full` ingests the whole Milvus docs instead of the FAQ (from the embedding cache
`bench/full_docs.py` fills; a minute or two once it is warm): Milvus Lite's engine costs more
per question on a bigger collection.

Run: .venv/bin/python bench/question_cpu.py [--questions 60] [--baseline SETTING=VALUE]
    [--corpus faq|full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from corpus_paths import PROJECT_ROOT, milvus_docs

sys.path.insert(0, str(PROJECT_ROOT))

from load import answerable_questions, bot_cpu_s, engine_cpu_s

from core.container import Helpbot
from core.models import Query
from core.settings import Settings

CACHE = Path.home() / ".cache" / "helpbot-bench" / "embeddings.sqlite"


async def measure(
    uri: str, questions: list[str], stage: Callable[[str], Awaitable[Any]]
) -> tuple[float, float]:
    """Bot and engine CPU milliseconds per question for one stage."""
    bot, engine = bot_cpu_s(), engine_cpu_s(uri)
    for question in questions:
        await stage(question)
    count = len(questions)
    return (bot_cpu_s() - bot) / count * 1000, (engine_cpu_s(uri) - engine) / count * 1000


async def stages(
    llm_url: str, overrides: dict[str, str], count: int, corpus: Path
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="helpbot-cpu-"))
    uri = str(workdir / "milvus.db")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        milvus_uri=uri,
        embedding_cache_path=CACHE,
        feedback_path=workdir / "feedback.sqlite",
        llm_base_url=llm_url,
        llm_api_key="bench-key",
        **overrides,
    )
    questions = list(islice(cycle(answerable_questions()), count))
    try:
        async with Helpbot(settings, share_store=True) as bot:
            await bot.ingestor.sync([corpus], bot.ingest_options())
            await bot.service.answer(Query(questions[0]))  # warm-up: opens the store
            rows = {
                "embed": await measure(uri, questions, bot.embedder.embed_query),
                "retrieve": await measure(uri, questions, lambda q: bot.service.retrieve(Query(q))),
                "answer": await measure(uri, questions, lambda q: bot.service.answer(Query(q))),
            }
        return {"rows": rows}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def run(args: argparse.Namespace) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    driver = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("load.py")),
        "--driver",
        "--ttft",
        "0",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert driver.stdin is not None and driver.stdout is not None
    try:
        llm_url = json.loads(await driver.stdout.readline())["llm"]
        corpus = milvus_docs() if args.corpus == "full" else milvus_docs() / "faq"
        measured = await stages(llm_url, {}, args.questions, corpus)
        name, _, value = args.baseline.partition("=")
        baseline = await stages(llm_url, {name: value}, args.questions, corpus)
    finally:
        driver.stdin.close()
        await driver.wait()
    print(
        f"CPU ms per question, {args.questions} questions one at a time, "
        f"{'whole docs' if args.corpus == 'full' else 'FAQ'} index, "
        f"store shared as serve shares it; baseline {args.baseline}\n"
    )
    print(f"| stage | bot | engine | total (defaults) | total, {args.baseline} | ratio |")
    print("|---|---|---|---|---|---|")
    for stage, (bot, engine) in measured["rows"].items():
        base = sum(baseline["rows"][stage])
        print(
            f"| {stage} | {bot:.1f} | {engine:.1f} | {bot + engine:.1f} | {base:.1f} "
            f"| {(bot + engine) / base:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--baseline", default="rerank=off", help="SETTING=VALUE to compare with")
    parser.add_argument("--corpus", choices=("faq", "full"), default="faq")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
