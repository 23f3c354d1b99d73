"""Find quoted and reported statements in news text and attribute them to speakers.

A rule-based extractor, built for the conventions of wire copy:

1. **Quotes** are found first, as balanced pairs of marks (straight and curly double quotes,
   « guillemets », „German“ marks), including quotes that run over several paragraphs (an opening
   mark at each paragraph, the closing mark only at the last).
2. **Sentences** are split around them: a boundary never falls inside a quote, so a quote of
   several sentences stays with its attribution.
3. Each sentence is read for **attribution**: a quote at the start of a sentence followed by
   ``said the official`` / ``the official said``, or preceded by ``X said:``, is a *direct* quote;
   short quotes inside a sentence with a cue verb make the sentence a *partial* statement; quotes
   in a sentence with no cue verb are scare quotes and ignored; a sentence with a cue verb and a
   speaker but no quote is *reported* speech. A quote standing alone right after a direct quote
   continues it (same paragraph: one statement with several parts) or is a new statement by the
   same speaker (next paragraph); ``X told reporters:`` owns the quote of the next paragraph; a
   headline is cut at a semicolon or spaced dash into its statements.
4. **Speakers** are the subjects of cue verbs, as written; pronouns and definite descriptions
   ("he", "the official", "the ministry") are resolved to the most recent earlier speaker with the
   same head word, which becomes the canonical ``speaker`` (the mention is kept too).

It is deterministic, never raises on any string, and every span indexes the input exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, replace

from stancewire.model.types import Statement

# Closing marks accepted for each opening mark.
QUOTE_MARKS: dict[str, str] = {"“": "”", "„": "“”", "«": "»", '"': '"', "‘": "’", "'": "'"}
# Single marks double as apostrophes ("don’t", "workers' union"): they open only at a word start and
# close only where no letter follows.
SINGLE_MARKS = frozenset("‘'")

CUE_VERBS: frozenset[str] = frozenset(
    """say says said tell tells told add adds added stated stress stresses stressed
    insist insists insisted deny denies denied reject rejects rejected dismiss dismisses dismissed
    refute refutes refuted confirm confirms confirmed acknowledge acknowledges acknowledged admit
    admits admitted announce announces announced claimed warn warns warned threaten threatens
    threatened vow vows vowed pledged promised accuse accuses accused
    condemn condemns condemned denounce denounces denounced criticise criticises criticised criticize
    criticizes criticized slam slams slammed blast blasts blasted decry decries decried
    called urge urges urged demanded argue argues argued noted writes
    wrote tweeted posted declare declares declared assert asserts asserted
    maintain maintains maintained reaffirm reaffirms reaffirmed reiterate reiterates reiterated
    express expresses expressed describe describes described labelled labeled
    branded dubbed allege alleges alleged apologise apologises apologised apologize
    apologizes apologized blame blames blamed blaming indicate indicates indicated suggest suggests
    suggested explain explains explained replied respond responds responded
    countered concede concedes conceded predict predicts predicted dispute disputes disputed
    estimated reported charged complain complains complained
    protested mock mocks mocked ridicule ridiculed hail hails hailed praise praises praised
    welcome welcomes welcomed caution cautions cautioned declined asked""".split()
)
# Verbs that invert after a quote or a clause ("..., said the minister"); others ("..., rejected the
# accusation") take an object there, not a subject.
INVERTING_VERBS: frozenset[str] = frozenset(
    "said says added adds stated noted explained continued wrote writes insisted argued replied asked".split()
)
# Participles that report speech of the sentence's main subject ("..., warning that ...").
CUE_PARTICIPLES: frozenset[str] = frozenset(
    """saying adding warning insisting claiming arguing noting accusing denying vowing threatening
    calling describing blaming urging stressing telling acknowledging rejecting dismissing alleging
    condemning denouncing""".split()
)

PRONOUNS: frozenset[str] = frozenset({"he", "she", "they", "it", "we", "i"})
DETERMINERS: frozenset[str] = frozenset(
    """the a an its his her their our this these those one two three four five several some
    many both all another other senior local top former""".split()
)
# Plural or generic role nouns that name a speaker even in lower case ("police said").
ROLE_NOUNS: frozenset[str] = frozenset(
    """police officials official investigators prosecutors residents witnesses analysts experts
    authorities doctors scientists rescuers activists researchers inspectors officers diplomats
    sources lawmakers legislators critics protesters organisers organizers organizers spokesman
    spokeswoman spokesperson regulators economists lawyers villagers survivors medics workers
    teachers parents farmers fans players relatives neighbours neighbors""".split()
)
CLAUSE_WORDS: frozenset[str] = frozenset(
    """is was are were will would be been has have had did does do can could should may might must
    and or but not""".split()
)
REFLEXIVES = re.compile(r"\s+(?:himself|herself|themselves|itself)$")
PREPOSITIONS: frozenset[str] = frozenset(
    """in on at for from with by amid during after before of to into over under about against
    between without within through across via per than like""".split()
)
ABBREVIATIONS: frozenset[str] = frozenset(
    """mr mrs ms dr gen lt col sgt capt cmdr adm maj st jr sr gov sen rep prof inc corp co ltd vs
    etc no jan feb mar apr jun jul aug sep sept oct nov dec u.s u.n u.k e.u p.m a.m rev fig approx""".split()
)
DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# Adverbials that sit between a subject and its cue verb ("officials earlier this month confirmed").
TRAILING_ADVERBIAL = re.compile(
    r"(?:\s+(?:has|have|had|also|again|later|earlier|previously|repeatedly|already|further|even|then|"
    r"once|publicly|privately|flatly|strongly|firmly|angrily|quickly|immediately|recently|today|"
    r"yesterday|tonight|separately|initially|reportedly|officially|now|still|however|too|"
    rf"on {DAYS}|{DAYS}|(?:on|last|this|next|earlier this|later this|late last|early this) "
    rf"(?:{DAYS}|week|month|year|weekend|morning|afternoon|evening)|in a statement|in an interview|"
    r"in a post|on social media|on Twitter|on X|on Facebook|on Telegram|in a letter|in a speech))+$"
)
LEADING_FILLER = re.compile(r"^(?:But|And|However|Meanwhile|Still|Yet|Also|So|Now|Instead)\s+")
CLAUSE_BREAK = re.compile(
    r",(?!\d{3}\b)|[;:()\[\]–—]|\s-\s|\b(?:that|after|when|while|as|because|since|although|though|but|where|"
    r"whereas|if|before|until|whom|whose|which|who)\b"
)
SELF_NAMED = re.compile(
    r"\b(?:which|who) (?:calls itself|call themselves|is known as|are known as|goes by) "
    r"([A-Z][\w’'-]*(?: [A-Z][\w’'-]*){0,3})"
)
# "SEOUL, South Korea (AP) — " / "PORT-AUBIN — " at the start of a story
DATELINE = re.compile(r"^[A-Z][A-Z .'-]+(?:,[^—–(]{1,40})?(?:\s*\([A-Za-z]+\))?\s*[—–-]+\s*")
TITLE_DOT = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Gen|Lt|Col|Sgt|Capt|Cmdr|Adm|Maj|St|Jr|Sr|Gov|Sen|Rep|Prof|Rev|[A-Z])\."
)
WORD = re.compile(r"[\w’'.-]+", re.UNICODE)


@dataclass(frozen=True)
class Quote:
    """A span between quotation marks: ``open`` and ``close`` index the marks themselves."""

    open: int
    close: int
    parts: tuple[tuple[int, int], ...]  # content spans, one per paragraph


@dataclass
class _Speaker:
    canonical: str
    mention: str
    head: str


def find_quotes(text: str) -> list[Quote]:
    """Find balanced quotation marks; unbalanced marks are skipped, never guessed."""
    quotes: list[Quote] = []
    # Where the last failed scan for each opening mark stopped: a later opener of the same mark
    # before that point would fail the same way, so it is skipped (keeps unbalanced text linear).
    failed_until: dict[str, int] = {}
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        closers = QUOTE_MARKS.get(ch)
        if closers is None or (ch == '"' and i + 1 < n and text[i + 1].isspace() and i > 0):
            i += 1
            continue
        if i < failed_until.get(ch, -1):
            i += 1
            continue
        if ch in SINGLE_MARKS and not _opens_single(text, i):
            i += 1
            continue
        parts: list[tuple[int, int]] = []
        start, j, closed = i + 1, i + 1, False
        while j < n:
            c = text[j]
            if c in closers and (ch not in SINGLE_MARKS or _closes_single(text, j)):
                parts.append((start, j))
                closed = True
                break
            if c == "\n":
                # A quote may run on to the next paragraph only if that paragraph reopens it.
                k = j
                while k < n and text[k].isspace():
                    k += 1
                if k < n and text[k] == ch and text[j:k].count("\n") >= 1:
                    parts.append((start, j))
                    start = j = k + 1
                    continue
                break
            j += 1
        if closed:
            quotes.append(Quote(i, j, tuple(parts)))
            i = j + 1
        else:
            failed_until[ch] = j
            i += 1
    return quotes


def _opens_single(text: str, i: int) -> bool:
    """A single mark opens a quote at a word start, right before a letter or digit."""
    before_ok = i == 0 or text[i - 1].isspace() or text[i - 1] in '([—–-:“"'
    return before_ok and i + 1 < len(text) and text[i + 1].isalnum()


def _closes_single(text: str, j: int) -> bool:
    """A single mark closes a quote unless a letter follows (don’t) or it is a plural possessive."""
    after = text[j + 1] if j + 1 < len(text) else " "
    if after.isalnum():
        return False
    # "the workers' union": s + mark + space + lower-case word reads as a possessive, not a close
    rest = text[j + 1 : j + 3]
    return not (text[j - 1] == "s" and rest[:1] == " " and rest[1:2].islower())


def split_sentences(text: str, quotes: list[Quote]) -> list[tuple[int, int]]:
    """Sentence spans of ``text``; a boundary never falls inside a quote."""
    inside = bytearray(len(text) + 1)
    closes = {q.close for q in quotes}
    for q in quotes:
        for k in range(q.open + 1, q.close):
            inside[k] = 1
    spans: list[tuple[int, int]] = []
    start, i, n = 0, 0, len(text)

    def close_at(end: int) -> None:
        nonlocal start
        if text[start:end].strip():
            spans.append((start, end))
        start = end

    while i < n:
        ch = text[i]
        if ch == "\n" and not inside[i]:
            close_at(i)
            i += 1
            continue
        # Inside a quote, only punctuation right before its closing mark can end a sentence.
        if ch in ".!?" and (not inside[i] or i + 1 in closes):
            end = i + 1
            while end < n and text[end] in "”»\"’'":
                end += 1
            k = end
            while k < n and text[k] in " \t":
                k += 1
            if (
                (k == n or k > end)
                and (k == n or _starts_sentence(text[k]))
                and not _is_abbreviation(text, i)
            ):
                close_at(end)
                i = end
                continue
        i += 1
    close_at(n)
    if spans:
        spans[:1] = _split_headline(text, *spans[0], inside)
    return [_trim(text, s, e) for s, e in spans]


def _split_headline(text: str, start: int, end: int, inside: bytearray) -> list[tuple[int, int]]:
    """A headline holding two statements ("Militia claims attack; Halvia denies role") is two sentences.

    Only the first line of a text, when it has no final full stop, is read as a headline; it is cut
    at a semicolon or a spaced dash outside quotes.
    """
    line = text[start:end].rstrip()
    if not line or "\n" in line or line[-1] in ".!?" or (end < len(text) and text[end] != "\n"):
        return [(start, end)]
    parts: list[tuple[int, int]] = []
    for m in re.finditer(r";\s+|\s+[—–]\s+", line):
        if not inside[start + m.start()]:
            parts.append((start, start + m.start()))
            start += m.end()
    return [*parts, (start, end)]


def _starts_sentence(ch: str) -> bool:
    return ch.isupper() or ch.isdigit() or ch in "“„«\"‘'(["


def _is_abbreviation(text: str, i: int) -> bool:
    if text[i] != ".":
        return False
    m = re.search(r"([\w.]+)$", text[max(0, i - 12) : i])
    if not m:
        return False
    word = m.group(1).lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or word.rstrip(".") in ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class QuoteExtractor:
    """Extract every quoted or reported statement of a text, with its speaker.

    Example:
        >>> ex = QuoteExtractor()
        >>> [s.speaker for s in ex.extract('“We never sold arms,” the ministry said.')]
        ['the ministry']
    """

    def __init__(self, max_speaker_words: int = 12) -> None:
        self.max_speaker_words = max_speaker_words

    def extract(self, text: str) -> list[Statement]:
        """Return the statements of ``text`` in reading order."""
        quotes = find_quotes(text)
        speakers: list[_Speaker] = []
        statements: list[Statement] = []
        prev_sentence = ""
        last_statement_sentence = -2
        opens = [q.open for q in quotes]  # find_quotes returns them in order, never nested
        for n, (s, e) in enumerate(split_sentences(text, quotes)):
            # the sentence's quotes by bisection: a scan of all quotes per sentence was quadratic
            first, last = bisect_left(opens, s), bisect_left(opens, e)
            inner = [q for q in quotes[first:last] if q.close < e]
            found = self._read_sentence(text, s, e, inner, speakers)
            if not found and inner and _is_bare_quote(text, s, e, inner) and last_statement_sentence == n - 1:
                # A quote standing alone right after a statement continues that speaker's words: in
                # the same paragraph after a direct quote it is the same statement ("“A,” she said.
                # “B.”"), in a new paragraph a new statement by the same speaker.
                prev = statements[-1]
                if prev.kind == "reported" and prev.text.endswith(":"):
                    # "Spokeswoman Lotte Verbeke told reporters:" and the quote in the next paragraph
                    # are one direct quote, not a reported statement and an unattributed quote.
                    context = f"{prev.context} {text[s:e]}"
                    statements[-1] = _direct(
                        text, inner, prev.speaker_mention, prev.speaker, prev.cue, context
                    )
                    last_statement_sentence = n
                    prev_sentence = text[s:e]
                    continue
                if prev.kind == "direct" and "\n" not in text[prev.end : s]:
                    statements[-1] = _extend(text, prev, inner[0])
                    last_statement_sentence = n
                    prev_sentence = text[s:e]
                    continue
                found = [_direct(text, inner, prev.speaker_mention, prev.speaker, None, prev_sentence)]
            for st in found:
                statements.append(st)
                last_statement_sentence = n
            prev_sentence = text[s:e]
        return [_named(text, st) for st in statements]

    # -- one sentence ----------------------------------------------------------------------------

    def _read_sentence(
        self, text: str, s: int, e: int, inner: list[Quote], speakers: list[_Speaker]
    ) -> list[Statement]:
        context = text[s:e]
        direct = self._direct_quotes(text, s, e, inner, speakers)
        if direct:
            return direct
        attribution = self._sentence_attribution(text, s, e, inner)
        if attribution is None:
            return []  # no cue verb with a speaker: narration, or scare quotes only
        mention, cue = attribution
        masked = _mask_quotes(context, [(q.open - s, q.close - s) for q in inner])
        if mention.lower() in PRONOUNS and re.search(
            rf"\b(?:where|and|that|which|when|while)\s+{mention}\b", masked
        ):
            # A pronoun in a clause after the sentence's subject ("Sung Kim met Kim Gunn in Seoul,
            # where they expressed ...") refers to that subject, not to the previous speaker.
            subject = self._main_subject(masked)
            if subject and subject.lower() not in PRONOUNS:
                speakers.append(_Speaker(self._resolve(subject, speakers), mention, mention.lower()))
        canonical = self._resolve(mention, speakers)
        kind = "partial" if inner else "reported"
        start, end = _trim(text, s, e)
        return [Statement(text[start:end], start, end, kind, canonical, mention, cue, context)]

    def _direct_quotes(
        self, text: str, s: int, e: int, inner: list[Quote], speakers: list[_Speaker]
    ) -> list[Statement]:
        """Quotes that open the sentence (attribution after) or follow ``X said:`` (before)."""
        if not inner:
            return []
        first = inner[0]
        before = text[s : first.open]
        mention = cue = None
        group: list[Quote] = []
        if not before.strip(" \t-–—"):
            # “...,” said the official / “...,” the official said[, “... continued.”]
            group = [first]
            after_end = inner[1].open if len(inner) > 1 else e
            found = self._postposed(text[first.close + 1 : after_end])
            if found:
                mention, cue = found
                if len(inner) > 1 and _only_attribution(text[first.close + 1 : inner[1].open]):
                    group.append(inner[1])
            elif len(inner) == 1 and not text[first.close + 1 : e].strip(" .,!?;:"):
                return []  # a bare quote: the caller decides whose it is
            else:
                return []
        else:
            found = self._preposed(before)
            if found:
                mention, cue = found
            else:
                # Headline style, "Ex-minister: ‘I never took a penny’": a short noun phrase and a colon
                # right before a quote that ends the sentence; there is no cue verb.
                label = re.fullmatch(r"\s*([^:.!?]{1,60}?)\s*:\s*", before)
                rest = text[first.close + 1 : e].strip(" .,!?;")
                speaker = self._clean_speaker(label.group(1)) if label and not rest else None
                if not speaker or len(speaker.split()) > 6:
                    return []
                mention, cue = speaker, None
            group = [first]
        if mention is None:
            return []
        canonical = self._resolve(mention, speakers)
        return [_direct(text, group, mention, canonical, cue, text[s:e])]

    def _postposed(self, after: str) -> tuple[str, str] | None:
        """``said the official`` / ``the official said`` / ``Ana Ruiz, the minister, said`` after a quote."""
        after = after.lstrip(" ,\t")
        # The full stop of a title or an initial ("Col. Radek Hanus", "Dr. Reyes") does not end the
        # attribution; it is hidden while the window is measured.
        window = re.match(r"[^.;:!?“”\"«»]{1,160}", TITLE_DOT.sub(lambda m: m.group(0)[:-1] + "\x00", after))
        if not window:
            return None
        window = re.match(rf".{{{window.end()}}}", after, re.DOTALL)
        assert window is not None  # after is at least window.end() long
        words = list(WORD.finditer(window.group(0)))
        if words and words[0].group(0).lower() in CUE_VERBS:
            clause = window.group(0)[words[0].end() :].split(",")[0]
            speaker = self._clean_speaker(clause)
            return (speaker, words[0].group(0)) if speaker else None
        for w in words[1:]:
            if w.group(0).lower() in CUE_VERBS:
                # An apposition ("Ana Ruiz, the minister, said") names the speaker before its comma;
                # after a description ("Fenwick's chief executive, Alastair Brooke, told") the name.
                chunks = window.group(0)[: w.start()].split(",")
                speaker = self._clean_speaker(chunks[0])
                if speaker and len(chunks) > 2 and _is_description(speaker):
                    name = self._clean_speaker(chunks[1])
                    if name and _is_proper_name(name):
                        speaker = name
                return (speaker, w.group(0)) if speaker else None
        return None

    def _preposed(self, before: str) -> tuple[str, str] | None:
        """``The minister said:`` / ``He told reporters,`` right before the quote."""
        tail = re.search(r"[:,]\s*$", before)
        if not tail:
            return None
        for w in reversed(list(WORD.finditer(before[max(0, tail.start() - 40) : tail.start()]))):
            if w.group(0).lower() in CUE_VERBS:
                offset = max(0, tail.start() - 40)
                speaker = self._subject(before[: offset + w.start()])
                return (speaker, w.group(0)) if speaker else None
        return None

    def _sentence_attribution(self, text: str, s: int, e: int, inner: list[Quote]) -> tuple[str, str] | None:
        """Speaker and cue of a reported or partial-quote sentence, or None."""
        sentence = text[s:e]
        masked = _mask_quotes(sentence, [(q.open - s, q.close - s) for q in inner])
        # "..., the ministry said." at the end names the source of the whole sentence.
        tail = re.search(r",\s*([^,;:]{2,80}?)\s+(\w+)\s*[.!?]?\s*[”\"»]?\s*$", masked)
        if tail and tail.group(2).lower() in CUE_VERBS:
            speaker = self._clean_speaker(tail.group(1))
            if speaker:
                return speaker, tail.group(2)
        tail = re.search(r",\s*(\w+)\s+([^,;:]{2,80}?)\s*[.!?]?\s*$", masked)
        if tail and tail.group(1).lower() in INVERTING_VERBS:
            speaker = self._clean_speaker(tail.group(2))
            # "..., said the data appeared genuine" is a cue with its object, not an inversion
            if speaker and _cut_at_verb(speaker) == speaker:
                return speaker, tail.group(1)
        m = re.search(r"\b[Aa]ccording to\s+([^,;:.]{2,80})", masked)
        for word in WORD.finditer(masked):
            cue = word.group(0)
            if cue[0].isupper() or (cue.lower() not in CUE_VERBS and cue.lower() not in CUE_PARTICIPLES):
                continue
            if m and m.start() < word.start():
                break
            before_word = masked[: word.start()].split()
            if cue.lower() in CUE_PARTICIPLES and before_word and _is_description(before_word[-1]):
                continue  # "Castellane's warning", "the warning": a noun, not a participle
            if cue.lower() in CUE_PARTICIPLES:
                speaker = self._main_subject(masked[: word.start()])
            else:
                speaker = self._subject(masked[: word.start()])
            if speaker:
                return speaker, cue
        if m:
            speaker = self._clean_speaker(m.group(1))
            if speaker:
                return speaker, "according to"
        return None

    # -- speakers --------------------------------------------------------------------------------

    def _subject(self, left: str) -> str | None:
        """The noun phrase right before a cue verb: the last clause chunk, minus adverbials.

        Two shapes put the subject at the start of the sentence instead: an apposition or
        relative clause closed by a comma ("The group, which calls itself X, said") and a
        coordinated verb ("The mayor visited the site and called the fire ...").
        """
        left = TRAILING_ADVERBIAL.sub("", " " + left.rstrip())  # "X, the governor, had told"
        agent = re.match(
            r"\s*[^,]{1,60},\s+(?:published|issued|released|written|led|commissioned|compiled|prepared)"
            r"(?:\s+\w+)?\s+by\s+([^,]{2,80}),\s*$",
            left,
        )
        if agent:
            # "The report, published by Harrow Lane Research, said": the author speaks through it
            speaker = self._clean_speaker(agent.group(1))
            if speaker:
                return speaker
        relative = re.match(r"\s*([^,]{1,80}),\s+(?:which|who)\b[^;:]*,\s*$", left)
        if relative:
            # "Stride, which launched in 2019 as a running tracker, says": the noun before the clause
            speaker = self._clean_speaker(_cut_at_verb(relative.group(1)))
            if speaker:
                return speaker
        chunks = CLAUSE_BREAK.split(left)
        for k in range(len(chunks) - 1, -1, -1):
            speaker = self._clean_speaker(chunks[k])
            if speaker:
                # "Helena Voss, the coast guard commander, said": the name, not the description
                if k > 0 and speaker.split()[0].lower() in DETERMINERS and left.rstrip().endswith(","):
                    name = self._clean_speaker(chunks[k - 1])
                    if name and _is_proper_name(name):
                        return name
                return speaker
            if chunks[k].strip():
                break  # the nearest chunk is not a noun phrase
        stripped = left.rstrip()
        if stripped.endswith(" and") and len(chunks) > 1:
            # "In a victory speech, Arslan thanked voters and said": the subject of the last chunk
            own = self._clean_speaker(_cut_at_verb(chunks[-1].strip()))
            if own:
                return own
        if stripped.endswith(",") or stripped.endswith(" and"):
            return self._main_subject(stripped)
        return None

    def _main_subject(self, left: str) -> str | None:
        """The sentence's subject, for participle cues: the first chunk, cut before its verb.

        A leading "Asked about ..., " clause is skipped, and a description followed by a name in
        apposition ("Ostrava's defense minister, Pavel Mirek, went further") gives the name.
        """
        body = DATELINE.sub("", left.lstrip())
        body = re.sub(r"^(?:Asked|Speaking|Pressed|Writing|Responding)\b[^,]{0,80},\s*", "", body)
        chunks = CLAUSE_BREAK.split(body, maxsplit=2)
        speaker = self._clean_speaker(_cut_at_verb(chunks[0]))
        if speaker and len(chunks) > 2 and _is_description(speaker):
            name = self._clean_speaker(chunks[1])
            if name and _is_proper_name(name) and body[len(chunks[0]) :].startswith(","):
                return name
        return speaker

    def _clean_speaker(self, raw: str) -> str | None:
        speaker = REFLEXIVES.sub("", raw.strip(' \t\n,;:-–—"“”«»'))
        previous = None
        while previous != speaker:
            previous = speaker
            speaker = TRAILING_ADVERBIAL.sub("", speaker).strip()
            speaker = LEADING_FILLER.sub("", speaker).strip()
        words = speaker.split()
        if len(words) > 1 and _cut_at_verb("X " + words[0]) == "X":
            words = words[1:]  # "cited two unnamed officials": the verb before the object is not the speaker
            speaker = " ".join(words)
        if not words or len(words) > self.max_speaker_words:
            return None
        first = words[0]
        if first.lower() in PRONOUNS and len(words) == 1:
            return first
        if first.lower() in PREPOSITIONS or words[-1].lower() in DETERMINERS | PREPOSITIONS:
            return None  # "In a", "the head of": a fragment, not a speaker
        if not (
            first[0].isupper()
            or first[0].isdigit()
            or first.lower() in DETERMINERS
            or words[-1].lower() in ROLE_NOUNS
            or (
                len(words) >= 3 and words[-1][0].isupper() and words[-2][0].isupper()
            )  # "union leader Ana Ruiz"
        ):
            return None
        if any(w.lower() in CLAUSE_WORDS for w in words) or "_" in speaker or words[0].isdigit():
            return None  # a clause, a masked quote or a number: not a noun phrase
        return speaker

    def _resolve(self, mention: str, speakers: list[_Speaker]) -> str:
        """Canonical name for a mention; records the mention for later references."""
        words = mention.split()
        head = re.sub(r"[’']s$", "", words[-1].lower())
        canonical = mention
        lower = mention.lower()
        bare = HONORIFIC.sub("", mention)  # "Mr Pettifer" -> "Pettifer"
        if lower in PRONOUNS:
            if speakers:
                canonical = speakers[-1].canonical
        elif AGE_NOUN.fullmatch(lower):
            # "the 24-year-old": the most recent speaker named by a proper name
            canonical = _latest(speakers, _is_proper_name, mention)
        elif bare.strip(".").isupper() and 2 <= len(bare) <= 6 and len(bare.split()) == 1:
            # "the AIU" -> "The Athletics Integrity Unit": an acronym of an earlier speaker's name
            canonical = _latest(speakers, lambda name: _initials(name) == bare, mention)
        elif bare != mention and len(bare.split()) == 1 and words[0].lower() != "the":
            # "Mr Pettifer" -> "Graham Pettifer": an honorific and a surname
            canonical = _latest(speakers, lambda name: name.split()[-1] == bare, mention)
        elif words[0].lower() in {"the", "this", "that"} or len(words) == 1:
            # An earlier speaker with the same head noun first ("the commission" -> "Tolvania's
            # Central Election Commission"), then one that has the head as a title ("the mayor" ->
            # "Mayor Jana Kovalik"), then one whose last name is the mention.
            for sp in reversed(speakers):
                if sp.head == head or (len(words) == 1 and sp.canonical.split()[-1] == mention):
                    canonical = sp.canonical
                    break
            else:
                for sp in reversed(speakers):
                    earlier = {w.lower().strip(",") for w in sp.canonical.split()}
                    if len(words) > 1 and head in earlier and sp.canonical.lower() != lower:
                        canonical = sp.canonical
                        break
        speakers.append(_Speaker(canonical, mention, head))
        return canonical


HONORIFIC = re.compile(r"^(?:Mr|Mrs|Ms|Dr|Prof|the)\.?\s+")
AGE_NOUN = re.compile(r"the \d{1,3}-year-old")


def _latest(speakers: list[_Speaker], fits: Callable[[str], bool], default: str) -> str:
    """The canonical name of the most recent speaker whose name ``fits``, else ``default``."""
    return next((sp.canonical for sp in reversed(speakers) if fits(sp.canonical)), default)


def _initials(name: str) -> str:
    """ "The Athletics Integrity Unit" -> "AIU": the initials of its capitalised words."""
    return "".join(w[0] for w in name.split() if w[0].isupper() and w.lower() != "the")


def _direct(
    text: str, group: list[Quote], mention: str | None, canonical: str | None, cue: str | None, context: str
) -> Statement:
    spans = [_trim(text, a, b) for q in group for a, b in q.parts]
    spans = [(a, b - 1) if b > a and text[b - 1] == "," else (a, b) for a, b in spans]
    joined = " ".join(text[a:b] for a, b in spans)
    return Statement(
        joined, spans[0][0], spans[-1][1], "direct", canonical, mention, cue, context, tuple(spans)
    )


def _extend(text: str, prev: Statement, quote: Quote) -> Statement:
    """``prev`` with the parts of a quote that continues it."""
    spans = [*(prev.parts or ((prev.start, prev.end),)), *(_trim(text, a, b) for a, b in quote.parts)]
    joined = " ".join(text[a:b] for a, b in spans)
    return replace(prev, text=joined, end=spans[-1][1], parts=tuple(spans))


NAME = r"(?:[A-Z][\w’'.-]*\.?\s+){0,3}[A-Z][\w’'-]+"


def _named(text: str, st: Statement) -> Statement:
    """Give a statement whose speaker is only a description the name the article gives it elsewhere.

    "The chief executive of Fenwick's said ..." becomes "Alastair Brooke" when the story also
    writes "Fenwick's chief executive, Alastair Brooke"; "the AIU" becomes "the Athletics Integrity
    Unit" from "the Athletics Integrity Unit (AIU)". Only an unambiguous name is taken.
    """
    speaker = st.speaker
    if not speaker or _is_proper_name(speaker):
        return st
    named = re.search(re.escape(speaker) + r",?\s+" + SELF_NAMED.pattern, st.context)
    if named:
        return replace(st, speaker=named.group(1))  # "The group, which calls itself GreyMantis, said"
    words = speaker.split()
    if len(words) >= 3 and words[0].lower() == "the" and all(w[0].isupper() for w in words[1:]):
        return st  # "the Northern Dawn Brigades": already a name
    if len(words) == 2 and words[0].lower() == "the" and words[1].isupper():
        found = set(re.findall(rf"((?:the\s+)?{NAME}(?:\s+[a-z]+\s+{NAME})?)\s+\({words[1]}\)", text))
        if len(found) == 1:
            return replace(st, speaker=found.pop())
        return st
    if words[0].lower() not in DETERMINERS and words[-1].lower() not in ROLE_NOUNS:
        return st
    # the head noun: "the chief executive of Fenwick's" -> "executive"
    described = speaker.split(" of ")[0].split()
    head = re.sub(r"[’']s$", "", described[-1])
    # the head in either case ("minister" / "Foreign Minister Hélène Vasseur-Diop")
    head = f"[{head[0].upper()}{head[0].lower()}]{re.escape(head[1:])}"
    names = set(re.findall(rf"\b{head},?\s+({NAME})(?=[\s,.;:])", text))  # "spokesman Petr Hanák"
    # "Alastair Brooke, the chief executive": an apposition within one clause (no dateline dash,
    # bracket or line break between, and a determiner after the comma)
    names |= set(re.findall(rf"({NAME}),\s+(?:the|a|an|its|his|her)\s+[^,.;:—–()\n]{{0,50}}\b{head}\b", text))
    names = {
        n
        for n in names
        if _is_proper_name(n) and n.split()[0].lower() not in CUE_VERBS and not n.split()[0].isupper()
    }
    if len(names) == 1:
        return replace(st, speaker=names.pop())
    return st


# Lower-case words ending in -ed that are nouns or numerals, not past-tense verbs.
NOT_VERBS = frozenset("hundred need speed breed seed creed feed greed shed bed red reed".split())
IRREGULAR_PAST = frozenset(
    """went made took gave met won sent held led left ran fell rose came began brought kept found
    thought stood struck spoke wrote told said sold bought paid shut put set hit""".split()
)


def _cut_at_verb(chunk: str) -> str:
    """The words of ``chunk`` before its first verb: an auxiliary, a cue, a past tense, a "that"."""
    words = chunk.split()
    for k, w in enumerate(words):
        low = w.lower()
        if k == 0:
            continue
        if (
            low in CLAUSE_WORDS
            or (w[0].islower() and (low in CUE_VERBS or low in IRREGULAR_PAST))
            or (w[0].islower() and low.endswith("ed") and len(low) > 3 and low not in NOT_VERBS)
        ):
            return " ".join(words[:k])
    return chunk


def _is_description(phrase: str) -> bool:
    """A determiner or a possessive first: "the coast guard commander", "Ostrava's defense minister"."""
    first = phrase.split()[0]
    return first.lower() in DETERMINERS or bool(re.search(r"[’']s$", first))


def _is_proper_name(phrase: str) -> bool:
    """Capitalised words only (titles and particles allowed): "Rear Adm. Helena Voss", "Ali al-Sadr"."""
    words = phrase.split()
    particles = {"of", "de", "del", "da", "van", "von", "al", "bin", "la", "le", "du", "der"}
    return words[0].lower() not in DETERMINERS and all(w[0].isupper() or w in particles for w in words)


def _only_attribution(between: str) -> bool:
    """True if the text between two quotes is just an attribution (``the minister said,``)."""
    # The attribution ends with a comma, colon or full stop right before the quote resumes;
    # "..., adding that Lomaré « ... »" instead starts a partial quote inside reported speech.
    if not between.rstrip().endswith((",", ":", ".")):
        return False
    words = between.strip(" ,").split()
    return 1 <= len(words) <= 12 and any(w.strip(",.").lower() in CUE_VERBS for w in words)


def _is_bare_quote(text: str, s: int, e: int, inner: list[Quote]) -> bool:
    return len(inner) == 1 and not (text[s : inner[0].open] + text[inner[0].close + 1 : e]).strip(" .,!?;:")


def _mask_quotes(sentence: str, spans: list[tuple[int, int]]) -> str:
    """Replace quoted words by underscores so cue verbs inside quotes are not read as attribution."""
    chars = list(sentence)
    for a, b in spans:
        for k in range(a + 1, b):
            if not chars[k].isspace():
                chars[k] = "_"
    return "".join(chars)
