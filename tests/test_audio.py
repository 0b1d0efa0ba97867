"""audio.py: every supported input becomes float32 mono 16 kHz; every bad one a typed error."""

import numpy as np
import pytest

from conftest import write_wav
from edge_audiollm.audio import load_audio, resample, validate_audio
from edge_audiollm.errors import AudioError, EdgeAudioError


def tone(freq_hz, rate, seconds=1.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float64)


def dominant_frequency(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec))
    # parabolic interpolation around the peak bin for sub-bin accuracy
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-20)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(x)


def test_resample_48k_to_16k_keeps_tone_frequency_and_amplitude():
    x = tone(1000.0, 48000, seconds=1.0, amp=0.5).astype(np.float32)
    y = resample(x, 48000, 16000)
    assert y.dtype == np.float32 and len(y) == 16000
    core = y[800:-800]  # away from the filter's edge transients
    f = dominant_frequency(core, 16000)
    amp = np.sqrt(2) * np.sqrt(np.mean(core.astype(np.float64) ** 2))
    assert abs(f - 1000.0) / 1000.0 < 0.01, f
    assert abs(amp - 0.5) / 0.5 < 0.01, amp


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_rate_comes_out_at_16k(rate):
    a = load_audio(tone(440, rate, 0.5).astype(np.float32), sample_rate=rate)
    assert a.sample_rate == 16000 and abs(len(a.samples) - 8000) <= 1


@pytest.mark.parametrize(
    "dtype,scale", [(np.int16, 32767), (np.int32, 2**31 - 1), (np.float32, 1.0), (np.float64, 1.0)]
)
def test_dtypes_scale_to_unit_range(dtype, scale):
    x = (tone(440, 16000, 0.25, amp=0.5) * scale).astype(dtype)
    y = load_audio(x, sample_rate=16000).samples
    assert y.dtype == np.float32
    assert abs(float(np.max(np.abs(y))) - 0.5) < 1e-3


def test_multichannel_is_averaged():
    left = tone(440, 16000, 0.25, amp=0.4)
    stereo = np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32)
    y = load_audio(stereo, sample_rate=16000).samples
    np.testing.assert_allclose(y, left.astype(np.float32) / 2, atol=1e-6)


def test_file_round_trip_any_channels(tmp_path):
    six = np.tile(tone(300, 44100, 0.2, amp=0.3)[:, None], (1, 6)).astype(np.float32)
    a = load_audio(write_wav(tmp_path / "six.wav", six, 44100))
    assert a.sample_rate == 16000 and a.samples.ndim == 1
    assert abs(float(np.max(np.abs(a.samples))) - 0.3) < 0.01


def test_flac_and_ogg(tmp_path):
    x = tone(500, 16000, 0.5, amp=0.3).astype(np.float32)
    for name in ("x.flac", "x.ogg"):
        a = load_audio(write_wav(tmp_path / name, x, 16000))
        assert abs(len(a.samples) - 8000) <= 1


@pytest.mark.parametrize(
    "samples,match",
    [
        (np.zeros(0, np.float32), "no audio samples"),
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN or infinite"),
        (np.array([0.1, np.inf], np.float64), "NaN or infinite"),
        (np.zeros(10, np.uint8), "unsupported sample type"),
        (np.zeros((100, 0), np.float32), "zero channels"),
        (np.zeros((2, 3, 4), np.float32), "1-D"),
        (np.full(100, 20000.0, np.float32), "divide by 32768"),
        (np.zeros((2, 48000), np.float32), "samples.T"),
    ],
)
def test_bad_arrays_raise_typed_errors(samples, match):
    with pytest.raises(AudioError, match=match):
        validate_audio(samples, 16000)


def test_array_needs_rate_and_rate_must_be_positive():
    with pytest.raises(AudioError, match="sample_rate"):
        load_audio(np.zeros(100, np.float32))
    with pytest.raises(AudioError, match="positive integer"):
        load_audio(np.zeros(100, np.float32), sample_rate=0)


def test_bad_files_name_the_file(tmp_path, speech_wav):
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(speech_wav.read_bytes()[:5000])
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    nan = write_wav(tmp_path / "nan.wav", np.array([0.0, np.nan] * 100, np.float32), subtype="FLOAT")
    cases = {
        tmp_path / "missing.wav": "no such file",
        tmp_path: "is a directory",
        text: "not audio that can be decoded",
        truncated: "truncated",
        empty: "no audio samples",
        nan: "NaN",
    }
    for path, match in cases.items():
        with pytest.raises(EdgeAudioError, match=match) as info:
            load_audio(path)
        assert str(path) in str(info.value)
