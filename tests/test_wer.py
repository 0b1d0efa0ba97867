"""edge_audiollm/wer.py: exact edit counts on hand-aligned examples, the normaliser's number and
punctuation rules, and the defined behaviour of empty references and hypotheses; plus the
evaluation-set readers of bench/datasets.py that feed it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from bench import datasets
from edge_audiollm.wer import (EditCounts, cer, char_counts, edit_counts, int_to_words, normalize, ordinal_words, score, wer,
                       word_counts, year_to_words)

# ---------------------------------------------------------------------------- edit distance


def test_identical_is_zero():
    assert wer("the cat sat on the mat", "the cat sat on the mat") == 0.0
    assert word_counts("the cat sat", "the cat sat") == EditCounts(0, 0, 0, 3)


@pytest.mark.parametrize("ref, hyp, expected", [
    # one substitution out of six words
    ("the cat sat on the mat", "the cat sit on the mat", EditCounts(1, 0, 0, 6)),
    # "on" deleted
    ("the cat sat on the mat", "the cat sat the mat", EditCounts(0, 1, 0, 6)),
    # "big" inserted
    ("the cat sat on the mat", "the big cat sat on the mat", EditCounts(0, 0, 1, 6)),
    # sub (sat->sit), del (on), ins (down): 3 edits over 6
    ("the cat sat on the mat", "the cat sit the mat down", EditCounts(1, 1, 1, 6)),
    # everything wrong and longer: 2 subs + 1 ins
    ("ten of", "a b c", EditCounts(2, 0, 1, 2)),
    # PocketSphinx on cards/002: "four" heard as "for"
    ("four queen of clubs", "for queen of clubs", EditCounts(1, 0, 0, 4)),
])
def test_hand_computed_counts(ref, hyp, expected):
    got = word_counts(ref, hyp)
    assert got == expected
    assert wer(ref, hyp) == pytest.approx(expected.edits / expected.ref_len)


def test_wer_can_exceed_one():
    assert wer("yes", "no no no") == pytest.approx(3.0)  # 1 sub + 2 ins over 1 word


def test_edit_counts_is_levenshtein():
    # Classic: kitten -> sitting is 3 (k->s, e->i, +g).
    c = edit_counts("kitten", "sitting")
    assert (c.edits, c.ref_len) == (3, 6)
    assert c.substitutions == 2 and c.insertions == 1
    # Symmetric in total edits; insertions and deletions swap.
    r = edit_counts("sitting", "kitten")
    assert r.edits == 3 and r.deletions == 1


def test_edit_counts_against_brute_force_dp():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = list(rng.integers(0, 4, rng.integers(0, 9)))
        b = list(rng.integers(0, 4, rng.integers(0, 9)))
        d = np.zeros((len(a) + 1, len(b) + 1), int)
        d[:, 0], d[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
        c = edit_counts(a, b)
        assert c.edits == d[-1, -1]
        # The split is a real alignment: lengths must add up.
        assert len(a) - c.deletions + c.insertions == len(b)


def test_cer_counts_characters_with_spaces():
    c = char_counts("ten of clubs", "ten of club")
    assert (c.edits, c.ref_len) == (1, 12)
    assert cer("ab", "ab") == 0.0


# ---------------------------------------------------------------------------- empty sides


def test_both_empty_is_zero():
    assert wer("", "") == 0.0
    assert cer("", "") == 0.0
    assert word_counts("", "") == EditCounts(0, 0, 0, 0)


def test_empty_reference_counts_insertions():
    c = word_counts("", "thank you")
    assert c == EditCounts(0, 0, 2, 0)
    assert wer("", "thank you") == 2.0  # denominator one for an empty reference


def test_empty_hypothesis_counts_deletions():
    assert word_counts("go forward ten meters", "") == EditCounts(0, 4, 0, 4)
    assert wer("go forward ten meters", "") == 1.0


def test_punctuation_only_hypothesis_is_empty():
    assert wer("", " . ... [Music]") == 0.0


def test_group_score_is_total_edits_over_total_words():
    s = score([("a b c d", "a b c d"), ("e", "f"), ("", "x y")])
    # 0 + 1 + 2 edits over 4 + 1 + 0 words, not the mean of per-utterance rates
    assert s.words.edits == 3 and s.words.ref_len == 5
    assert s.wer == pytest.approx(3 / 5)
    assert s.utterances == 3
    assert score([]).wer == 0.0


# ---------------------------------------------------------------------------- normaliser


@pytest.mark.parametrize("text, expected", [
    ("Go forward 10 meters.", "go forward ten meters"),
    ("10 of clubs", "ten of clubs"),
    ("5 5", "five five"),
    ("0", "zero"),
    ("21", "twenty one"),
    ("100", "one hundred"),
    ("121", "one hundred twenty one"),
    ("1000", "one thousand"),
    ("1,000", "one thousand"),
    ("12,345", "twelve thousand three hundred forty five"),
    ("2,000,000", "two million"),
    ("007", "zero zero seven"),
    ("-5", "minus five"),
])
def test_integers(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1990", "nineteen ninety"),
    ("in 1066", "in ten sixty six"),
    ("1900", "nineteen hundred"),
    ("1905", "nineteen oh five"),
    ("2000", "two thousand"),
    ("2005", "two thousand five"),
    ("2026", "twenty twenty six"),
    ("the 1990s", "the nineteen nineties"),
    ("the 80s", "the eighties"),
])
def test_years(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1st", "first"), ("2nd", "second"), ("3rd", "third"), ("4th", "fourth"), ("12th", "twelfth"),
    ("20th", "twentieth"), ("21st", "twenty first"), ("the 112th day", "the one hundred twelfth day"),
])
def test_ordinals(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("3.5", "three point five"),
    ("0.25", "zero point two five"),
    ("50%", "fifty percent"),
    ("3.5 %", "three point five percent"),
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$5.50", "five dollars fifty cents"),
    ("it was 10.", "it was ten"),
    ("version 1.2.3", "version one two three"),
])
def test_decimals_percent_money(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Wake me at 7:00 a.m.", "wake me at seven a m"),
    ("at 7:05 pm", "at seven oh five p m"),
    ("10:30am", "ten thirty a m"),
    ("7am", "seven a m"),
    ("seven o'clock am", "seven o'clock a m"),
    ("I am here", "i am here"),  # "am" the verb is left alone
])
def test_times(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("And Mr. John Dashwood had then leisure.", "and mister john dashwood had then leisure"),
    ("Cold-hearted and ill-disposed", "cold hearted and ill disposed"),
    ("I don't know, it's John's.", "i don't know it's john's"),
    ("the dogs' 'quoted' word", "the dogs quoted word"),
    ("It\u2019s fine", "it's fine"),
    ("Eight of spades, four of clubs!", "eight of spades four of clubs"),
    ("  lots   of\tspace\n", "lots of space"),
    ("[Music] (upbeat music) <sil> yes", "yes"),
    ("Um, OK, uh, yes", "okay yes"),
    ("one hundred and five", "one hundred five"),
    ("bread and butter", "bread and butter"),
    ("Caf\u00e9", "cafe"),
    ("twenty-one", "twenty one"),
])
def test_words_and_punctuation(text, expected):
    assert normalize(text) == expected


def test_normaliser_makes_spelling_conventions_free():
    assert wer("go forward ten meters", "Go forward 10 meters.") == 0.0
    assert wer("nineteen ninety", "1990") == 0.0
    assert wer("one hundred and five", "105") == 0.0
    assert wer("and mister john dashwood", "And Mr. John Dashwood") == 0.0


def test_number_helpers():
    assert int_to_words(999_999) == "nine hundred ninety nine thousand nine hundred ninety nine"
    assert year_to_words(1999) == "nineteen ninety nine"
    assert ordinal_words(3) == "third"
    assert normalize("1" * 25) == " ".join(["one"] * 25)  # beyond the scales: digit by digit


# ---------------------------------------------------------------------------- evaluation sets


def test_parse_sphinx_transcription():
    text = ("<s> he was not an ill disposed young man </s> (sense_and_sensibility_01_austen_64kb-0880)\n"
            "<s> ten of clubs  </s> (001)\n\n")
    assert datasets.parse_sphinx_transcription(text) == {
        "sense_and_sensibility_01_austen_64kb-0880": "he was not an ill disposed young man", "001": "ten of clubs"}
    with pytest.raises(ValueError):
        datasets.parse_sphinx_transcription("no id here")


def test_synthetic_manifest_paths_and_subsample(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "test_synthetic" / "v").mkdir(parents=True)
    rows = []
    for k in range(6):
        p = corpus / "test_synthetic" / "v" / f"{k}.wav"
        sf.write(str(p), np.zeros(1600, np.float32), 16000, subtype="PCM_16")
        # half relative to the corpus directory, half absolute
        rows.append({"path": str(p if k % 2 else p.relative_to(corpus)), "text": f"utterance {k}", "intent": "x",
                     "slots": {}, "voice": "v", "id": f"u{k}"})
    (corpus / "test_synthetic.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sets, notes = datasets.load_groups(["synthetic", "noisy"], corpus_dir=corpus, max_synthetic=4)
    assert [n.group for n in notes] == ["noisy"]  # absent manifest: a note, not an error
    utts = sets["synthetic"]
    assert len(utts) == 4 and all(u.path.exists() for u in utts)
    again, _ = datasets.load_groups(["synthetic"], corpus_dir=corpus, max_synthetic=4)
    assert [u.id for u in again["synthetic"]] == [u.id for u in utts]  # deterministic
    assert utts[0].load().dtype == np.float32


def test_raw_audio_is_int16_16k(tmp_path):
    p = tmp_path / "x.raw"
    np.array([0, 16384, -32768], "<i2").tofile(p)
    np.testing.assert_allclose(datasets.load_samples(p), [0.0, 0.5, -1.0])


def test_noisy_subsample_keeps_the_clean_commands(tmp_path):
    # test_noisy is test_synthetic's commands again (new paths and ids): a subsample of each must
    # pick the same commands, so that clean and noisy figures compare like with like.
    corpus = tmp_path / "corpus"
    clean, noisy = [], []
    for k in range(40):
        row = {"text": f"command {k}", "voice": "v", "speaker": "s", "rate": 1.0, "pitch_semitones": 0.0}
        clean.append({**row, "path": f"test_synthetic/v/{k}.wav", "id": f"c{k}"})
        if k % 4:  # general sentences (every fourth) are not in test_noisy
            noisy.append({**row, "path": f"test_noisy/v/{k}.wav", "id": f"n{k}"})
    corpus.mkdir()
    for name, rows in (("test_synthetic.jsonl", clean), ("test_noisy.jsonl", noisy)):
        (corpus / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    picked_clean = {u.text for u in datasets.synthetic_group("synthetic", corpus, 15)}
    picked_noisy = {u.text for u in datasets.synthetic_group("noisy", corpus, 15)}
    in_noisy = {r["text"] for r in noisy}
    assert picked_clean & in_noisy <= picked_noisy
