"""How well the comment analysis agrees with hand labels: accuracy and macro-F1 of the
codebook's themes and of sentiment, beside the fallbacks (TF-IDF, VADER alone)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from surveys.reporting.themes import (
    CODEBOOK,
    Analyser,
    Codebook,
    Embedder,
    SentimentScorer,
    TfidfEmbedder,
    default_embedder,
)


@dataclass(frozen=True)
class Labelled:
    comment: str
    theme: str
    sentiment: str


@dataclass(frozen=True)
class Agreement:
    accuracy: float
    macro_f1: float


def read_labelled(path: Path) -> list[Labelled]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            Labelled(row["comment"], row["theme"], row["sentiment"]) for row in csv.DictReader(file)
        ]


def agreement(truth: list[str], predicted: list[str]) -> Agreement:
    from sklearn.metrics import accuracy_score, f1_score

    return Agreement(
        float(accuracy_score(truth, predicted)),
        float(f1_score(truth, predicted, average="macro", zero_division=0)),
    )


def codebook_agreement(labelled: list[Labelled], embedder: Embedder) -> Agreement:
    codebook = Codebook.build(embedder)
    predicted = codebook.assign(embedder.embed([row.comment for row in labelled]))
    return agreement([row.theme for row in labelled], predicted)


def sentiment_agreement(labelled: list[Labelled], *, overrides: bool = True) -> Agreement:
    scorer = SentimentScorer(overrides=overrides)
    return agreement(
        [row.sentiment for row in labelled], [scorer.label(row.comment) for row in labelled]
    )


def analyser_sentiment_agreement(labelled: list[Labelled], embedder: Embedder) -> Agreement:
    analyses = Analyser(embedder).analyse([row.comment for row in labelled])
    return agreement([row.sentiment for row in labelled], [a.sentiment for a in analyses])


def report(path: Path) -> dict[str, Agreement]:
    labelled = read_labelled(path)
    vocabulary = [phrase for phrases in CODEBOOK.values() for phrase in phrases]
    return {
        f"codebook ({default_embedder().name})": codebook_agreement(labelled, default_embedder()),
        "codebook (tfidf)": codebook_agreement(
            labelled, TfidfEmbedder(vocabulary + [row.comment for row in labelled])
        ),
        "sentiment (VADER + overrides + embedding leaning)": analyser_sentiment_agreement(
            labelled, default_embedder()
        ),
        "sentiment (VADER + healthcare overrides)": sentiment_agreement(labelled),
        "sentiment (VADER alone)": sentiment_agreement(labelled, overrides=False),
    }


def cluster_agreement(labelled: list[Labelled], minimum: int = 8) -> float:
    """Adjusted Rand index of the clustered themes against the hand-labelled codebook themes."""
    from sklearn.metrics import adjusted_rand_score

    from surveys.reporting.themes import cluster_themes

    clusters = cluster_themes([row.comment for row in labelled], minimum)
    assigned = [0] * len(labelled)
    for number, cluster in enumerate(clusters):
        for index in cluster.members:
            assigned[index] = number
    return float(adjusted_rand_score([row.theme for row in labelled], assigned))
