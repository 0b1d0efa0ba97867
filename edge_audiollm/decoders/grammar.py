"""Grammar-constrained decoding: a finite command grammar compiled into a trie-shaped
CTC network, searched with the sparse Viterbi over frame log-posteriors.

Template syntax (one string per alternative phrase shape):
    word            a literal word
    <rule>          any value of rule `rule`, recorded as slot `rule`
    <slot:rule>     the same, recorded as slot `slot`
    [ ... ]         optional
    ( a | b c )     alternatives
Rules map to a list of spoken values, or to {spoken: canonical value}.
Example: "turn (on | off) the lights [in the <room>]".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DecoderError
from . import ctcgraph
from .align import word_timings
from .logmath import check_log_probs
from .network import Network
from .network import viterbi as _viterbi
from .vocab import DEFAULT_CHARS, Vocabulary

_TOKEN = re.compile(r"\s*(\[|\]|\(|\)|\||<[^<>\s]+>|[^\s\[\]()|<>]+)")


@dataclass(frozen=True)
class Phrase:
    text: str
    intent: str | None = None
    slots: tuple = ()  # ((slot, canonical value), ...) in spoken order


def _tokenize(template: str):
    pos, out = 0, []
    template = template.strip()
    while pos < len(template):
        m = _TOKEN.match(template, pos)
        if not m:
            raise DecoderError(f"cannot parse grammar template {template!r} at position {pos}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _Expander:
    """Recursive descent over template tokens, producing (words, slots) expansions."""

    def __init__(self, rules: dict, limit: int):
        self.rules, self.limit = rules, limit

    def expand(self, template: str):
        self.toks, self.i = _tokenize(template), 0
        out = self._alts(end=None)
        if self.i != len(self.toks):
            raise DecoderError(f"unbalanced bracket in grammar template {template!r}")
        return out

    def _alts(self, end):
        options = self._seq()
        while self.i < len(self.toks) and self.toks[self.i] == "|":
            self.i += 1
            options = options + self._seq()
        if end is not None:
            if self.i >= len(self.toks) or self.toks[self.i] != end:
                raise DecoderError(f"missing {end!r} in grammar template")
            self.i += 1
        return options

    def _seq(self):
        acc = [((), ())]
        while self.i < len(self.toks) and self.toks[self.i] not in ("|", ")", "]"):
            item = self._item()
            acc = [(w1 + w2, s1 + s2) for w1, s1 in acc for w2, s2 in item]
            if len(acc) > self.limit:
                raise DecoderError(f"the grammar expands to more than {self.limit} phrases; "
                                   "split it or raise max_phrases")
        return acc

    def _item(self):
        tok = self.toks[self.i]
        self.i += 1
        if tok == "[":
            return [((), ())] + self._alts(end="]")
        if tok == "(":
            return self._alts(end=")")
        if tok.startswith("<"):
            slot, _, rule = tok[1:-1].partition(":")
            rule = rule or slot
            if rule not in self.rules:
                raise DecoderError(f"grammar rule <{rule}> is used but not defined")
            values = self.rules[rule]
            pairs = values.items() if isinstance(values, dict) else ((v, v) for v in values)
            return [(tuple(str(spoken).split()), ((slot, canon),)) for spoken, canon in pairs]
        return [((tok,), ())]


@dataclass(frozen=True)
class Grammar:
    phrases: tuple  # Phrase, ...

    @classmethod
    def from_phrases(cls, phrases) -> "Grammar":
        out = tuple(p if isinstance(p, Phrase) else Phrase(" ".join(str(p).split())) for p in phrases)
        if not out:
            raise DecoderError("a grammar needs at least one phrase")
        return cls(out)

    @classmethod
    def from_templates(cls, templates: dict, rules: dict | None = None, max_phrases: int = 50_000) -> "Grammar":
        """templates: {intent: [template, ...]} (intent may be None); rules: {name: values}."""
        ex = _Expander(rules or {}, max_phrases)
        phrases, seen = [], set()
        for intent, temps in templates.items():
            for temp in ([temps] if isinstance(temps, str) else temps):
                for words, slots in ex.expand(temp):
                    key = (" ".join(words), intent)
                    if words and key not in seen:
                        seen.add(key)
                        phrases.append(Phrase(key[0], intent, slots))
        if len(phrases) > max_phrases:
            raise DecoderError(f"the grammar has {len(phrases)} phrases, more than max_phrases={max_phrases}")
        return cls.from_phrases(phrases)

    def compile(self, vocab=None, blank: int = 0, optional_delimiters: bool = True) -> "CompiledGrammar":
        return compile_grammar(self, vocab, blank, optional_delimiters)


@dataclass(frozen=True, eq=False)
class CompiledGrammar:
    grammar: Grammar
    vocab: Vocabulary
    network: Network
    unit_word: np.ndarray  # word position (within its phrase) per network unit, -1 otherwise
    unit_node: np.ndarray  # trie node per unit (-1 for the root blank)
    # meta["gap"]: words are joined through blank-or-delimiter gaps
    node_phrase: np.ndarray  # phrase index ending at each trie node, -1 if none
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GrammarResult:
    text: str
    score: float  # Viterbi log score of the best path
    words: tuple  # WordTiming per word
    intent: str | None
    slots: dict
    phrase: Phrase
    gap_per_frame: float  # (best free-path score - score) / T: 0 = the grammar costs nothing
    nbest: tuple  # ((text, score), ...) best path score per phrase end, best first


def _slot_dict(slots) -> dict:
    """Slots as a dict; a slot filled more than once (list items) becomes a list."""
    out: dict = {}
    for name, value in slots:
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[name] = value
    return out


def compile_grammar(grammar: Grammar, vocab=None, blank: int = 0, optional_delimiters: bool = True):
    """Trie of the phrases' token sequences -> CTC network.

    With optional_delimiters (and a vocabulary that has a delimiter), words are joined
    through word gaps that accept blank or delimiter (see ctcgraph); otherwise the
    delimiter is a required token between words.
    """
    voc = Vocabulary.from_tokens(vocab if vocab is not None else DEFAULT_CHARS, blank)
    gap = optional_delimiters and voc.delimiter is not None
    tok, parent, word_pos, starts, children = [], [], [], [], [{}]  # children[0]: the root
    node_phrase: list[int] = []
    for pi, ph in enumerate(grammar.phrases):
        node = -1
        for k, w in enumerate(ph.text.split()):
            piece = voc.encode(w)
            if k and voc.delimiter is not None and not gap:
                piece = [voc.delimiter] + piece
            for j, t in enumerate(piece):
                is_delim = bool(k) and not gap and voc.delimiter is not None and j == 0
                new_word = gap and k > 0 and j == 0
                key = (t, new_word)  # "the"+"se" and "the"+" se.." must not share a node
                nxt = children[node + 1].get(key)
                if nxt is None:
                    nxt = len(tok)
                    children[node + 1][key] = nxt
                    children.append({})
                    tok.append(t), parent.append(node), word_pos.append(-1 if is_delim else k)
                    starts.append(new_word), node_phrase.append(-1)
                node = nxt
        if node_phrase[node] < 0:  # the same text under two intents: the first one wins
            node_phrase[node] = pi
    tok_a, par = np.array(tok, dtype=np.int64), np.array(parent, dtype=np.int64)
    has_par = par >= 0
    child = np.flatnonzero(has_par)
    finals = [n for n, p in enumerate(node_phrase) if p >= 0]
    net, unit_node = ctcgraph.build(tok_a, (par[has_par], child), [n for n in children[0].values()],
                                    finals, blank, gap=np.array(starts, dtype=bool)[child],
                                    gap_col=len(voc) if gap else None)
    N = tok_a.size
    unit_word = np.full(unit_node.size, -1)
    unit_word[0:2 * N:2] = word_pos
    return CompiledGrammar(grammar, voc, net, unit_word, unit_node, np.array(node_phrase, dtype=np.int64),
                           {"n_nodes": N, "n_states": net.n_states, "gap": gap})


def decode_grammar(log_probs, grammar, vocab=None, *, blank: int = 0, frame_rate_hz: float = 50.0,
                   nbest: int = 5) -> GrammarResult:
    """Best phrase of `grammar` (a Grammar, or a CompiledGrammar to skip compiling) for
    (T, V) CTC log-posteriors, with word times. Compile once when decoding many utterances."""
    cg = grammar if isinstance(grammar, CompiledGrammar) else compile_grammar(grammar, vocab, blank)
    lp = check_log_probs(log_probs)
    T, V = lp.shape
    if len(cg.vocab) != V:
        raise DecoderError(f"the grammar was compiled for {len(cg.vocab)} tokens but log_probs has V={V}")
    if T == 0:
        raise DecoderError("log_probs has no frames; there is nothing to decode")
    net = cg.network
    scores = ctcgraph.with_gap_column(lp, cg.vocab.blank, cg.vocab.delimiter) if cg.meta["gap"] else lp
    try:
        path, score, final = _viterbi(net, net.frame_scores(scores), return_final=True)
    except DecoderError:
        raise DecoderError(f"no grammar phrase fits in {T} frames; the utterance is too short") from None
    units = net.unit[path]
    node = int(cg.unit_node[units[-1]])
    phrase = cg.grammar.phrases[int(cg.node_phrase[node])]
    words = word_timings(phrase.text.split(), cg.unit_word, units, frame_rate_hz)
    # n-best: the best score ending at each phrase end (free from the same Viterbi pass)
    end_node = cg.unit_node[net.unit]
    ok = np.isfinite(final) & (end_node >= 0)
    per_phrase: dict[int, float] = {}
    for s in np.flatnonzero(ok):
        p = int(cg.node_phrase[end_node[s]])
        if p >= 0 and final[s] > per_phrase.get(p, -np.inf):
            per_phrase[p] = float(final[s])
    ranked = sorted(per_phrase.items(), key=lambda kv: -kv[1])[:max(1, nbest)]
    free = float(np.max(scores, axis=1).sum())
    return GrammarResult(phrase.text, score, words, phrase.intent, _slot_dict(phrase.slots), phrase,
                         (free - score) / T, tuple((cg.grammar.phrases[p].text, s) for p, s in ranked))
