"""models/ngram.py writes ARPA LMs that the runtime's reader scores as proper distributions."""

import pytest

from edge_audiollm.decoders.arpa import ArpaLM
from models.ngram import train_kn, write_arpa

SENTENCES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat ate the dog food",
             "set a timer for five minutes", "set an alarm for six"] * 3


@pytest.mark.parametrize("order,min_count_top", [(2, 1), (3, 1), (3, 4), (4, 2)])
def test_every_history_sums_to_one(tmp_path, order, min_count_top):
    probs, bows = train_kn(SENTENCES, order, min_count_top)
    lm = ArpaLM.from_file(write_arpa(tmp_path / "lm.arpa", probs, bows, order))
    words = [w for w in lm.vocab if w != "<s>"]
    for history in [(), ("the",), ("the", "cat"), ("sat", "on"), ("zebra",), ("set", "a", "timer")]:
        state = lm.begin_state()
        for w in history:
            _, state = lm.score_word(state, w)
        total = sum(10 ** lm.score_word(state, w)[0] for w in words)
        assert total == pytest.approx(1.0, abs=1e-4), history


def test_seen_continuations_beat_unseen(tmp_path):
    probs, bows = train_kn(SENTENCES, 3)
    lm = ArpaLM.from_file(write_arpa(tmp_path / "lm.arpa", probs, bows, 3))
    _, state = lm.score_word(lm.begin_state(), "set")
    assert lm.score_word(state, "a")[0] > lm.score_word(state, "dog")[0] > lm.score_word(state, "zebra")[0]
