"""A random-init checkpoint written by fastkaiming that transformers' from_pretrained loads.

The spec comes from a small model's state dict: matrices from a normal fill, norm weights
ones, biases zeros; a tied weight (the output head sharing the embedding) once, as
save_pretrained writes it. Nothing is downloaded: the config is built here and saved with
save_pretrained, and loading is local_files_only with HF_HUB_OFFLINE=1.
"""
import pytest

import fastkaiming as fk
from fastkaiming._blocks import stream_for

SEED = 2026
STD = 0.02  # the configs' initializer_range


@pytest.fixture
def transformers(monkeypatch, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough (building models is the slow part)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    return pytest.importorskip("transformers")


def _config(transformers, family, tied):
    if family == "llama":  # RMSNorm weights, grouped-query attention, rotary inv_freq (not persistent)
        return transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                                        attention_bias=True, tie_word_embeddings=tied)  # fmt: skip
    return transformers.GPT2Config(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32,
                                   tie_word_embeddings=tied)  # LayerNorm weights and biases, Conv1D  # fmt: skip


def spec_from_state_dict(model, dtype):
    """One entry per tensor that the checkpoint holds: a tied tensor once, under its first name."""
    spec, seen = {}, set()
    for name, tensor in model.state_dict(keep_vars=True).items():  # a tied tensor: the same object
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if name.endswith(".bias"):
            entry = {"init": "zeros"}
        elif tensor.dim() == 1:  # RMSNorm / LayerNorm weights
            entry = {"init": "ones"}
        else:
            entry = {"init": "normal", "std": STD}
        spec[name] = {"shape": list(tensor.shape), "dtype": dtype, **entry}
    return spec


@pytest.mark.parametrize("family,tied,dtype", [("llama", False, "bfloat16"), ("llama", True, "float32"),
                                              ("gpt2", True, "float32")])  # fmt: skip
def test_from_pretrained_loads_a_fastkaiming_checkpoint(tmp_path, transformers, family, tied, dtype):
    import torch

    config = _config(transformers, family, tied)
    fresh = transformers.AutoModelForCausalLM.from_config(config)
    spec = spec_from_state_dict(fresh, dtype)
    assert ("lm_head.weight" in spec) == (not tied)
    config.save_pretrained(tmp_path)
    fk.init_safetensors(tmp_path / "model.safetensors", spec, seed=SEED, quiet=True)

    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path, local_files_only=True, output_loading_info=True, dtype=getattr(torch, dtype)
    )
    assert {k: list(v) for k, v in info.items() if v} == {}  # nothing missing, unexpected, mismatched
    state = model.state_dict()
    assert set(state) == set(fresh.state_dict())
    for name, entry in spec.items():
        got = state[name]
        assert got.dtype == getattr(torch, dtype) and list(got.shape) == entry["shape"], name
        if entry["init"] == "normal":
            ref = fk.torch.normal_(torch.empty(entry["shape"], dtype=got.dtype), std=STD, seed=SEED,
                                   stream=stream_for(name))  # fmt: skip
        else:
            ref = (torch.ones if entry["init"] == "ones" else torch.zeros)(entry["shape"], dtype=got.dtype)
        assert torch.equal(got, ref), name
    head = model.get_output_embeddings().weight
    embed = model.get_input_embeddings().weight
    assert (head.data_ptr() == embed.data_ptr()) == tied  # a tied head is the embedding itself
    # buffers that no checkpoint holds are the model's own, not left uninitialized
    own = [(name, buffer, expected) for (name, buffer), (_, expected)
           in zip(model.named_buffers(), fresh.named_buffers(), strict=True) if name not in state]  # fmt: skip
    assert [name for name, _, _ in own if name.endswith("inv_freq")] != [] or family != "llama"
    for name, buffer, expected in own:
        torch.testing.assert_close(buffer, expected.to(buffer.dtype), msg=name)
