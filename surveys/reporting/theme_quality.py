"""How well the comment analysis agrees with hand labels: accuracy and macro-F1 of the themes
and of the tone, for the trained models (what Attune uses) beside the codebook alone, the
TF-IDF fallback, the earlier rules and VADER alone; on a held-out set and in cross-validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from surveys.reporting.themes import (
    CODEBOOK,
    LEANINGS,
    TRAINING,
    Analyser,
    Codebook,
    Embedder,
    Example,
    SentimentScorer,
    TfidfEmbedder,
    default_embedder,
    read_examples,
)

# The held-out sets, never used to choose anything. The first was written after the first 330
# development comments; the second before the tone model was reworked (README).
HELDOUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "comments_heldout.csv"
HELDOUT2 = HELDOUT.with_name("comments_heldout2.csv")
Labelled = Example


@dataclass(frozen=True)
class Agreement:
    accuracy: float
    macro_f1: float


def read_labelled(path: Path) -> list[Example]:
    return read_examples(path)


def agreement(truth: Sequence[str], predicted: Sequence[str]) -> Agreement:
    from sklearn.metrics import accuracy_score, f1_score

    return Agreement(
        float(accuracy_score(truth, predicted)),
        float(f1_score(truth, predicted, average="macro", zero_division=0)),
    )


def fallback_embedder(training: Sequence[Example]) -> TfidfEmbedder:
    """The TF-IDF embedder as `default_embedder` builds it when wordllama cannot load."""
    vocabulary = [phrase for phrases in CODEBOOK.values() for phrase in phrases]
    return TfidfEmbedder(vocabulary + [row.comment for row in training])


def codebook_agreement(labelled: Sequence[Example], embedder: Embedder) -> Agreement:
    """The codebook alone: nearest code by phrase similarity, "other" below the threshold."""
    codebook = Codebook.build(embedder)
    predicted = codebook.assign(embedder.embed([row.comment for row in labelled]))
    return agreement([row.theme for row in labelled], predicted)


def sentiment_agreement(labelled: Sequence[Example], *, overrides: bool = True) -> Agreement:
    scorer = SentimentScorer(overrides=overrides)
    return agreement(
        [row.sentiment for row in labelled], [scorer.label(row.comment) for row in labelled]
    )


def rules_sentiment_agreement(labelled: Sequence[Example], embedder: Embedder) -> Agreement:
    """The earlier rules: VADER with the overrides, and for a text without any feeling word
    the tone of the nearest example phrase (LEANINGS)."""
    scorer = SentimentScorer()
    texts = [row.comment for row in labelled]
    leanings = Codebook.build(embedder, LEANINGS, threshold=-1.0).assign(embedder.embed(texts))
    predicted = [scorer.label(t, leaning=lean) for t, lean in zip(texts, leanings, strict=True)]
    return agreement([row.sentiment for row in labelled], predicted)


def model_agreement(
    training: Sequence[Example], labelled: Sequence[Example], embedder: Embedder
) -> tuple[Agreement, Agreement]:
    """Themes and tone of the trained models, learnt from `training`, on `labelled`."""
    analyses = Analyser(embedder, examples=training).analyse([row.comment for row in labelled])
    return (
        agreement([row.theme for row in labelled], [a.theme for a in analyses]),
        agreement([row.sentiment for row in labelled], [a.sentiment for a in analyses]),
    )


def cross_validated(
    labelled: Sequence[Example], embedder: Embedder | None = None, folds: int = 5
) -> tuple[Agreement, Agreement]:
    """Themes and tone of the trained models in `folds`-fold cross-validation: each comment
    labelled by models that never saw it. `embedder=None` means the TF-IDF fallback, fitted
    on each fold's training comments."""
    from sklearn.model_selection import StratifiedKFold

    themes: dict[int, str] = {}
    tones: dict[int, str] = {}
    split = StratifiedKFold(folds, shuffle=True, random_state=0)
    for train, test in split.split(labelled, [row.theme for row in labelled]):
        training = [labelled[i] for i in train]
        analyser = Analyser(embedder or fallback_embedder(training), examples=training)
        for index, analysis in zip(
            test, analyser.analyse([labelled[i].comment for i in test]), strict=True
        ):
            themes[int(index)], tones[int(index)] = analysis.theme, analysis.sentiment
    order = range(len(labelled))
    return (
        agreement([row.theme for row in labelled], [themes[i] for i in order]),
        agreement([row.sentiment for row in labelled], [tones[i] for i in order]),
    )


def report(
    training_path: Path = TRAINING, heldout_paths: Sequence[Path] = (HELDOUT, HELDOUT2)
) -> dict[str, tuple[Agreement, ...]]:
    """Each method's agreement on the development set (the trained models in 5-fold
    cross-validation) and then on each held-out set (the trained models learnt from the whole
    development set)."""
    development = read_labelled(training_path)
    heldouts = [read_labelled(path) for path in heldout_paths]
    embedder = default_embedder()
    fallback = fallback_embedder(development)
    theme_cv, tone_cv = cross_validated(development, embedder)
    fallback_theme_cv, fallback_tone_cv = cross_validated(development)
    held = [model_agreement(development, heldout, embedder) for heldout in heldouts]
    fallback_held = [model_agreement(development, heldout, fallback) for heldout in heldouts]
    return {
        f"themes: trained model ({embedder.name})": (theme_cv, *(t for t, _ in held)),
        f"themes: codebook alone ({embedder.name})": tuple(
            codebook_agreement(labelled, embedder) for labelled in (development, *heldouts)
        ),
        "themes: trained model (TF-IDF fallback)": (
            fallback_theme_cv,
            *(t for t, _ in fallback_held),
        ),
        "themes: codebook alone (TF-IDF)": tuple(
            codebook_agreement(labelled, fallback) for labelled in (development, *heldouts)
        ),
        f"tone: trained model ({embedder.name} + VADER)": (tone_cv, *(t for _, t in held)),
        "tone: trained model (TF-IDF fallback + VADER)": (
            fallback_tone_cv,
            *(t for _, t in fallback_held),
        ),
        "tone: earlier rules (VADER + overrides + leaning)": tuple(
            rules_sentiment_agreement(labelled, embedder) for labelled in (development, *heldouts)
        ),
        "tone: VADER + healthcare overrides": tuple(
            sentiment_agreement(labelled) for labelled in (development, *heldouts)
        ),
        "tone: VADER alone": tuple(
            sentiment_agreement(labelled, overrides=False) for labelled in (development, *heldouts)
        ),
    }


def cluster_agreement(labelled: list[Example], minimum: int = 8) -> float:
    """Adjusted Rand index of the clustered themes against the hand-labelled codebook themes."""
    from sklearn.metrics import adjusted_rand_score

    from surveys.reporting.themes import cluster_themes

    clusters = cluster_themes([row.comment for row in labelled], minimum)
    assigned = [0] * len(labelled)
    for number, cluster in enumerate(clusters):
        for index in cluster.members:
            assigned[index] = number
    return float(adjusted_rand_score([row.theme for row in labelled], assigned))
