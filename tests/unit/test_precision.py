"""``--precision auto|bf16``: bf16 only where the hardware has it and it is measured faster;
an explicit bf16 without it warns."""

from __future__ import annotations

import logging

import pytest
import torch

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import ConfigError
from mfmarl.networks import ViewEncoder, precision


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    for cached in (precision.cpu_flags, precision.probe_bf16, precision._warn_emulated):
        cached.cache_clear()


def _cpu(monkeypatch: pytest.MonkeyPatch, flags: set[str], fp32: float, bf16: float) -> None:
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
    seconds = {None: fp32, torch.bfloat16: bf16}
    monkeypatch.setattr(precision, "_probe_seconds", lambda dtype, device: seconds[dtype])


def test_auto_takes_bf16_only_with_native_support_and_a_faster_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cpu(monkeypatch, {"avx2", "amx_bf16"}, fp32=1.0, bf16=0.6)
    assert precision.resolve_precision("auto") == "bf16"
    precision.probe_bf16.cache_clear()
    _cpu(monkeypatch, {"avx2", "amx_bf16"}, fp32=1.0, bf16=0.95)  # native, not 10% faster
    assert precision.resolve_precision("auto") == "fp32"
    precision.probe_bf16.cache_clear()
    _cpu(monkeypatch, {"avx2", "fma"}, fp32=1.0, bf16=0.1)  # emulated: never probed for
    assert precision.resolve_precision("auto") == "fp32"
    assert precision.resolve_precision("fp32") == "fp32"


def test_explicit_bf16_without_native_support_warns_and_is_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _cpu(monkeypatch, {"avx2"}, fp32=1.0, bf16=4.0)
    with caplog.at_level(logging.WARNING):
        assert precision.resolve_precision("bf16") == "bf16"
    assert "without native bfloat16" in caplog.text and "auto" in caplog.text
    assert "bf16 4000.0 ms against fp32 1000.0 ms" in caplog.text  # the probe's figures
    assert "4.0x slower" in caplog.text
    caplog.clear()
    _cpu(monkeypatch, {"avx512_bf16"}, fp32=1.0, bf16=0.5)
    precision._warn_emulated.cache_clear()
    with caplog.at_level(logging.WARNING):
        assert precision.resolve_precision("bf16") == "bf16"
    assert caplog.text == ""


def test_the_config_accepts_auto_and_the_encoder_resolves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert AlgorithmConfig(precision="auto").precision == "auto"
    with pytest.raises(ConfigError):
        AlgorithmConfig(precision="fp16")  # type: ignore[arg-type]
    _cpu(monkeypatch, set(), fp32=1.0, bf16=0.1)
    assert ViewEncoder((13, 13, 7), 34, precision="auto").precision == "fp32"


def test_the_probe_runs_on_this_machine() -> None:
    assert 0 < precision._probe_seconds(None, batch=8, repeats=1) < 5


def test_auto_on_a_gpu_probes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Native bf16 on a GPU is not enough: at small batches the casts can cost more than the
    faster products save (an H200 ran the paper-preset episode 17% slower in bf16)."""
    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": True)
    asked: list[str] = []

    def probe(dtype: torch.dtype | None, device: str) -> float:
        asked.append(device)
        return {None: 1.0, torch.bfloat16: 1.05}[dtype]

    monkeypatch.setattr(precision, "_probe_seconds", probe)
    assert precision.resolve_precision("auto", "cuda") == "fp32"
    assert asked == ["cuda", "cuda"]
    precision.probe_bf16.cache_clear()
    monkeypatch.setattr(
        precision, "_probe_seconds", lambda dtype, device: {None: 1.0}.get(dtype, 0.5)
    )
    assert precision.resolve_precision("auto", "cuda:0") == "bf16"


def test_auto_choice_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _cpu(monkeypatch, {"amx_bf16"}, fp32=0.0146, bf16=0.0089)
    assert precision.auto_choice("cpu") == ("bf16", "probe on cpu: fp32 14.6 ms, bf16 8.9 ms")
    _cpu(monkeypatch, {"avx2"}, fp32=1.0, bf16=0.1)
    assert precision.auto_choice("cpu") == ("fp32", "no native bfloat16 on this cpu")


def test_a_pinned_choice_holds_inside_its_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _cpu(monkeypatch, {"amx_bf16"}, fp32=1.0, bf16=0.5)  # the probe says bf16
    with precision.pinned_auto("fp32", "cpu"):
        assert precision.auto_choice("cpu") == ("fp32", "as the run started")
        assert precision.resolve_precision("auto", torch.device("cpu")) == "fp32"
        assert ViewEncoder((13, 13, 7), 34, precision="auto").precision == "fp32"
    assert precision.resolve_precision("auto") == "bf16"
    with pytest.raises(ConfigError):
        with precision.pinned_auto("auto"):
            pass


def test_a_pinned_bf16_on_a_cpu_without_it_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A run that started in bf16 on an AMX machine and resumes on one without native bf16
    keeps its arithmetic, and says that it will be slow."""
    _cpu(monkeypatch, {"avx2"}, fp32=1.0, bf16=4.0)
    with caplog.at_level(logging.WARNING), precision.pinned_auto("bf16"):
        assert precision.resolve_precision("auto") == "bf16"
    assert "without native bfloat16" in caplog.text and "4.0x slower" in caplog.text


def test_the_warning_says_faster_when_the_probe_finds_emulated_bf16_faster() -> None:
    assert precision._relative(bf16=0.5, fp32=0.7) == "1.4x faster"
    assert precision._relative(bf16=0.7, fp32=0.7) == "1.0x slower"


def test_auto_is_the_default() -> None:
    assert AlgorithmConfig().precision == "auto"


def test_the_probe_leaves_torchs_random_state_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe runs inside the first learner's construction; a seeded learner must be
    initialised alike whether or not its process probed before (measured before the fix: the
    first of two seed-3 learners built with auto differed from the second)."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    precision.probe_bf16("cpu")  # a real probe: it seeds and draws inputs of its own
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize(
    ("saved", "flags", "expected"),
    [
        ("fp32", {"amx_bf16"}, "fp32"),
        ("bf16", {"amx_bf16"}, "bf16"),
        ("bf16", {"avx2"}, "fp32"),  # no native bf16 here: emulated, it would be slow
        ("fp32", {"avx2"}, "fp32"),
        (None, {"amx_bf16"}, None),  # a record written before precision was saved
        ("fp16", {"amx_bf16"}, None),
    ],
)
def test_a_saved_learner_is_rebuilt_in_its_recorded_arithmetic(
    monkeypatch: pytest.MonkeyPatch, saved: str | None, flags: set[str], expected: str | None
) -> None:
    from mfmarl.training.checkpoint import recorded_precision

    _cpu(monkeypatch, flags, fp32=1.0, bf16=1.0)
    assert recorded_precision({"precision": saved}) == expected


def test_an_explicit_bf16_on_a_cpu_without_it_measures_its_cost_for_real(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning's probe, not mocked: building its bf16 encoder must not warn again (it
    recursed without end before the fix, on exactly the CPUs the warning is for)."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    with caplog.at_level(logging.WARNING):
        assert ViewEncoder((13, 13, 7), 34, precision="bf16").precision == "bf16"
    assert caplog.text.count("without native bfloat16") == 1 and " ms against fp32 " in caplog.text
