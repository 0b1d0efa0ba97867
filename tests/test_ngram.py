"""models/ngram.py writes ARPA LMs that the runtime's reader scores as proper distributions."""

import pytest

from edge_audiollm.decoders.arpa import ArpaLM
from models.ngram import train_kn, write_arpa

SENTENCES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat ate the dog food",
             "set a timer for five minutes", "set an alarm for six"] * 3


@pytest.mark.parametrize("order,min_count_top,min_count_mid,name", [
    (2, 1, 1, "lm.arpa"), (3, 1, 1, "lm.arpa"), (3, 4, 1, "lm.arpa"), (4, 2, 1, "lm.arpa"),
    (3, 4, 4, "lm.arpa.gz"), (4, 6, 4, "lm.arpa.gz")])
def test_every_history_sums_to_one(tmp_path, order, min_count_top, min_count_mid, name):
    probs, bows = train_kn(SENTENCES, order, min_count_top, min_count_mid)
    lm = ArpaLM.from_file(write_arpa(tmp_path / name, probs, bows, order))
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


def test_cutoffs_prune_middle_orders_and_keep_prefixes(tmp_path):
    full, _ = train_kn(SENTENCES, 3, 1, 1)
    pruned, _ = train_kn(SENTENCES, 3, 4, 4)
    assert sum(len(g) == 2 for g in pruned) < sum(len(g) == 2 for g in full)
    # ARPA: every listed n-gram's prefix is listed too.
    assert all(g[:-1] in pruned for g in pruned if len(g) > 1)
    path = write_arpa(tmp_path / "lm.arpa.gz", pruned, {}, 3)
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    with pytest.raises(ValueError, match="min_count_mid"):
        train_kn(SENTENCES, 3, 2, 3)
