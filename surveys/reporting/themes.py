"""Themes and sentiment of comments, computed on this server with models shipped in wheels.

Long because it holds one concern whole: the codebook, its phrases, the tone overrides and the
models that learn from them, the release of theme counts and the clustering kept for comparison.

- Themes come from a fixed codebook that matches the instrument. A logistic regression learns
  each code from the labelled comments shipped in surveys/reporting/data and from the
  codebook's example phrases, over a comment's `wordllama` embedding (its 256-dimension model
  ships in the wheel and loads with downloads disabled), its words, and its similarity to each
  code's phrases; a comment whose best code is unlikely is "other". If wordllama cannot load,
  TF-IDF word and character n-grams stand in for the embedding.
- Sentiment: a logistic regression over the embedding, VADER's reading (its lexicon ships
  in the wheel), cues of a suggestion and the comment's words, with healthcare overrides so
  that "negative test", "positive cultures", "critical care" or "stable" are not read as
  feelings, and a few staff-survey words ("understaffed", "burnout") are.
- The models learn when an analyser is built (seconds, once per process): nothing fitted is pickled.
- Nothing here opens a socket: tests/test_themes.py blocks them and still gets themes.

Theme counts are released by `theme_counts`, from comments the release path already released.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

OTHER = "other"
POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"
SENTIMENTS = (POSITIVE, NEUTRAL, NEGATIVE)

# The instrument's dimensions, each with a few phrases staff use for it. Plain text, so that an
# administrator could edit them; changing them means `attune comments analyse --all`.
CODEBOOK: dict[str, tuple[str, ...]] = {
    "respect": (
        "I am treated with respect",
        "they talk down to us and belittle us",
        "rude and dismissive behaviour from colleagues",
        "shouted at in front of patients",
        "made to feel small and not valued",
        "courteous, polite and kind to each other",
        "spoken to rudely and sworn at",
        "treated as second class and invisible",
    ),
    "communication and information": (
        "we are not told about changes until it is too late",
        "information is not passed on at handover",
        "emails and updates never reach the night shift",
        "clear communication between departments",
        "nobody explains the plan for the patient",
        "the message got lost between teams",
        "too many emails and no updates from management",
        "the handover sheet and the safety huddle keep us informed",
    ),
    "timeliness": (
        "waiting hours for a doctor to review the patient",
        "delays in getting results and replies",
        "pharmacy and the lab are slow to respond",
        "bleeps not answered for ages",
        "discharges held up all day",
        "quick to call back and answer promptly",
        "takes days or weeks to get a scan report or a referral seen",
        "patients wait hours for a review, slow turnaround",
    ),
    "roles and understanding": (
        "they do not understand what our role involves",
        "unclear who is responsible for what",
        "doctors do not know what physios or pharmacists do",
        "people outside our department do not understand our job",
        "our skills and scope of practice are not recognised",
        "they think occupational therapists, dietitians or physios just hand out equipment",
        "clear job descriptions and who does what",
    ),
    "teamwork and shared goals": (
        "we work together as one team",
        "colleagues help each other out on busy shifts",
        "us and them between nurses and doctors",
        "everyone pulls together for the patient",
        "departments working in silos against each other",
        "great team spirit, everyone mucks in",
        "cliques and divides between day and night staff",
    ),
    "trust and speaking up": (
        "I do not feel safe to speak up or raise a concern",
        "afraid of being blamed if I report an incident",
        "I trust my colleagues and can ask questions",
        "people who raise concerns are punished",
        "a culture of fear and blame",
        "scared to datix or challenge a consultant",
        "whistleblowing and freedom to speak up",
    ),
    "boundaries": (
        "asked to do tasks outside my role",
        "messages from managers on my days off",
        "expected to stay late without breaks",
        "pressure to come in on annual leave",
        "no respect for my time off and work life balance",
        "phoned and messaged on rest days and annual leave",
        "working through lunch with no breaks and never leaving on time",
    ),
    "feedback heard and acted on": (
        "we raise the same problems and nothing changes",
        "our suggestions disappear and nobody tells us what happened",
        "management listens and follows up on feedback",
        "what is the point of this survey if nothing is done",
        "they acted on what we said last year",
        "the staff survey and forums are a tick box exercise",
        "raised it three times and never heard back",
    ),
    "workload and staffing": (
        "we are short staffed every shift",
        "not enough nurses for the number of patients",
        "too much work and exhausted staff",
        "relying on agency and bank staff",
        "burnout and people leaving because of the workload",
        "rota gaps and vacancies never filled",
        "one nurse to twelve patients on nights",
        "staff leaving and sickness because everyone is overworked",
    ),
    "patients and families": (
        "families are kept informed and involved",
        "relatives complain they cannot get updates",
        "patients wait too long on trolleys in the corridor",
        "patient care and dignity suffer",
        "we put patients first",
        "visiting and talking with families",
        "relatives ring because nobody updates them",
        "patients left undignified, call bells unanswered, dementia patients distressed",
    ),
}
THEMES = (*CODEBOOK, OTHER)
# Below this cosine similarity to every code's phrases a comment is "other" (the codebook
# alone). Chosen on the development set (surveys/reporting/data/comments_training.csv).
OTHER_THRESHOLD = 0.20


class Embedder(Protocol):
    """Texts to unit vectors, rows comparable by dot product."""

    name: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class WordLlamaEmbedder:
    """wordllama's shipped model: token embeddings averaged, no network and no GPU."""

    name = "wordllama"

    def __init__(self) -> None:
        import wordllama
        from wordllama import WordLlama

        # wordllama 0.4 looks for its shipped tokenizer under "tokenizer/" while the wheel puts
        # it under "tokenizers/"; pointing the cache at the package finds both files.
        self._model = WordLlama.load(
            disable_download=True, cache_dir=Path(wordllama.__file__).parent
        )

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        return np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32)


class TfidfEmbedder:
    """The fallback: TF-IDF of words and character n-grams, fitted on the codebook and the
    texts themselves (so it needs nothing but scikit-learn)."""

    name = "tfidf"

    def __init__(self, vocabulary_texts: Iterable[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        self._vectoriser = FeatureUnion(
            [
                ("words", TfidfVectorizer(stop_words="english", sublinear_tf=True)),
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5))),
            ]
        )
        self._vectoriser.fit(list(vocabulary_texts))

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        matrix = self._vectoriser.transform(list(texts)).toarray().astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return np.asarray(matrix / np.where(norms == 0, 1, norms), dtype=np.float32)


@cache
def default_embedder() -> Embedder:
    """wordllama when its shipped model loads, else TF-IDF over the codebook's phrases and the
    shipped labelled comments."""
    try:
        return WordLlamaEmbedder()
    except Exception:  # noqa: BLE001 - any failure to load means the fallback
        return TfidfEmbedder(
            [phrase for phrases in CODEBOOK.values() for phrase in phrases]
            + [example.comment for example in read_examples()]
        )


@dataclass(frozen=True)
class Codebook:
    """Codes and their example phrases, embedded once."""

    codes: tuple[str, ...]
    phrase_codes: npt.NDArray[np.int_]
    phrase_vectors: npt.NDArray[np.float32]
    threshold: float

    @classmethod
    def build(
        cls,
        embedder: Embedder,
        phrases: Mapping[str, Sequence[str]] = CODEBOOK,
        threshold: float = OTHER_THRESHOLD,
    ) -> Codebook:
        codes = tuple(phrases)
        flat = [(index, phrase) for index, code in enumerate(codes) for phrase in phrases[code]]
        return cls(
            codes,
            np.array([index for index, _ in flat]),
            embedder.embed([phrase for _, phrase in flat]),
            threshold,
        )

    def scores(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Each text's score per code: the mean of its two best phrase similarities, so that
        one lucky phrase counts less than a code that fits from two sides."""
        similarity = vectors @ self.phrase_vectors.T
        scores = np.zeros((len(vectors), len(self.codes)), dtype=np.float32)
        for index in range(len(self.codes)):
            of_code = np.sort(similarity[:, self.phrase_codes == index], axis=1)[:, ::-1]
            scores[:, index] = of_code[:, :2].mean(axis=1)
        return scores

    def assign(self, vectors: npt.NDArray[np.float32]) -> list[str]:
        if len(vectors) == 0:
            return []
        scores = self.scores(vectors)
        best = scores.argmax(axis=1)
        return [
            self.codes[index] if scores[row, index] >= self.threshold else OTHER
            for row, index in enumerate(best)
        ]


# --- Sentiment ---------------------------------------------------------------------------------

# Clinical phrases whose words VADER would read as feelings. Replaced by a neutral token before
# scoring; "negative test" is good news and "positive cultures" bad, and neither is an opinion.
_CLINICAL_PHRASES = re.compile(
    r"\b(?:(?:negative|positive)\s+(?:tests?|results?|swabs?|cultures?|screens?|for\s+\w+)"
    r"|(?:tested|came\s+back|swabbed)\s+(?:negative|positive)"
    r"|critical(?:ly)?\s+(?:care|ill|illness|incidents?|results?|values?)"
    r"|intensive\s+care|cardiac\s+arrests?|arrest\s+calls?|crash\s+calls?"
    r"|(?:clinically|haemodynamically|hemodynamically)?\s*stable|emergency\s+(?:department|"
    r"admissions?|surgery|theatre|calls?)|end\s+of\s+life(?:\s+care)?|palliative\s+care"
    r"|pain\s+(?:relief|scores?|management|team)|patient\s+care|care\s+plans?"
    r"|(?:social|primary|community|acute|critical|nursing|medical)\s+care|care\s+homes?)\b",
    re.IGNORECASE,
)
# Words a staff comment uses clinically more often than as a feeling: neutral here.
_NEUTRAL_WORDS = (
    "care", "critical", "positive", "negative", "stable", "emergency", "pain", "death", "died",
    "dying", "sick", "ill", "trauma", "arrest", "cancer", "fracture", "injury", "urgent",
    "bleed", "bleeding", "infection", "disease", "dead", "kill", "killed", "risk", "pressure",
)  # fmt: skip
# Staff-survey words VADER does not know, on its -4..4 scale.
_EXTRA_WORDS = {
    "understaffed": -2.5, "short-staffed": -2.5, "overstretched": -2.2, "stretched": -1.5,
    "burnout": -2.8, "burnt": -1.8, "burned": -1.5, "exhausting": -2.2, "unsafe": -2.6,
    "ignored": -2.0, "dismissed": -2.0, "dismissive": -2.2, "belittled": -2.6, "bullied": -3.0,
    "bullying": -3.0, "undermined": -2.2, "sidelined": -1.8, "overworked": -2.4,
    "demoralised": -2.5, "demoralized": -2.5, "shambles": -2.5, "chaotic": -2.0,
    "supportive": 2.2, "approachable": 1.8, "responsive": 1.5, "listens": 1.2,
    "appreciated": 2.0, "valued": 2.0, "brilliant": 2.8, "fab": 2.2, "helpful": 1.9,
    "delays": -1.4, "delayed": -1.4, "late": -0.8, "vacancies": -1.0, "gaps": -0.8,
}  # fmt: skip
# Complaints staff write without any feeling word: "nothing changes", "nobody listens".
_COMPLAINT_PHRASES = re.compile(
    r"\b(?:nothing\s+(?:ever\s+)?(?:changes?|happens|gets\s+done|is\s+done)"
    r"|no\s*(?:one|body)\s+(?:ever\s+)?(?:listens?|tells?|knows?|cares?|answers?|explains?)"
    r"|nobody\s+(?:ever\s+)?(?:listens?|tells?|knows?|cares?|answers?|explains?)"
    r"|never\s+(?:hear|listen|told|answer|get|reply|replies|respond|responds|followed|fixed)"
    r"|not\s+enough|short\s+staffed|too\s+(?:late|slow|long|much)|waiting\s+(?:hours|ages)"
    r"|(?:hours|ages)\s+(?:to|for|waiting)|falls?\s+on\s+deaf\s+ears|left\s+to\s+(?:cope|it)"
    r"|us\s+and\s+them|what\s+is\s+the\s+point|same\s+(?:problems|issues)|no\s+breaks?"
    r"|without\s+(?:a\s+)?breaks?|no\s+(?:feedback|response|reply|support|one\s+to\s+ask))\b",
    re.IGNORECASE,
)
# VADER's compound score beyond these is positive or negative; between them, neutral.
POSITIVE_FROM = 0.25
NEGATIVE_TO = -0.05


class SentimentScorer:
    """VADER with the healthcare overrides above."""

    def __init__(self, *, overrides: bool = True) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()
        self._overrides = overrides
        if overrides:
            for word in _NEUTRAL_WORDS:
                self._vader.lexicon.pop(word, None)
            self._vader.lexicon.update(_EXTRA_WORDS)

    def compound(self, text: str) -> float:
        if not self._overrides:
            return float(self._vader.polarity_scores(text)["compound"])
        text = _CLINICAL_PHRASES.sub(" clinical ", text)
        complaints = len(_COMPLAINT_PHRASES.findall(text))
        compound = float(self._vader.polarity_scores(text)["compound"])
        # Each complaint phrase counts like a mildly negative sentence.
        return max(-1.0, compound - 0.35 * complaints)

    def features(self, text: str) -> tuple[float, float, float, float]:
        """The compound score (with the overrides) and VADER's shares of positive, negative
        and neutral words: what the tone model learns from besides the embedding and words.
        One VADER reading per text (it is most of the tone model's time)."""
        text = _CLINICAL_PHRASES.sub(" clinical ", text)
        scores = self._vader.polarity_scores(text)
        compound = max(-1.0, scores["compound"] - 0.35 * len(_COMPLAINT_PHRASES.findall(text)))
        return (compound, scores["pos"], scores["neg"], scores["neu"])

    def label(self, text: str, *, leaning: str | None = None) -> str:
        """`leaning` decides a text whose words carry no feeling at all (VADER's compound is
        0): staff write most complaints plainly ("nobody told us")."""
        compound = self.compound(text)
        if leaning is not None and compound == 0.0:
            return leaning
        if self._overrides:
            low, high = NEGATIVE_TO, POSITIVE_FROM
        else:
            low, high = -0.05, 0.05  # VADER's own published cut-offs
        if compound >= high:
            return POSITIVE
        if compound <= low:
            return NEGATIVE
        return NEUTRAL


# How staff put things, for texts with no feeling word: the nearest of these, by embedding.
# The earlier tone rules, kept for comparison (theme_quality); the tone model replaced them.
LEANINGS: dict[str, tuple[str, ...]] = {
    NEGATIVE: (
        "nobody told us and it happened without warning",
        "we are expected to do it without training",
        "asked again and again and nothing was done",
        "they do not understand and treat us like a service",
        "messages on my days off and no breaks",
        "staff are leaving and we cannot cope",
        "patients wait for hours",
    ),
    NEUTRAL: (
        "it would help if we had a clear policy",
        "could we have more training sessions",
        "please share the results",
        "no comment, nothing to add",
        "it depends on who is on shift",
    ),
    POSITIVE: (
        "thank you, it has got much better",
        "great team and really supportive",
        "I feel valued and listened to",
    ),
}


@dataclass(frozen=True)
class Analysis:
    theme: str
    sentiment: str


# Labelled staff comments shipped with the package: the models below learn from them each time
# an analyser is built (a few hundred rows: seconds, once per process), so no fitted model is
# pickled and nothing depends on the scikit-learn version that fitted it.
TRAINING = Path(__file__).parent / "data" / "comments_training.csv"
# A comment whose most likely theme is less likely than this is "other". In 5-fold
# cross-validation on the development set a cut-off of 0 to 0.3 changes macro-F1 by under 0.01;
# 0.20 keeps the codebook's promise that a comment fitting no code well is "other".
OTHER_PROBABILITY = 0.20


@dataclass(frozen=True)
class Example:
    """A comment labelled by hand with its theme and tone."""

    comment: str
    theme: str
    sentiment: str


def read_examples(path: Path = TRAINING) -> list[Example]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            Example(row["comment"], row["theme"], row["sentiment"]) for row in csv.DictReader(file)
        ]


class ThemeModel:
    """A logistic regression over a comment's embedding, its words (TF-IDF of words and word
    pairs) and its codebook scores, learnt from labelled comments and the codebook's phrases
    (each phrase an example of its code, so an administrator's phrases teach it too)."""

    def __init__(
        self,
        embedder: Embedder,
        codebook: Codebook,
        phrases: Mapping[str, Sequence[str]],
        examples: Sequence[tuple[str, str]],
        *,
        other_below: float = OTHER_PROBABILITY,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._embedder, self._codebook, self._other_below = embedder, codebook, other_below
        texts = [text for text, _ in examples] + [p for code in phrases for p in phrases[code]]
        labels = [theme for _, theme in examples] + [c for c in phrases for _ in phrases[c]]
        self._words = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), stop_words="english")
        self._words.fit(texts)
        self._model = LogisticRegression(C=10, max_iter=3000, class_weight="balanced")
        self._model.fit(self._features(texts, embedder.embed(texts)), labels)

    def _features(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]):  # noqa: ANN202
        from scipy import sparse

        return sparse.hstack(
            [
                sparse.csr_matrix(vectors),
                self._words.transform(list(texts)),
                # The codebook's own similarity, at the embedding's weight: weighted up (3x)
                # it scored lower in 5-fold cross-validation on the development set (README).
                sparse.csr_matrix(self._codebook.scores(vectors)),
            ]
        ).tocsr()

    def assign(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> list[str]:
        if not texts:
            return []
        probabilities = self._model.predict_proba(self._features(texts, vectors))
        best = probabilities.argmax(axis=1)
        return [
            str(self._model.classes_[index]) if probabilities[row, index] >= self._other_below
            else OTHER
            for row, index in enumerate(best)
        ]  # fmt: skip


# How staff write a suggestion or a plain remark rather than a feeling ("it would help if",
# "could we"): the commonest shape of a neutral comment, which VADER and the embedding miss.
_SUGGESTION = re.compile(
    r"\b(?:would|could|should|might|maybe|perhaps|suggest\w*|please|needs?|can\s+we|could\s+we"
    r"|it\s+would)\b",
    re.IGNORECASE,
)


def tone_cues(text: str) -> tuple[float, float, float, float]:
    """Suggestion words, a question, a very short answer ("n/a") and the length."""
    words = len(text.split())
    return (
        float(len(_SUGGESTION.findall(text))),
        float("?" in text),
        float(words <= 4),
        float(np.log1p(words) / 4),
    )


class ToneModel:
    """A logistic regression over a comment's embedding (weighted down), VADER's reading of it
    (compound with the healthcare overrides, and its shares of positive, negative and neutral
    words), cues of a suggestion, and its words and character n-grams (TF-IDF), learnt from
    labelled comments. Chosen by 5-fold cross-validation on the development set (README)."""

    def __init__(
        self, embedder: Embedder, scorer: SentimentScorer, examples: Sequence[tuple[str, str]]
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._scorer = scorer
        texts = [text for text, _ in examples]
        # Stop words kept: "would", "could", "not" and "no" carry tone.
        self._words = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
        self._characters = TfidfVectorizer(
            sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2
        )
        self._words.fit(texts)
        self._characters.fit(texts)
        self._model = LogisticRegression(C=3, max_iter=5000, class_weight="balanced")
        self._model.fit(
            self._features(texts, embedder.embed(texts)), [tone for _, tone in examples]
        )

    def _features(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]):  # noqa: ANN202
        from scipy import sparse

        return sparse.hstack(
            [
                # Half weight: in cross-validation the words told tone better than the meaning.
                sparse.csr_matrix(0.5 * vectors),
                sparse.csr_matrix(np.array([self._scorer.features(t) for t in texts])),
                sparse.csr_matrix(np.array([tone_cues(t) for t in texts])),
                self._words.transform(list(texts)),
                self._characters.transform(list(texts)),
            ]
        ).tocsr()

    def label(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> list[str]:
        if not texts:
            return []
        return [str(tone) for tone in self._model.predict(self._features(texts, vectors))]


class Analyser:
    """Codebook themes and sentiment for batches of comments; build once, reuse.

    `phrases` is the codebook (the shipped one plus an administrator's phrases); `examples`
    the labelled comments the models learn from (the shipped set by default)."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        phrases: Mapping[str, Sequence[str]] = CODEBOOK,
        examples: Sequence[Example] | None = None,
    ) -> None:
        examples = read_examples() if examples is None else examples
        self.embedder = embedder or default_embedder()
        self.codebook = Codebook.build(self.embedder, phrases)
        self.sentiment = SentimentScorer()
        self.themes = ThemeModel(
            self.embedder, self.codebook, phrases, [(e.comment, e.theme) for e in examples]
        )
        self.tones = ToneModel(
            self.embedder, self.sentiment, [(e.comment, e.sentiment) for e in examples]
        )

    def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        texts = list(texts)
        vectors = self.embedder.embed(texts)
        themes = self.themes.assign(texts, vectors)
        tones = self.tones.label(texts, vectors)
        return [Analysis(theme, tone) for theme, tone in zip(themes, tones, strict=True)]


@cache
def default_analyser() -> Analyser:
    return Analyser()


# --- Release -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeCount:
    """One theme of a released selection: how many comments, and how many of them negative."""

    theme: str
    count: int
    negative: int

    @property
    def share_negative(self) -> float:
        return self.negative / self.count if self.count else 0.0


def theme_counts(analyses: Sequence[Analysis], minimum: int) -> tuple[ThemeCount, ...]:
    """Themes of comments that the release path already released, largest first.

    A theme is counted only when it holds at least `minimum` comments; smaller ones merge into
    "other", which is listed last and only when it too reaches the minimum. With fewer than
    `minimum` comments in all there are no themes at all.
    """
    if len(analyses) < minimum:
        return ()
    sizes = Counter(analysis.theme for analysis in analyses)
    shown = {theme for theme, size in sizes.items() if size >= minimum and theme != OTHER}
    counts: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    for analysis in analyses:
        theme = analysis.theme if analysis.theme in shown else OTHER
        counts[theme] += 1
        negatives[theme] += analysis.sentiment == NEGATIVE
    released = [
        ThemeCount(theme, counts[theme], negatives[theme])
        for theme in sorted(shown, key=lambda theme: (-counts[theme], theme))
    ]
    if counts[OTHER] >= minimum:
        released.append(ThemeCount(OTHER, counts[OTHER], negatives[OTHER]))
    return tuple(released)


def shown_theme(theme: str, counts: Iterable[ThemeCount]) -> str:
    """The theme a comment shows: its own when that theme is counted, else "other"."""
    return theme if theme in {count.theme for count in counts} else OTHER


# --- Clustered themes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """A group of similar comments, named by words that many of them share."""

    label: str
    members: tuple[int, ...]  # positions in the texts given


_WORD = re.compile(r"[a-z][a-z'-]{2,}")


def cluster_themes(
    texts: Sequence[str],
    minimum: int,
    *,
    embedder: Embedder | None = None,
    largest_k: int = 12,
    seed: int = 0,
) -> tuple[Cluster, ...]:
    """Group `texts` into k themes, k chosen by silhouette between 2 and `largest_k` (and no
    more than one theme per `minimum` comments). Each theme is named by its three most
    distinctive words (c-TF-IDF) among words that at least `minimum` of its comments use, so a
    name or a rare word never becomes a label; a theme with no such word is "other"."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from sklearn.metrics import silhouette_score

    most = min(largest_k, len(texts) // max(minimum, 1))
    if most < 2:
        return ()
    vectors = (embedder or default_embedder()).embed(list(texts))
    best: tuple[float, npt.NDArray[np.int_]] | None = None
    for k in range(2, most + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(vectors)
        score = float(silhouette_score(vectors, labels, metric="cosine"))
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    labels = best[1]
    ignored = _STOP_WORDS | ENGLISH_STOP_WORDS
    words = [set(_WORD.findall(text.lower())) - ignored for text in texts]
    documents = Counter(word for found in words for word in found)
    clusters = []
    for k in sorted(set(labels.tolist())):
        members = tuple(int(index) for index in np.flatnonzero(labels == k))
        inside = Counter(word for index in members for word in words[index])
        # c-TF-IDF: how much more often the cluster uses a word than the whole set does.
        distinctive = sorted(
            (word for word, count in inside.items() if count >= minimum),
            key=lambda word: (
                -inside[word] / len(members) * np.log(len(texts) / documents[word]),
                word,
            ),
        )
        clusters.append(Cluster(", ".join(distinctive[:3]) or OTHER, members))
    return tuple(clusters)


# Words that name nothing (scikit-learn's English list is loaded with the clustering), and
# the placeholders that replaced personal details.
_STOP_WORDS = frozenset(
    ("don't", "dont", "isn't", "aren't", "wasn't", "doesn't", "didn't", "can't", "cant", "i'm",
     "we're", "it's", "really", "just", "like", "name", "email", "phone")
)  # fmt: skip
