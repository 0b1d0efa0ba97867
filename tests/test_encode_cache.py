"""The encoder-state cache refuses states that belong to another corpus."""

import numpy as np
import pytest

from models.train.encode_cache import check_source


def _manifest(corpus, text):
    corpus.mkdir(exist_ok=True)
    (corpus / "train.jsonl").write_text('{"path": "a.wav", "text": "%s"}\n' % text)


def test_cache_is_stamped_then_refused_for_another_manifest(tmp_path):
    corpus, target = tmp_path / "corpus", tmp_path / "cache" / "train"
    _manifest(corpus, "turn on the lights")
    check_source(corpus, "train", target)
    np.save(target / "train-000000-a.npy", np.zeros((3, 4), np.float16))
    check_source(corpus, "train", target)  # same manifest: fine, resumes
    _manifest(corpus, "set a timer")
    with pytest.raises(SystemExit, match="another train.jsonl"):
        check_source(corpus, "train", target)


def test_unstamped_states_are_refused(tmp_path):
    corpus, target = tmp_path / "corpus", tmp_path / "cache" / "train"
    _manifest(corpus, "lock the door")
    target.mkdir(parents=True)
    np.save(target / "x.npy", np.zeros((3, 4), np.float16))
    with pytest.raises(SystemExit, match="unknown origin"):
        check_source(corpus, "train", target)


def test_cache_of_another_encoder_is_refused(tmp_path):
    """A retrained codec emits other codes for the same audio: its cache must not be resumed into."""
    corpus, target = tmp_path / "corpus", tmp_path / "cache" / "train"
    _manifest(corpus, "open the window")
    check_source(corpus, "train", target, encoder="a" * 64)
    np.save(target / "train-000000-a.npy", np.zeros((3, 4), np.float16))
    check_source(corpus, "train", target, encoder="a" * 64)  # same encoder: resumes
    with pytest.raises(SystemExit, match="another encoder"):
        check_source(corpus, "train", target, encoder="b" * 64)
    from models.train.encode_cache import cached_encoder

    assert cached_encoder(tmp_path / "cache", "train") == "a" * 64
