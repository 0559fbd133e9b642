"""Synthetic news-like corpora for the scale benchmark: seeded, Zipf-distributed words.

Word frequencies follow a Zipf-Mandelbrot law over a fixed vocabulary whose
most frequent ranks are real English function words (so stop-word removal
and near-stop-word terms behave as on real text) and the rest invented,
pronounceable words. Paragraphs have 60-120 words cut into sentences of 8-25
words; articles have 25 paragraphs, a headline, an outlet, a date and a URL.
The corpus is built in memory as a :class:`~bot.core.corpus.Corpus`, the
object ``read_folder`` returns, so the benchmark measures indexing and not
file parsing (which is linear and measured by ``python -m bot check``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.core.corpus import Corpus
from bot.core.models import Article

FUNCTION_WORDS = """the of and to a in that is was he for it with as his on be at by i this had not are but from
or have an they which one you were her all she there would their we him been has when who will more no if out so
said what up its about into than them can only other new some could time these two may then do first any my now
such like our over man me even most made after also did many before must through back years where much your way
well down should because each just those people how too little state good very make world still own see men work
long get here between both life being under never day same another know while last might us great old year off
come since against go came right used take three""".split()
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou", "ea")]
PARAGRAPHS_PER_ARTICLE = 25
OUTLETS = ["example-news.com", "dailyexample.org", "the-sample-times.com", "wire.example.net"]


def vocabulary(size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct words, most frequent first: function words, then invented ones."""
    words = list(dict.fromkeys(FUNCTION_WORDS))
    seen = set(words)
    while len(words) < size:
        n = int(rng.integers(1, 5))
        w = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), n))
        if len(w) >= 3 and w not in seen:
            seen.add(w)
            words.append(w)
    return np.asarray(words[:size], dtype=object)


def zipf_probabilities(size: int, s: float = 1.05, q: float = 2.7) -> np.ndarray:
    p = 1.0 / (np.arange(1, size + 1) + q) ** s
    return p / p.sum()


def paragraphs(n: int, seed: int = 0, vocab_size: int = 200_000) -> list[str]:
    """``n`` paragraphs of 60-120 words, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(vocab_size, rng).tolist()
    capital = [w.capitalize() for w in vocab]
    cdf = np.cumsum(zipf_probabilities(vocab_size))
    out: list[str] = []
    chunk = 20_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        lengths = rng.integers(60, 121, m)
        ids = np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum())) * cdf[-1]), vocab_size - 1).tolist()
        cuts = rng.integers(8, 26, int(lengths.sum())).tolist()  # sentence lengths, more than enough
        pos = cut_at = 0
        for length in lengths.tolist():
            end = pos + length
            parts = []
            i = pos
            while i < end:
                j = min(end, i + cuts[cut_at])
                cut_at += 1
                if end - j < 5:
                    j = end
                parts.append(capital[ids[i]] + (" " if j > i + 1 else "")
                             + " ".join([vocab[t] for t in ids[i + 1:j]]) + ".")
                i = j
            out.append(" ".join(parts))
            pos = end
    return out


def corpus(n: int, seed: int = 0, vocab_size: int = 200_000) -> Corpus:
    """A :class:`Corpus` of ``n`` paragraphs in articles of 25."""
    paras = paragraphs(n, seed, vocab_size)
    rng = np.random.default_rng(seed + 1)
    vocab = vocabulary(5000, np.random.default_rng(seed + 2))[150:]
    articles = []
    for a, start in enumerate(range(0, n, PARAGRAPHS_PER_ARTICLE)):
        body = tuple(paras[start:start + PARAGRAPHS_PER_ARTICLE])
        title = " ".join(w.capitalize() for w in rng.choice(vocab, 8))
        outlet = OUTLETS[a % len(OUTLETS)]
        date = f"20{10 + a % 14:02d}-{1 + a % 12:02d}-{1 + a % 28:02d}"
        articles.append(Article(
            key=f"{a:07d}.txt", number=a + 1, title=title, paragraphs=body,
            numbers=tuple(range(3, 3 + len(body))), lines=tuple(range(5, 5 + 2 * len(body), 2)),
            url=f"https://{outlet}/{date.replace('-', '/')}/story-{a}", outlet=outlet, date=date,
        ))
    return Corpus(Path(f"synthetic-{n}"), tuple(articles))


def questions(texts: list[str], n: int, seed: int = 1, with_sources: bool = False):
    """Questions made of 2-5 words of random paragraphs, after a question opener.

    With ``with_sources``, also the index of the paragraph each question came from.
    """
    rng = np.random.default_rng(seed)
    out, sources = [], []
    starters = ["what about", "who said", "why did", "when was", "how many", "where is"]
    for _ in range(n):
        src = int(rng.integers(0, len(texts)))
        words = texts[src].lower().replace(".", "").split()
        picked = [words[int(i)] for i in rng.integers(0, len(words), int(rng.integers(2, 6)))]
        out.append(f"{starters[int(rng.integers(0, len(starters)))]} {' '.join(picked)}?")
        sources.append(src)
    return (out, sources) if with_sources else out
