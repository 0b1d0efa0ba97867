"""CTC prefix beam search (exposed as `ctc.prefix_beam_search`).

Each prefix (a labelling) carries two acoustic log-scores: paths ending in blank (pb) and
paths ending in its last token (pnb). Per frame, every beam is extended by every token at
once as a (W, V) array; prefixes that an extension reproduces are merged first, then the
best W of "stay" and "extend" candidates survive. Only the W survivors are touched in
Python, so the cost is O(T * W * V) in numpy plus O(T * W) in Python.

Ranking score = acoustic + lm_weight * ln p_LM(words) + word_bonus * n_words + hotwords
+ unk_offset * (words outside the LM's vocabulary). The LM is applied when a word is complete
(delimiter or "▁" piece) and, at the end, to the last word and </s>. With unk_offset < 0 the
lexicon acts as early as it can (as pyctcdecode's does): a partial word that no vocabulary word
starts with already pays the offset, so misspellings lose to words before their beams crowd
the real word out. Without an LM the score is the CTC marginal log p(labels | x) as far
as the beam has kept the paths (exact when the beam holds every prefix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import DecoderError
from .arpa import EOS, LN10, ArpaLM
from .hotwords import ROOT, HotwordBooster
from .logmath import NEG_INF, check_index, check_log_probs
from .vocab import Vocabulary


@dataclass(frozen=True)
class BeamOptions:
    """Knobs beyond the contract's arguments. Weights are in natural-log units."""

    blank: int = 0
    lm_weight: float = 0.5  # alpha: scale on ln p_LM
    word_bonus: float = 1.0  # beta: added per word when an LM is used
    hotword_weight: float = 10.0  # per hotword, unless hotwords is a {phrase: weight} dict
    unk_offset: float = 0.0  # added per word (or partial word) outside the LM's vocabulary; <= 0
    token_min_logp: float | None = None  # skip tokens scoring below this at a frame (speed; inexact)
    # Drop a frame whose blank log-prob is at least this when the frame before it is such a frame
    # too: a run of sure blanks is searched as one (speed; inexact by the run's tiny non-blank mass).
    # One blank of each run stays, so a letter repeated across it is still two letters.
    blank_run_logp: float | None = None
    beam_prune_logp: float | None = None  # drop beams this far below the best (speed; inexact)

    def __post_init__(self):
        for name in ("lm_weight", "word_bonus", "hotword_weight", "unk_offset"):
            if not math.isfinite(getattr(self, name)):
                raise DecoderError(f"BeamOptions.{name} must be finite")
        if self.unk_offset > 0:
            raise DecoderError(f"BeamOptions.unk_offset is a penalty: use a value <= 0, not {self.unk_offset}")
        for name in ("token_min_logp", "beam_prune_logp", "blank_run_logp"):
            v = getattr(self, name)
            if v is not None and math.isnan(v):
                raise DecoderError(f"BeamOptions.{name} must be a number or None, not NaN")


@dataclass(frozen=True)
class Hypothesis:
    tokens: list  # token ids
    score: float  # ranking score (acoustic + weighted LM + bonuses)
    timesteps: list  # frame at which each token was first emitted
    text: str | None = None  # when a vocab is given
    acoustic_score: float = 0.0  # CTC log-score of the kept paths
    lm_score: float = 0.0  # unweighted ln p_LM(words, with <s> and </s>); 0 without an LM
    hotword_score: float = 0.0
    words: tuple = ()
    oov_words: int = 0  # words outside the LM's vocabulary, each charged unk_offset (when it is < 0)


class _Text:
    """Per-prefix text state; immutable so that beams can share it."""

    __slots__ = ("partial", "lm_state", "lm_ln", "n_words", "hot_node", "hot", "extra", "n_oov")

    def __init__(self, partial, lm_state, lm_ln, n_words, hot_node, hot, extra, n_oov=0):
        self.partial, self.lm_state, self.lm_ln = partial, lm_state, lm_ln
        self.n_words, self.hot_node, self.hot, self.extra = n_words, hot_node, hot, extra
        self.n_oov = n_oov  # words, and a partial word, outside the lexicon


class _Scorer:
    """Everything about the text side of a hypothesis: LM, word bonus, hotwords."""

    def __init__(self, V, vocab, lm, booster, opts):
        self.V, self.vocab, self.lm, self.booster, self.opts = V, vocab, lm, booster, opts
        self.bound = np.array(vocab.boundary, dtype=np.float64) if vocab else None
        self.bonus = opts.word_bonus if lm is not None else 0.0
        # The lexicon: only with an LM (its unigrams) and a penalty to apply.
        self.lexicon = lm.lexicon() if lm is not None and opts.unk_offset < 0 else None
        # Rows computed from the LM's own lexicon are shared by every search on it; a search whose
        # hotwords widen the lexicon keeps its own.
        self._oov_rows: dict = {}
        if self.lexicon is not None and booster is not None and booster.words - self.lexicon[0]:
            # a hotword is a word the user says exists, whatever the LM's vocabulary
            from .arpa import Prefixes

            words = self.lexicon[0] | booster.words
            self.lexicon = (words, Prefixes(sorted(words)))
        elif self.lexicon is not None:
            self._oov_rows = lm.memo(("oov_rows", vocab.chars, vocab.boundary, opts.unk_offset))

    def root(self) -> _Text:
        return _Text("", self.lm.begin_state() if self.lm else (), 0.0, 0, ROOT, 0.0, 0.0)

    def _oov_row(self, partial: str) -> np.ndarray:
        """unk_offset where appending a token takes `partial` out of the lexicon (memoised:
        it depends on the partial word alone)."""
        row = self._oov_rows.get(partial)
        if row is not None:
            return row
        words, prefixes = self.lexicon
        inside = not partial or partial in prefixes  # outside already: it has paid
        after = prefixes.next_chars(partial) if inside else frozenset()
        row = np.zeros(self.V)
        for c, ch in enumerate(self.vocab.chars):
            if self.vocab.boundary[c]:
                if partial and inside and partial not in words:
                    row[c] += self.opts.unk_offset  # completes a word the lexicon lacks
                if ch and ch not in prefixes:
                    row[c] += self.opts.unk_offset  # and starts one no word starts with
            elif ch and inside and not (ch in after if len(ch) == 1 else partial + ch in prefixes):
                row[c] = self.opts.unk_offset
        row.flags.writeable = False  # shared by every search on this LM
        if len(self._oov_rows) < 100_000:
            self._oov_rows[partial] = row
        return row

    def row(self, s: _Text):
        """Non-acoustic score change for appending each token, or None if all zero."""
        row = None
        if self.lm is not None and s.partial:
            lp10, _ = self.lm.score_word(s.lm_state, s.partial)
            row = self.bound * (self.opts.lm_weight * lp10 * LN10 + self.bonus)
        if self.lexicon is not None:
            orow = self._oov_row(s.partial)
            row = orow if row is None else row + orow
        if self.booster is not None:
            hrow = self.booster.row(s.hot_node)[0]
            row = hrow if row is None else row + hrow
        return row

    def _n_oov(self, partial: str, n_complete_oov: int) -> int:
        return n_complete_oov + (1 if partial and partial not in self.lexicon[1] else 0)

    def extend(self, s: _Text, c: int) -> _Text:
        if self.vocab is None:
            return s
        partial, lm_state, lm_ln, n_words = s.partial, s.lm_state, s.lm_ln, s.n_words
        oov_done = s.n_oov  # complete words outside the lexicon (the partial is counted below)
        if self.lexicon is not None and partial and partial not in self.lexicon[1]:
            oov_done -= 1
        if self.vocab.boundary[c] and partial:
            if self.lm is not None:
                lp10, lm_state = self.lm.score_word(lm_state, partial)
                lm_ln += lp10 * LN10
            if self.lexicon is not None and partial not in self.lexicon[0]:
                oov_done += 1
            n_words += 1
            partial = ""
        partial += self.vocab.chars[c]
        node, hot = s.hot_node, s.hot
        if self.booster is not None:
            delta, nodes = self.booster.row(node)
            hot, node = hot + delta[c], nodes[c]
        n_oov = self._n_oov(partial, oov_done) if self.lexicon is not None else 0
        extra = self.opts.lm_weight * lm_ln + self.bonus * n_words + hot + self.opts.unk_offset * n_oov
        return _Text(partial, lm_state, lm_ln, n_words, node, hot, extra, n_oov)

    def finish(self, s: _Text) -> tuple[float, float, float, int]:
        """(extra, lm_ln, hot, oov words) once the utterance has ended."""
        lm_ln, n_words, hot, n_oov = s.lm_ln, s.n_words, s.hot, s.n_oov
        if s.partial:
            n_words += 1
            if self.lexicon is not None and s.partial in self.lexicon[1] and s.partial not in self.lexicon[0]:
                n_oov += 1  # a prefix of words, ended before it became one
        if self.lm is not None:
            state = s.lm_state
            if s.partial:
                lp10, state = self.lm.score_word(state, s.partial)
                lm_ln += lp10 * LN10
            lm_ln += self.lm.score_word(state, EOS)[0] * LN10
        if self.booster is not None:
            hot += self.booster.finish(s.hot_node)
        extra = self.opts.lm_weight * lm_ln + self.bonus * n_words + hot + self.opts.unk_offset * n_oov
        return extra, lm_ln, hot, n_oov


def prefix_beam_search(log_probs, beam_width: int = 8, vocab=None, lm=None, hotwords=None, *,
                       options: BeamOptions | None = None) -> list[Hypothesis]:
    """CTC prefix beam search; returns up to `beam_width` hypotheses, best first.

    vocab: list of token strings (characters with " " or "|" as delimiter, or
        SentencePiece pieces with "▁"); needed for .text, `lm` and `hotwords`.
    lm: an `ArpaLM` or the path of an ARPA file (weights in `options`).
    hotwords: list of words/phrases (each worth options.hotword_weight) or {phrase: weight}.
    """
    opts = options if options is not None else BeamOptions()
    if not isinstance(opts, BeamOptions):
        raise DecoderError("options must be a BeamOptions instance")
    lp = check_log_probs(log_probs)
    T, V = lp.shape
    blank = check_index(opts.blank, "blank", V)
    if isinstance(beam_width, bool) or not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
        raise DecoderError(f"beam_width must be a positive integer, got {beam_width!r}")
    voc = None
    if vocab is not None:
        voc = Vocabulary.from_tokens(vocab, blank)
        if len(voc) != V:
            raise DecoderError(f"vocab has {len(voc)} tokens but log_probs has V={V}; "
                               "they must come from the same model")
    if (lm is not None or hotwords) and voc is None:
        raise DecoderError("an LM or hotwords need a vocab to turn tokens into words")
    if lm is not None and not isinstance(lm, ArpaLM):
        lm = ArpaLM.from_file(lm)
    booster = HotwordBooster(hotwords, voc, opts.hotword_weight) if hotwords else None
    scorer = _Scorer(V, voc, lm, booster, opts)
    frames = None
    if opts.blank_run_logp is not None and T > 1:
        sure = lp[:, blank] >= opts.blank_run_logp
        frames = np.flatnonzero(~(sure & np.concatenate([[False], sure[:-1]])))
        lp = lp[frames]
    hyps = _search(lp, int(beam_width), blank, scorer, opts)
    if frames is not None:  # timesteps in the caller's frames
        hyps = [replace(h, timesteps=[int(frames[t]) for t in h.timesteps]) for h in hyps]
    return hyps


def _search(lp, W, blank, scorer, opts):
    T, V = lp.shape
    nonblank = np.flatnonzero(np.arange(V) != blank)
    trie: dict = {}  # (parent prefix id, token) -> prefix id: O(1) prefix identity
    # beam state: parallel arrays + python records
    PB = np.array([0.0])
    PNB = np.array([NEG_INF])
    LAST = np.array([-1])
    PID = [0]
    PARENT = [-1]
    TOK = [()]
    TIMES = [()]
    TEXT = [scorer.root()]
    zero = np.zeros(V)
    r0 = scorer.row(TEXT[0])
    XROW = (r0 if r0 is not None else zero)[None, :]
    EXTRA = np.array([0.0])
    # best mass that entered each beam's last token at one frame: the token's timestep is
    # the frame where most of its paths start, not the frame the prefix first appeared
    TSC = np.array([NEG_INF])

    for t in range(T):
        lpt = lp[t]
        if opts.token_min_logp is not None:
            cols = nonblank[lpt[nonblank] >= opts.token_min_logp]
            best = nonblank[np.argmax(lpt[nonblank])] if nonblank.size else None
            if best is not None and best not in cols:
                cols = np.append(cols, best)
        else:
            cols = nonblank
        colpos = np.full(V, -1)
        colpos[cols] = np.arange(cols.size)
        n = PB.size
        PT = np.logaddexp(PB, PNB)
        ext = PT[:, None] + lpt[cols][None, :]
        has_last = LAST >= 0
        last_safe = np.where(has_last, LAST, blank)
        # a repeated token extends the prefix only across a blank (paths in pb)
        rep = np.flatnonzero(has_last & (colpos[last_safe] >= 0))
        ext[rep, colpos[LAST[rep]]] = PB[rep] + lpt[LAST[rep]]
        new_pb = PT + lpt[blank]
        new_pnb = np.where(has_last, PNB + lpt[last_safe], NEG_INF)
        # merge: extending beam i by c may reproduce beam j; give j that mass instead. Prefix
        # ids are unique, so no two beams j share one (i, c): the updates are one vector step.
        index = {pid: i for i, pid in enumerate(PID)}
        parent = np.array([index.get(q, -1) for q in PARENT])
        pos = colpos[last_safe]
        js = np.flatnonzero((parent >= 0) & (pos >= 0) & has_last)
        if js.size:
            i_s, p_s = parent[js], pos[js]
            mass = ext[i_s, p_s]
            new_pnb[js] = np.logaddexp(new_pnb[js], mass)
            for j in js[mass > TSC[js]].tolist():
                TIMES[j] = TIMES[j][:-1] + (t,)
            TSC[js] = np.maximum(TSC[js], mass)
            ext[i_s, p_s] = NEG_INF
        stay = np.logaddexp(new_pb, new_pnb) + EXTRA
        extend = ext + EXTRA[:, None] + XROW[:, cols]
        pool = np.concatenate([stay, extend.ravel()])
        k = min(W, pool.size)
        top = np.argpartition(-pool, k - 1)[:k] if k < pool.size else np.arange(pool.size)
        top = top[np.argsort(-pool[top], kind="stable")]
        if np.isfinite(pool[top[0]]):
            keep = np.isfinite(pool[top])
            if opts.beam_prune_logp is not None:
                keep &= pool[top] >= pool[top[0]] - opts.beam_prune_logp
            top = top[keep]
        # rebuild the beam from the winners
        s_idx = top[top < n]
        e_idx = top[top >= n] - n
        e_beam, e_col = np.divmod(e_idx, cols.size)
        e_tok = cols[e_col]
        nPB = [new_pb[s_idx], np.full(e_idx.size, NEG_INF)]
        nPNB = [new_pnb[s_idx], ext[e_beam, e_col]]
        nLAST = [LAST[s_idx], e_tok]
        TSC = np.concatenate([TSC[s_idx], ext[e_beam, e_col]])
        PID2 = [PID[j] for j in s_idx]
        PARENT2 = [PARENT[j] for j in s_idx]
        TOK2 = [TOK[j] for j in s_idx]
        TIMES2 = [TIMES[j] for j in s_idx]
        TEXT2 = [TEXT[j] for j in s_idx]
        rows = [XROW[s_idx]]
        for i, c in zip(e_beam.tolist(), e_tok.tolist()):
            key = (PID[i], c)
            pid = trie.get(key)
            if pid is None:
                pid = trie[key] = len(trie) + 1
            PID2.append(pid)
            PARENT2.append(PID[i])
            TOK2.append(TOK[i] + (c,))
            TIMES2.append(TIMES[i] + (t,))
            txt = scorer.extend(TEXT[i], c)
            TEXT2.append(txt)
            r = scorer.row(txt)
            rows.append((r if r is not None else zero)[None, :])
        PB, PNB, LAST = np.concatenate(nPB), np.concatenate(nPNB), np.concatenate(nLAST)
        PID, PARENT, TOK, TIMES, TEXT = PID2, PARENT2, TOK2, TIMES2, TEXT2
        XROW = np.concatenate(rows)
        EXTRA = np.array([x.extra for x in TEXT])

    hyps = []
    for j in range(PB.size):
        acoustic = float(np.logaddexp(PB[j], PNB[j]))
        extra, lm_ln, hot, n_oov = scorer.finish(TEXT[j])
        voc = scorer.vocab
        hyps.append(Hypothesis(
            tokens=list(TOK[j]), score=acoustic + extra, timesteps=list(TIMES[j]),
            text=voc.text(TOK[j]) if voc else None, acoustic_score=acoustic,
            lm_score=float(lm_ln), hotword_score=float(hot),
            words=tuple(voc.words(TOK[j])) if voc else (), oov_words=n_oov))
    hyps.sort(key=lambda h: -h.score)
    return hyps
