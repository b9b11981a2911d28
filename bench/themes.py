"""Time the comment analysis at system scale: themes and tone of 140,000 comments, in memory.

    python -m bench.themes

Not yet part of `make bench` (bench/__main__.py): it prints its figures only.
"""

from __future__ import annotations

import random
import time

from surveys.reporting.theme_quality import read_labelled
from surveys.reporting.themes import TRAINING, Analyser

LABELLED = TRAINING
SYSTEM_COMMENTS = 140_000
BATCH = 2_000  # as `attune comments analyse` reads them


def main() -> None:
    pool = [row.comment for row in read_labelled(LABELLED)]
    chooser = random.Random(16)
    # Two labelled comments joined, so that texts vary as a system's would.
    texts = [f"{chooser.choice(pool)} {chooser.choice(pool)}" for _ in range(SYSTEM_COMMENTS)]
    started = time.perf_counter()
    analyser = Analyser()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    for first in range(0, len(texts), BATCH):
        analyser.analyse(texts[first : first + BATCH])
    took = time.perf_counter() - started
    print(f"model load: {loaded:.2f} s ({analyser.embedder.name})")
    print(
        f"{SYSTEM_COMMENTS:,} comments: {took:.1f} s, "
        f"{SYSTEM_COMMENTS / took:,.0f} comments per second"
    )


if __name__ == "__main__":
    main()
