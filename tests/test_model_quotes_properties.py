"""Property tests: the extractor survives any text, its spans index the input exactly, it is deterministic."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stancewire.model.quotes import QuoteExtractor, find_quotes, split_sentences

# Every quotation mark in use around the world, plus the characters that break naive parsers.
MARKS = "\"'“”„‟‘’‚‛«»‹›「」『』〝〞＂"
HOSTILE = "\u200b\u200c\u200d\u2060\ufeff\u202e\u202d\u0000\u0007\r\t\n\u2028\u2029"
WORDS = [
    "said",
    "the",
    "minister",
    "denied",
    "we",
    "never",
    "He",
    "told",
    "Reuters",
    "according",
    "to",
    ".",
    ",",
]

news_like = st.lists(
    st.one_of(
        st.sampled_from(WORDS),
        st.sampled_from(list(MARKS)),
        st.sampled_from(list(HOSTILE)),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=6),  # any Unicode: RTL, emoji, CJK
    ),
    max_size=60,
).map(" ".join)

EXTRACTOR = QuoteExtractor()


def check_spans(text: str) -> None:
    found = EXTRACTOR.extract(text)
    for s in found:
        assert 0 <= s.start <= s.end <= len(text)
        for a, b in s.parts or ((s.start, s.end),):
            assert 0 <= a <= b <= len(text)
            assert text[a:b].strip()  # a part is never empty or pure whitespace
        if not s.parts:
            assert text[s.start : s.end] == s.text
    assert [(s.start, s.end, s.text, s.speaker) for s in EXTRACTOR.extract(text)] == [
        (s.start, s.end, s.text, s.speaker) for s in found
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(news_like)
def test_quotes_any_text_never_crashes_and_spans_index_the_input(text: str) -> None:
    check_spans(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_quotes_arbitrary_unicode(text: str) -> None:
    check_spans(text)
    quotes = find_quotes(text)
    for q in quotes:
        assert 0 <= q.open < q.close < len(text)
    for a, b in split_sentences(text, quotes):
        assert 0 <= a < b <= len(text)


def test_quotes_a_megabyte_without_punctuation_is_fast_enough_to_finish() -> None:
    text = "word " * 200_000  # 1 MB, no sentence end, no quotes
    assert EXTRACTOR.extract(text) == []
    unbalanced = "“" * 50_000 + " said the minister " + "»" * 50_000
    check_spans(unbalanced)


def test_quotes_many_quoted_sentences_stay_linear() -> None:
    import time

    # 24,000 quoted sentences: 0.6 s; a scan of every quote per sentence took about 16 s here
    text = "“We are fine,” he said. “Really.” " * 12_000
    started = time.perf_counter()
    found = EXTRACTOR.extract(text)
    assert time.perf_counter() - started < 5.0
    assert len(found) == 12_000 and all(len(s.parts) == 2 for s in found)
