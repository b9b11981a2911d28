"""Time the comment analysis at system scale: themes and tone of 140,000 comments, in memory,
in batches as `attune comments analyse` reads them, after building the analyser (loading
wordllama and learning the models). Part of `make bench` (bench/__main__.py); alone:

    python -m bench.themes [--no-readme]
"""

from __future__ import annotations

import argparse
import random
import re
import time

from bench.readme import README, machine, write_section
from surveys.reporting.themes import TRAINING, Analyser, read_examples

SYSTEM_COMMENTS = 140_000
BATCH = 2_000  # as `attune comments analyse` reads them
MARKER = re.compile(r"(<!-- bench:themes -->\n).*?(<!-- /bench:themes -->)", re.DOTALL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    pool = [example.comment for example in read_examples(TRAINING)]
    chooser = random.Random(16)
    # Two labelled comments joined, so that texts vary as a system's would.
    texts = [f"{chooser.choice(pool)} {chooser.choice(pool)}" for _ in range(SYSTEM_COMMENTS)]
    started = time.perf_counter()
    analyser = Analyser()
    built = time.perf_counter() - started
    started = time.perf_counter()
    for first in range(0, len(texts), BATCH):
        analyser.analyse(texts[first : first + BATCH])
    took = time.perf_counter() - started
    table = (
        f"{machine()}\n\n| Comment analysis ({analyser.embedder.name}) | Time |\n| --- | --- |\n"
        f"| Build the analyser (load the model, learn themes and tone) | {built:.1f} s |\n"
        f"| Themes and tone of {SYSTEM_COMMENTS:,} comments, {BATCH:,} a batch | {took:.1f} s "
        f"({SYSTEM_COMMENTS / took:,.0f} a second) |\n"
    )
    print(table)
    if not args.no_readme:
        write_section(README, MARKER, "comment analysis", table)


if __name__ == "__main__":
    main()
