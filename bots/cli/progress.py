"""Progress bars for long commands (ingest stages, eval questions), on stderr and only on a
terminal."""

from __future__ import annotations

from tqdm import tqdm

__all__ = ["Progress"]

_LABELS = {
    "read": "reading files",
    "embed": "embedding chunks",
    "terms": "latent terms",
    "eval": "questions",
}


class Progress:
    """One tqdm bar per stage, fed by the core's `(stage, done, total)` callbacks."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bars: dict[str, tqdm] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if not self._enabled or total == 0:
            return
        bar = self._bars.get(stage)
        if bar is None:
            label = _LABELS.get(stage, stage)
            bar = self._bars[stage] = tqdm(total=total, desc=label, unit="", disable=None)
        bar.update(done - bar.n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()
