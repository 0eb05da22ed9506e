"""The word classifier: a transcript of the first seconds in, the class its wording points to out.

A recognizer's transcript of telephone audio is often garbled ("leave my message", "a thrilling service
from Google"), so exact key phrases miss most prompts. This model reads the character n-grams (2–5
characters) of the transcript written out as one line, so they run across word boundaries ("r call",
"e a me"), weighted by TF-IDF and L2-normalised, into a multinomial logistic regression over the speech
classes. Pieces of words and of word pairs survive the garbling ("scree", "press o", "messa"), so the
wording is still recognised. (Models stored with ``"analyzer": "word"`` read n-grams inside each word
only.)

Trained by ``detection.lab.train_words`` on transcripts of the corpus's train split; stored as JSON (the
n-gram vocabulary, IDF weights, coefficients). Only numpy runs here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import MODELS_DIR

DEFAULT_WORD_MODEL = MODELS_DIR / "words.json"
NGRAM_RANGE = (2, 5)  # character n-gram lengths
ANALYZERS = ("text", "word")  # n-grams across the line of words, or inside each space-padded word
QUOTE_WORDS = 3  # words quoted around the most telling word of a decision

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalise(word: str) -> str:
    """Lower case, curly apostrophes straightened, punctuation dropped."""
    return _NOT_WORD.sub("", word.lower().replace("’", "'")).strip()


def word_ngrams(word: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[str]:
    """The character n-grams of one normalised word, padded with a space on each side."""
    padded = f" {word} "
    low, high = ngram_range
    grams = []
    for n in range(low, high + 1):
        grams.extend(padded[i: i + n] for i in range(len(padded) - n + 1))
    return grams


def text_ngrams(words: Sequence[str], ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[list[str]]:
    """The character n-grams of the line ``" w1 w2 … wn "``, per word: an n-gram belongs to the word its
    first character is in (a word's leading space included), so every n-gram has one owner."""
    if not words:
        return []
    line = " " + " ".join(words) + " "
    owner = [k for k, word in enumerate(words) for _ in range(len(word) + 1)] + [len(words) - 1]
    grams: list[list[str]] = [[] for _ in words]
    low, high = ngram_range
    for n in range(low, high + 1):
        for i in range(len(line) - n + 1):
            grams[owner[i]].append(line[i: i + n])
    return grams


def owned_ngrams(words: Sequence[str], ngram_range: tuple[int, int] = NGRAM_RANGE,
                 analyzer: str = "text") -> list[list[str]]:
    """Per word, the n-grams it owns under ``analyzer`` (across the line, or inside the word)."""
    if analyzer == "word":
        return [word_ngrams(word, ngram_range) for word in words]
    return text_ngrams(words, ngram_range)


def tokens(text_or_words: str | Sequence[str]) -> list[str]:
    """Normalised words of a text (or of a word list), empty ones dropped."""
    raw = text_or_words.split() if isinstance(text_or_words, str) else list(text_or_words)
    return [part for item in raw for part in normalise(item).split()]


class Vectorizer:
    """TF-IDF over character n-grams of a fixed vocabulary (sublinear term frequency, L2 norm)."""

    def __init__(self, vocabulary: dict[str, int], idf: Sequence[float],
                 ngram_range: tuple[int, int] = NGRAM_RANGE, analyzer: str = "text") -> None:
        if analyzer not in ANALYZERS:
            raise ValueError(f"unknown analyzer {analyzer!r}")
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram_range = tuple(ngram_range)
        self.analyzer = analyzer

    @classmethod
    def fit(cls, documents: Sequence[Sequence[str]], min_df: int = 2,
            ngram_range: tuple[int, int] = NGRAM_RANGE, analyzer: str = "text") -> Vectorizer:
        """Vocabulary (n-grams in at least ``min_df`` documents) and smoothed IDF from tokenised documents."""
        df: Counter = Counter()
        for words in documents:
            df.update({g for grams in owned_ngrams(words, ngram_range, analyzer) for g in grams})
        grams = sorted(g for g, n in df.items() if n >= min_df)
        n_docs = len(documents)
        idf = [float(np.log((1 + n_docs) / (1 + df[g])) + 1.0) for g in grams]
        return cls({g: i for i, g in enumerate(grams)}, idf, ngram_range, analyzer)

    @classmethod
    def from_dict(cls, data: dict) -> Vectorizer:
        """From a stored model (files without an analyzer read n-grams inside words)."""
        return cls(data["vocabulary"], data["idf"], tuple(data.get("ngram_range", NGRAM_RANGE)),
                   data.get("analyzer", "word"))

    def to_dict(self, digits: int | None = None) -> dict:
        """The stored fields; IDF weights rounded to ``digits`` when given."""
        idf = [float(v) if digits is None else round(float(v), digits) for v in self.idf]
        return {"vocabulary": self.vocabulary, "idf": idf, "ngram_range": list(self.ngram_range),
                "analyzer": self.analyzer}

    def ngrams(self, words: Sequence[str]) -> list[list[str]]:
        """Per word, the n-grams it owns."""
        return owned_ngrams(words, self.ngram_range, self.analyzer)

    def counts(self, words: Sequence[str]) -> list[Counter]:
        """Per word: its n-gram indices in the vocabulary with their counts."""
        out = []
        for grams in self.ngrams(words):
            c: Counter = Counter()
            for g in grams:
                index = self.vocabulary.get(g)
                if index is not None:
                    c[index] += 1
            out.append(c)
        return out

    def transform_words(self, words: Sequence[str]) -> np.ndarray:
        """The document vector of tokenised words."""
        return self.vector(self.counts(words))

    def vector(self, counts: Sequence[Counter]) -> np.ndarray:
        """The document vector from the per-word n-gram counts."""
        total: Counter = Counter()
        for c in counts:
            total.update(c)
        vec = np.zeros(len(self.idf))
        for index, n in total.items():
            vec[index] = (1.0 + np.log(n)) * self.idf[index]
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def transform(self, documents: Sequence[Sequence[str]]) -> np.ndarray:
        return np.vstack([self.transform_words(words) for words in documents]) if documents else (
            np.zeros((0, len(self.idf))))


@dataclass(frozen=True)
class WordReading:
    """What the words say: class probabilities and the words that weighed most for the best class."""

    probabilities: dict[str, float]
    answered_by: str
    p: float
    quote: str  # the telling words, as heard
    start_ms: int
    end_ms: int

    def p_of(self, classes: Sequence[str] | frozenset[str]) -> float:
        return sum(self.probabilities.get(c, 0.0) for c in classes)


class WordModel:
    """A multinomial logistic regression over ``Vectorizer`` features."""

    def __init__(self, data: dict) -> None:
        self.classes: tuple[str, ...] = tuple(data["classes"])
        self.vectorizer = Vectorizer.from_dict(data)
        self.coef = np.asarray(data["coef"], dtype=np.float64)
        self.intercept = np.asarray(data["intercept"], dtype=np.float64)
        self.meta = data.get("meta", {})
        if self.coef.shape != (len(self.classes), len(self.vectorizer.idf)):
            raise ValueError("word model coefficients do not match its vocabulary and classes")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_WORD_MODEL) -> WordModel:
        return cls(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        return {"classes": list(self.classes), **self.vectorizer.to_dict(digits=6),
                "coef": [[round(float(v), 6) for v in row] for row in self.coef],
                "intercept": [round(float(v), 6) for v in self.intercept], "meta": self.meta}

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = np.atleast_2d(x) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def read(self, timed_words: Sequence[tuple[str, int, int]]) -> WordReading | None:
        """Classify timed words (word, start_ms, end_ms); None when no word is left after normalising."""
        items = [(t, s, e) for w, s, e in timed_words for t in normalise(w).split() if t]
        if not items:
            return None
        counts = self.vectorizer.counts([t for t, _, _ in items])
        vec = self.vectorizer.vector(counts)
        probs = self.probabilities(vec)[0]
        best = int(np.argmax(probs))
        # each word's share of the best class's logit: its n-grams' weights against the runner-up classes
        against = self.coef[best] - np.delete(self.coef, best, axis=0).mean(axis=0)
        weight = [sum(vec[i] * against[i] for i in c) for c in counts]
        centre = int(np.argmax(weight))
        first = max(0, min(centre - QUOTE_WORDS // 2, len(items) - QUOTE_WORDS))
        span = items[first: first + QUOTE_WORDS]
        return WordReading({c: float(p) for c, p in zip(self.classes, probs, strict=True)}, self.classes[best],
                           float(probs[best]), " ".join(w for w, _, _ in span), int(span[0][1]), int(span[-1][2]))


_LOADED: dict[str, WordModel | None] = {}


def load_default() -> WordModel | None:
    """The shipped word model, loaded once per process; None if the file is missing."""
    key = str(DEFAULT_WORD_MODEL)
    if key not in _LOADED:
        _LOADED[key] = WordModel.load(DEFAULT_WORD_MODEL) if DEFAULT_WORD_MODEL.exists() else None
    return _LOADED[key]
