"""StyleGAN2/3 in plain torch, and the importers: shapes, W space, equivariance, foreign files, safety."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import swerve
from swerve import taps
from swerve.errors import BundleError, ConfigError
from swerve.models import ops as ops_module
from swerve.models import stylegan2 as sg2_module
from swerve.models import stylegan3 as sg3_module
from swerve.models.importers import UnsafePickleError, import_model
from swerve.models.ops import (
    PolyphaseConvTranspose2d,
    bias_act,
    demodulation,
    filtered_lrelu,
    setup_filter,
    upfirdn2d,
)
from swerve.models.stylegan2 import (
    Conv2dLayer,
    StyleGAN2Config,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    SynthesisLayer,
    mix_styles,
)
from swerve.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator, translation_psnr
from tests.stylegan_fixtures import (
    hostile_storage_pickle,
    rosinality_discriminate,
    rosinality_generate,
    rosinality_state_dicts,
    stylegan3_repo_g2_kwargs,
    write_nvidia_pickle,
)

TINY2 = dict(z_dim=8, w_dim=8, channel_base=128, channel_max=16, mapping_layers=2)
TINY3 = dict(z_dim=8, w_dim=8, channel_base=256, channel_max=16, num_layers=4, mapping_layers=2)


def _randomise(net: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give zero-initialised tensors (noise strengths, biases) values, so every path shows in the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    return net.eval()


# --- ops --------------------------------------------------------------------------------------------------


def upfirdn2d_by_definition(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
    """Insert zeros, pad (or crop), convolve with the flipped filter, keep every down-th pixel."""
    n, c, h, w = x.shape
    stuffed = torch.zeros(n, c, h * up, w * up)
    stuffed[:, :, ::up, ::up] = x
    x0, x1, y0, y1 = padding
    x = torch.nn.functional.pad(stuffed, [x0, x1, y0, y1])
    f = (torch.ones(1, 1) if f is None else f) * gain ** ((2 if f is None else f.ndim) / 2)
    f2 = torch.outer(f, f) if f.ndim == 1 else f
    x = torch.nn.functional.conv2d(x, f2.flip([0, 1]).expand(c, 1, *f2.shape), groups=c)
    return x[:, :, ::down, ::down]


@pytest.mark.parametrize("taps", ["none", "1-d", "1-d long", "2-d"])
def test_upfirdn2d_equals_its_definition(taps):
    """The fast paths (matrix products; transposed or strided convolutions) change nothing."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 15, 17, generator=gen)
    f = {"none": None, "1-d": torch.rand(4, generator=gen), "1-d long": torch.rand(12, generator=gen),
         "2-d": torch.rand(4, 4, generator=gen)}[taps]  # fmt: skip
    cases = [(1, 1, (0, 0, 0, 0)), (2, 1, (2, 1, 2, 1)), (1, 2, (1, 1, 1, 1)),
             (2, 1, (6, 5, 7, 4)), (1, 2, (-1, 2, 0, -2)), (2, 2, (3, 2, 1, 4)),
             (2, 1, (-2, -2, -1, -3)), (2, 1, (-3, 1, 2, -1))]  # fmt: skip
    long = torch.randn(1, 2, 16, 200, generator=gen)  # longer than the matrix products take
    for up, down, padding in cases:
        for signal in (x, long):
            expected = upfirdn2d_by_definition(signal, f, up, down, padding, gain=up**2)
            assert torch.allclose(upfirdn2d(signal, f, up, down, padding, gain=up**2), expected, atol=1e-5)


def filtered_lrelu_by_definition(x, fu, fd, b, up, down, padding, gain=2**0.5, slope=0.2, clamp=None):
    """StyleGAN3's nonlinearity step by step at full rate: bias, zero-stuff and filter, leaky ReLU, gain,
    clamp, filter and decimate."""
    x = upfirdn2d_by_definition(bias_act(x, b), fu, up, 1, padding, gain=up**2)
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d_by_definition(x, fd, 1, down, (0, 0, 0, 0))


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("chunk_bytes", [None, 3000])
@pytest.mark.parametrize("down_filter", ["separable", "radial"])
def test_filtered_lrelu_equals_its_definition(down_filter, chunk_bytes, layout, monkeypatch):
    """The matrix-product resampling (separable filters, NCHW input), the channels-last depthwise
    convolutions (a radial filter or a channels_last input), the gain moved into the downsampling and the
    in-place clamp at ``clamp / gain`` give the full-rate definition's numbers, clamp active, with and without
    autograd; also when the channels run in groups (small chunk sizes: groups of one and two channels)."""
    if chunk_bytes is not None:
        monkeypatch.setattr(ops_module, "CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(ops_module, "DEPTHWISE_CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(ops_module, "LANES", 2)
    gen = torch.Generator().manual_seed(0)
    x, b = torch.randn(2, 5, 14, 14, generator=gen) * 3, torch.randn(5, generator=gen)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    fu = sg3_module.lowpass_filter(12, 4.0, 3.0, 32.0)
    fd = sg3_module.lowpass_filter(12, 4.0, 3.0, 32.0, radial=down_filter == "radial")
    before = x.clone()
    for up, down, padding, gain, slope, clamp in [(2, 2, (11, 10, 11, 10), 2**0.5, 0.2, 1.5),
                                                  (4, 2, (-2, -5, -3, -4), 2**0.5, 0.2, 1.5),
                                                  (2, 1, (9, 8, 8, 9), 2**0.5, 0.2, None),
                                                  (1, 1, (-1, -1, -1, -1), 1.0, 1.0, 2.0),
                                                  (1, 1, (0, 0, 0, 0), 1.0, 1.0, 2.0)]:  # fmt: skip
        f_up = sg3_module.lowpass_filter(24, 4.0, 3.0, 64.0) if up == 4 else fu if up > 1 else None
        f_down = fd if f_up is not None else None if padding == (0, 0, 0, 0) else fd
        expected = filtered_lrelu_by_definition(x, f_up, f_down, b, up, down, padding, gain, slope, clamp)
        got = filtered_lrelu(x, f_up, f_down, b, up, down, padding, gain, slope, clamp)
        with torch.no_grad():
            in_place = filtered_lrelu(x, f_up, f_down, b, up, down, padding, gain, slope, clamp)
            unbiased = filtered_lrelu(x, f_up, f_down, None, up, down, padding, gain, slope, clamp)
        assert got.shape == expected.shape
        assert torch.allclose(got, expected, atol=1e-5) and torch.allclose(in_place, got, atol=1e-6)
        plain = filtered_lrelu_by_definition(x, f_up, f_down, None, up, down, padding, gain, slope, clamp)
        assert torch.allclose(unbiased, plain, atol=1e-5) and torch.equal(x, before)


@pytest.mark.parametrize("taps", ["1-d", "2-d"])
def test_filtered_lrelu_skips_only_a_clamp_nothing_can_reach(taps):
    """The clamp is skipped when the input's largest magnitude times the up filter's bound stays below the
    limit: the bound holds for every output of the upsampling (random signals and one phase's signs), and the
    result equals the definition for limits below, near and above the largest value."""
    gen = torch.Generator().manual_seed(0)
    radial = taps == "2-d"
    for up, f in [(2, sg3_module.lowpass_filter(12, 4.0, 3.0, 32.0, radial)),
                  (4, sg3_module.lowpass_filter(24, 4.0, 3.0, 64.0, radial))]:  # fmt: skip
        bound = ops_module._upsampling_gain(f, up)
        f2 = torch.outer(f, f) if f.ndim == 1 else f
        for x in (torch.randn(1, 3, 9, 9, generator=gen), f2[::up, ::up].sign().flip([0, 1])):
            x = x.reshape(1, -1, *x.shape[-2:])
            y = upfirdn2d_by_definition(x, f, up, 1, (20, 20, 20, 20), gain=up**2)
            assert y.abs().max() <= bound * x.abs().max() * (1 + 1e-5)
        x, b = torch.randn(2, 4, 10, 10, generator=gen), torch.randn(4, generator=gen)
        fd = sg3_module.lowpass_filter(12, 4.0, 3.0, 32.0)
        top = upfirdn2d_by_definition(x + b.reshape(1, -1, 1, 1), f, up, 1, (9, 8, 9, 8), up**2).abs().max()
        for clamp in (0.5 * top, 1.01 * top * 2**0.5, 1e4):
            args = (f, fd, b, up, 2, (9, 8, 9, 8), 2**0.5, 0.2, float(clamp))
            with torch.no_grad():
                assert torch.allclose(
                    filtered_lrelu(x, *args), filtered_lrelu_by_definition(x, *args), atol=1e-5
                )


@pytest.mark.parametrize("kind", ["T", "R"])
def test_stylegan3_agrees_with_full_rate_definitions(kind, monkeypatch):
    """A small random StyleGAN3 gives the same images (within 1e-4) when every nonlinearity runs by its
    full-rate definition instead of the fast path (run in groups of channels, as in a full-size network)."""
    torch.manual_seed(0)
    g = _randomise(StyleGAN3Generator(StyleGAN3Config.preset(kind, resolution=16, **TINY3)))
    z = torch.randn(2, 8)
    with torch.no_grad():
        whole = g(z)
        monkeypatch.setattr(ops_module, "CHUNK_BYTES", 20_000)
        monkeypatch.setattr(ops_module, "DEPTHWISE_CHUNK_BYTES", 20_000)
        monkeypatch.setattr(ops_module, "LANES", 4)
        fast = g(z)
        monkeypatch.setattr(sg3_module, "filtered_lrelu", filtered_lrelu_by_definition)
        slow = g(z)
    assert (fast - slow).abs().max() < 1e-4 and slow.abs().mean() > 1e-2
    assert (whole - slow).abs().max() < 1e-4


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_stylegan3_1x1_modulated_conv_equals_the_plain_form(layout):
    """The 1x1 layers (config R, and every ToRGB) fold styles and demodulation into per-sample kernels; that
    equals modulating the input, convolving and demodulating the output, which they run instead when a hook
    watches the convolution (the hook then sees the modulated input), for outputs and weight gradients."""
    torch.manual_seed(0)
    g = _randomise(StyleGAN3Generator(StyleGAN3Config.preset("R", resolution=16, **TINY3)))
    names = g.synthesis.layer_names
    seen = []
    for layer in (getattr(g.synthesis, names[1]), getattr(g.synthesis, names[-1])):  # a 1x1 layer, ToRGB
        layer.magnitude_ema.fill_(1.7)
        x, w = torch.randn(2, layer.in_channels, 9, 9), torch.randn(2, 8)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        fused = layer(x, w)
        (grad_fused,) = torch.autograd.grad(fused.square().sum(), layer.conv.weight)
        handle = layer.conv.register_forward_hook(lambda module, args, out: seen.append(args[0]))
        try:
            plain = layer(x, w)
            (grad_plain,) = torch.autograd.grad(plain.square().sum(), layer.conv.weight)
        finally:
            handle.remove()
        styles = layer.affine(w) / (layer.in_channels**0.5 if layer.is_torgb else 1)
        assert torch.allclose(seen[-1], x * (styles / 1.7**0.5).reshape(2, -1, 1, 1), atol=1e-6)
        assert torch.allclose(fused, plain, atol=1e-5) and plain.abs().mean() > 1e-2
        assert torch.allclose(grad_fused, grad_plain, atol=1e-4 * grad_plain.abs().max().item())
    assert len(seen) == 2


@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
def test_stylegan2_agrees_with_full_rate_definitions(arch, monkeypatch):
    """The same for StyleGAN2's resampling (generator and discriminator), conv clamp active."""
    torch.manual_seed(0)
    cfg = StyleGAN2Config(resolution=16, architecture=arch, d_architecture=arch, conv_clamp=0.5, **TINY2)
    g, d = _randomise(StyleGAN2Generator(cfg)), _randomise(StyleGAN2Discriminator(cfg))
    z = torch.randn(4, 8)
    with torch.no_grad():
        fast = g(z), d(g(z))
        monkeypatch.setattr(sg2_module, "upfirdn2d", upfirdn2d_by_definition)
        slow = g(z), d(g(z))
    for a, b in zip(fast, slow, strict=True):
        assert (a - b).abs().max() < 1e-4 and b.abs().mean() > 1e-2


def test_bias_act_same_with_and_without_autograd():
    """Sampling runs bias_act in place on its own intermediate tensors; the input and the result must not
    change because of it."""
    x, b = torch.randn(2, 4, 5, 5), torch.randn(4)
    before = x.clone()
    for act, gain, clamp in [("lrelu", None, 0.5), ("linear", 2.0, None), ("relu", None, None)]:
        for bias in (b, None):
            with_grad = bias_act(x, bias, act=act, gain=gain, clamp=clamp)
            with torch.no_grad():
                without = bias_act(x, bias, act=act, gain=gain, clamp=clamp)
            assert torch.equal(with_grad, without) and torch.equal(x, before)


def test_modulated_conv_equals_per_sample_weights():
    """Modulating the input, convolving and demodulating the output (how swerve runs it) equals the paper's
    definition: a convolution with per-sample weights w * s, each output channel scaled to unit norm."""
    torch.manual_seed(0)
    layer = SynthesisLayer(4, 5, w_dim=6, resolution=8)
    x, w = torch.randn(2, 4, 8, 8), torch.randn(2, 6)
    styles = layer.affine(w)
    expected = []
    for i in range(2):
        wi = layer.weight * styles[i].reshape(1, 4, 1, 1)
        wi = wi / wi.square().sum(dim=[1, 2, 3], keepdim=True).add(1e-8).sqrt()
        expected.append(torch.nn.functional.conv2d(x[i : i + 1], wi, padding=1))
    pre = torch.cat(expected) + layer.noise_const * layer.noise_strength
    out = bias_act(pre, layer.bias, act="lrelu")
    assert torch.allclose(layer(x, w), out, atol=1e-5)


def test_resampling_layers_equal_full_rate_definitions():
    """Upsampling = zero-stuff, blur, convolve with the (flipped) kernel of the transposed convolution;
    downsampling = blur, convolve at full rate, keep every second pixel (StyleGAN2 appendix B)."""
    torch.manual_seed(0)
    f = setup_filter([1, 3, 3, 1])
    up = SynthesisLayer(3, 5, w_dim=4, resolution=16, up=2)
    x, w = torch.randn(2, 3, 8, 8), torch.randn(2, 4)
    with torch.no_grad():
        up.affine.weight.zero_()  # unit styles: the layer is a plain (demodulated) convolution
        stuffed = upfirdn2d(x, f, up=2, padding=[3, 2, 3, 2], gain=4)  # 2x FIR upsampling, support + 1
        full = torch.nn.functional.conv2d(stuffed, up.weight.flip([2, 3]))
        full = full * demodulation(up.weight, torch.ones(2, 3)).unsqueeze(2).unsqueeze(3)
        assert torch.allclose(up(x, w, noise_mode="none"), bias_act(full, up.bias, act="lrelu"), atol=1e-4)
    down = Conv2dLayer(3, 5, 3, down=2)
    with torch.no_grad():
        full = torch.nn.functional.conv2d(
            upfirdn2d(x, f, padding=[2, 2, 2, 2]), down.conv.weight * down.weight_gain
        )
        assert torch.allclose(down(x), bias_act(full[:, :, ::2, ::2], down.conv.bias), atol=1e-5)


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_polyphase_transposed_conv_equals_conv_transpose2d(kernel):
    """The four-phase form gives what ``nn.ConvTranspose2d`` gives (values and gradients), with and without
    autograd; settings it does not cover (padding, stride 1) run the parent's code."""
    torch.manual_seed(0)
    for bias, padding, stride in [(False, 0, 2), (True, 0, 2), (False, 1, 2), (True, 0, 1)]:
        fast = PolyphaseConvTranspose2d(3, 5, kernel, stride=stride, padding=padding, bias=bias)
        plain = torch.nn.ConvTranspose2d(3, 5, kernel, stride=stride, padding=padding, bias=bias)
        plain.load_state_dict(fast.state_dict())
        x = torch.randn(2, 3, 7, 6, requires_grad=True)
        expected = plain(x)
        got = fast(x)
        with torch.no_grad():
            sampled = fast(x)
        assert got.shape == expected.shape == sampled.shape
        assert torch.allclose(got, expected, atol=1e-5) and torch.allclose(sampled, expected, atol=1e-5)
        (grad_fast,) = torch.autograd.grad(got.square().sum(), fast.weight)
        (grad_plain,) = torch.autograd.grad(expected.square().sum(), plain.weight)
        assert torch.allclose(grad_fast, grad_plain, atol=1e-4)


def test_values_kept_from_a_weight_follow_its_edits():
    """Sampling keeps demodulation norms and phase kernels per weight; a weight changed in place or given
    new storage must give the same output as a fresh computation (autograd on, nothing kept)."""
    torch.manual_seed(0)
    layer = SynthesisLayer(3, 5, w_dim=4, resolution=16, up=2)
    x, w = torch.randn(2, 3, 8, 8), torch.randn(2, 4)
    with torch.no_grad():
        before = layer(x, w, noise_mode="none")
        layer.conv.weight.add_(torch.randn_like(layer.conv.weight))
        edited = layer(x, w, noise_mode="none")
    assert torch.allclose(edited, layer(x, w, noise_mode="none"), atol=1e-5)
    assert not torch.allclose(edited, before, atol=1e-3)
    layer.conv.weight.data = torch.randn_like(layer.conv.weight)
    with torch.no_grad():
        replaced = layer(x, w, noise_mode="none")
    assert torch.allclose(replaced, layer(x, w, noise_mode="none"), atol=1e-5)
    assert not torch.allclose(replaced, edited, atol=1e-3)


# --- architectures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [8, 16, 32])
@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
def test_stylegan2_shapes_and_layer_order(resolution, arch):
    cfg = StyleGAN2Config(resolution=resolution, architecture=arch, d_architecture=arch, **TINY2)
    g, d = StyleGAN2Generator(cfg), StyleGAN2Discriminator(cfg)
    x = g(torch.randn(4, 8))
    assert x.shape == (4, 3, resolution, resolution)
    assert d(x).shape == (4,)
    assert g.num_ws == 2 * (resolution.bit_length() - 1) - 2  # two per block, one for 4x4, one last ToRGB
    blocks = [n for n in taps.layer_names(g) if n.count(".") == 1 and n.startswith("synthesis.b")]
    assert blocks == [f"synthesis.b{2**i}" for i in range(2, resolution.bit_length())]
    shapes = taps.output_shapes(g, torch.randn(2, 8))
    assert shapes["synthesis.b8.conv1"] == (2, cfg.channels_at(8), 8, 8)


@pytest.mark.parametrize("kind", ["T", "R"])
@pytest.mark.parametrize("resolution", [16, 32])
def test_stylegan3_shapes(kind, resolution):
    cfg = StyleGAN3Config.preset(kind, resolution=resolution, **TINY3)
    g = StyleGAN3Generator(cfg).eval()
    assert g(torch.randn(2, 8)).shape == (2, 3, resolution, resolution)
    assert g.num_ws == cfg.num_layers + 2
    sizes = [int(n.split("_")[1]) for n in g.synthesis.layer_names]
    assert sizes[-1] == resolution and sizes[-2] == resolution
    assert all(
        layer.conv_kernel == (3 if kind == "T" else 1)
        for layer in [getattr(g.synthesis, n) for n in g.synthesis.layer_names[:-1]]
    )


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="power of two"):
        StyleGAN2Config(resolution=24)
    with pytest.raises(ConfigError, match="architecture"):
        StyleGAN2Config(architecture="fancy")
    with pytest.raises(ConfigError, match="'T' or 'R'"):
        StyleGAN3Config.preset("Q")


def test_stylegan3_t_is_translation_equivariant():
    """Translating the Fourier input by whole pixels translates the image (paper section 3, EQ-T): the
    shifted output matches the shifted reference far better than the unshifted one does."""
    torch.manual_seed(0)
    res = 16
    g = _randomise(StyleGAN3Generator(StyleGAN3Config.preset("T", resolution=res, **TINY3)))
    with torch.no_grad():
        ws = g.mapping(torch.randn(2, 8))
        orig = g.synthesis(ws)
        for tx, ty in [(2, 0), (-1, 3)]:
            g.synthesis.input.transform.copy_(
                torch.tensor([[1, 0, -tx / res], [0, 1, -ty / res], [0, 0, 1.0]])
            )
            moved = g.synthesis(ws)
            g.synthesis.input.transform.copy_(torch.eye(3))
            ys, xs = slice(max(ty, 0), res + min(ty, 0)), slice(max(tx, 0), res + min(tx, 0))
            src_y, src_x = slice(max(-ty, 0), res + min(-ty, 0)), slice(max(-tx, 0), res + min(-tx, 0))
            err = (moved[:, :, ys, xs] - orig[:, :, src_y, src_x]).square().mean()
            unshifted = (moved[:, :, ys, xs] - orig[:, :, ys, xs]).square().mean()
            psnr = 10 * torch.log10(4 / err)
            assert psnr > 40, f"EQ-T PSNR {psnr:.1f} dB for shift {(tx, ty)}"
            assert err < 1e-4 * unshifted
            assert abs(translation_psnr(g, ws, tx, ty) - psnr) < 0.5  # the library's EQ-T agrees


def test_w_space_truncation_and_mixing():
    torch.manual_seed(0)
    g = _randomise(StyleGAN2Generator(StyleGAN2Config(resolution=16, **TINY2)))
    with torch.no_grad():
        g.mapping.w_avg.copy_(torch.randn(8))
        z = torch.randn(3, 8)
        ws = g.mapping(z)
        assert ws.shape == (3, g.num_ws, 8)
        assert torch.allclose(g.mapping(z, truncation_psi=0.0), g.w_avg.expand_as(ws))
        half = g.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
        assert torch.allclose(half[:, :2], (ws[:, :2] + g.w_avg) / 2, atol=1e-6)
        assert torch.equal(half[:, 2:], ws[:, 2:])
        other = g.mapping(torch.randn(3, 8))
        mixed = mix_styles(ws, other, 3)
        assert torch.equal(mixed[:, :3], ws[:, :3]) and torch.equal(mixed[:, 3:], other[:, 3:])
        # coarse styles from the first image, fine from the second: neither image, but closer to the first
        a, b, m = g.synthesis(ws), g.synthesis(other), g.synthesis(mixed)
        assert not torch.allclose(m, a) and not torch.allclose(m, b)
        assert g(z, noise_mode="const").equal(g(z)) and not g(z, noise_mode="random").equal(g(z))


def test_conditional_stylegan2_takes_class_indices():
    cfg = StyleGAN2Config(resolution=8, c_dim=3, **TINY2)
    g, d = _randomise(StyleGAN2Generator(cfg)), StyleGAN2Discriminator(cfg)
    z = torch.randn(4, 8)
    x0, x1 = g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.ones(4, dtype=torch.long))
    assert not torch.allclose(x0, x1)
    assert d(x0, torch.tensor([0, 1, 2, 0])).shape == (4,)
    with pytest.raises(ValueError, match="class-conditional"):
        g(z)


# --- rosinality import ------------------------------------------------------------------------------------


def test_rosinality_import_matches_the_source(tmp_path):
    g_sd, d_sd = rosinality_state_dicts(resolution=16, style_dim=8, n_mlp=2)
    latent_avg = torch.randn(8)
    torch.save({"g_ema": g_sd, "d": d_sd, "latent_avg": latent_avg}, tmp_path / "ckpt.pt")
    bundle = import_model(tmp_path / "ckpt.pt")
    g, d = bundle.generator, bundle.discriminator
    assert g.config.resolution == 16 and g.config.mapping_layers == 2 and g.config.channel_max == 16
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours = g(z)
        theirs = rosinality_generate(g_sd, z, n_mlp=2)
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4), (ours - theirs).abs().max()
        trunc = rosinality_generate(g_sd, z, n_mlp=2, psi=0.5, mean_latent=latent_avg)
        assert torch.allclose(g(z, truncation_psi=0.5), trunc, atol=1e-4, rtol=1e-4)
        assert torch.allclose(d(ours), rosinality_discriminate(d_sd, ours), atol=1e-4, rtol=1e-4)
    # round trip through a swerve bundle is bit-exact
    saved = swerve.load(bundle.save(tmp_path / "bundle"))
    assert torch.equal(saved.sample(4, seed=1).x, bundle.sample(4, seed=1).x)
    assert saved.history[-1]["op"] == "import" and saved.history[-1]["params"]["format"] == "rosinality"


def test_rosinality_errors_name_the_problem(tmp_path):
    g_sd, _ = rosinality_state_dicts(resolution=16)
    broken = dict(g_sd)
    broken["convs.2.conv.weight"] = torch.randn(1, 16, 13, 3, 3)  # a width no progression explains
    torch.save({"g_ema": broken}, tmp_path / "odd.pt")
    with pytest.raises(BundleError, match="channel widths|does not match|shape"):
        import_model(tmp_path / "odd.pt")
    torch.save({"g_ema": {"foo": torch.zeros(1)}}, tmp_path / "foreign.pt")
    with pytest.raises(BundleError, match="cannot infer the architecture"):
        import_model(tmp_path / "foreign.pt")


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_rosinality_loader_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"g_ema": _RunsCommand(marker)}, tmp_path / "evil.pt")
    with pytest.raises(BundleError, match="more than tensors"):
        import_model(tmp_path / "evil.pt")
    assert not marker.exists()


# --- NVIDIA pickles ---------------------------------------------------------------------------------------


def _nvidia_g2_kwargs(cfg: StyleGAN2Config) -> dict:
    return {
        "z_dim": cfg.z_dim,
        "c_dim": cfg.c_dim,
        "w_dim": cfg.w_dim,
        "img_resolution": cfg.resolution,
        "img_channels": cfg.channels,
        "mapping_kwargs": {"num_layers": cfg.mapping_layers},
        "synthesis_kwargs": {
            "channel_base": cfg.channel_base,
            "channel_max": cfg.channel_max,
            "num_fp16_res": 4,
            "conv_clamp": 256,
            "architecture": cfg.architecture,
        },
    }


def _nvidia_d_kwargs(cfg: StyleGAN2Config) -> dict:
    return {
        "c_dim": cfg.c_dim,
        "img_resolution": cfg.resolution,
        "img_channels": cfg.channels,
        "architecture": "resnet",
        "channel_base": cfg.channel_base,
        "channel_max": cfg.channel_max,
        "num_fp16_res": 4,
        "conv_clamp": 256,
        "block_kwargs": {},
        "mapping_kwargs": {},
        "epilogue_kwargs": {"mbstd_group_size": 4},
    }


@pytest.mark.parametrize("c_dim", [0, 2])
def test_nvidia_stylegan2_pickle_imports_without_running_it(tmp_path, c_dim):
    cfg = StyleGAN2Config(resolution=16, c_dim=c_dim, conv_clamp=256, **TINY2)
    torch.manual_seed(0)
    g, d = _randomise(StyleGAN2Generator(cfg)), _randomise(StyleGAN2Discriminator(cfg))
    marker = tmp_path / "source-ran"
    calls = write_nvidia_pickle(
        tmp_path / "net.pkl",
        {
            "G": (g, _nvidia_g2_kwargs(cfg)),
            "G_ema": (g, _nvidia_g2_kwargs(cfg)),
            "D": (d, _nvidia_d_kwargs(cfg)),
        },
        marker,
    )
    modules_before = set(sys.modules)
    bundle = import_model(tmp_path / "net.pkl")
    assert not marker.exists() and not calls
    assert not {"torch_utils", "dnnlib", "torch_utils.persistence"} & (set(sys.modules) - modules_before)
    z = torch.randn(4, 8)
    c = torch.tensor([0, 1, 1, 0]) if c_dim else None
    with torch.no_grad():
        assert torch.equal(bundle.generator(z, c), g(z, c))
        x = g(z, c)
        assert torch.equal(bundle.discriminator(x, c), d(x, c))
    assert bundle.generator.config.conv_clamp == 256 and bundle.num_classes == c_dim


@pytest.mark.parametrize("kind", ["T", "R"])
def test_nvidia_stylegan3_pickle_imports(tmp_path, kind):
    cfg = StyleGAN3Config.preset(kind, resolution=16, **TINY3)
    torch.manual_seed(0)
    g = _randomise(StyleGAN3Generator(cfg))
    with torch.no_grad():
        for name in g.synthesis.layer_names:
            getattr(g.synthesis, name).magnitude_ema.fill_(0.7)
    kwargs = {
        "z_dim": 8,
        "c_dim": 0,
        "w_dim": 8,
        "img_resolution": 16,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "channel_base": cfg.channel_base,
        "channel_max": cfg.channel_max,
        "num_layers": 4,
        "magnitude_ema_beta": 0.999,
        "conv_kernel": cfg.conv_kernel,
        "use_radial_filters": cfg.use_radial_filters,
        "num_fp16_res": 4,
    }
    marker = tmp_path / "source-ran"
    calls = write_nvidia_pickle(tmp_path / "sg3.pkl", {"G_ema": (g, kwargs)}, marker)
    bundle = import_model(tmp_path / "sg3.pkl")
    assert not marker.exists() and not calls
    assert isinstance(bundle.generator, StyleGAN3Generator) and "discriminator" not in bundle.networks
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(bundle.generator(z), g(z))


def test_stylegan3_repo_stylegan2_pickle_with_fused_modconv_default_imports(tmp_path, cli):
    """stylegan3's train.py --cfg=stylegan2 always sets fused_modconv_default='inference_only' (grouped or
    plain convolution, the same result): such a pickle imports and draws what it drew."""
    cfg = StyleGAN2Config(resolution=16, conv_clamp=256, **TINY2)
    torch.manual_seed(0)
    g, d = _randomise(StyleGAN2Generator(cfg)), _randomise(StyleGAN2Discriminator(cfg))
    kwargs = stylegan3_repo_g2_kwargs(8, 8, 0, 16, 2, cfg.channel_base, cfg.channel_max)
    assert kwargs["fused_modconv_default"] == "inference_only"
    networks = {"G": (g, kwargs), "G_ema": (g, kwargs), "D": (d, _nvidia_d_kwargs(cfg))}
    write_nvidia_pickle(tmp_path / "sg2.pkl", networks, tmp_path / "source-ran")
    code, _, err = cli("import", tmp_path / "sg2.pkl", "--out", tmp_path / "b")
    assert code == 0, err
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(swerve.load(tmp_path / "b").generator(z), g(z))


ROOT = str(Path(__file__).resolve().parents[1])


def _cli_in_a_process(*args: object) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, so that warnings print to stderr as they would for them."""
    code = "from swerve.cli.main import main; main()"
    cmd = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ROOT}
    )


def test_hostile_zip_in_a_storage_and_a_forced_format_are_refused_in_one_line(tmp_path):
    """A torch zip that runs code, hidden in a pickle's storage bytes, and a pickle read as a rosinality
    checkpoint: each one line on stderr, exit 2, nothing run or written."""
    marker = tmp_path / "pwned"
    (tmp_path / "zip.pkl").write_bytes(hostile_storage_pickle(marker))
    done = _cli_in_a_process("import", tmp_path / "zip.pkl", "--out", tmp_path / "z")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "asks for posix.system" in done.stderr or "asks for nt.system" in done.stderr
    assert not marker.exists() and not (tmp_path / "z").exists()
    cfg = StyleGAN2Config(resolution=8, **TINY2)
    write_nvidia_pickle(tmp_path / "n.pkl", {"G_ema": (StyleGAN2Generator(cfg), {})}, tmp_path / "m")
    done = _cli_in_a_process("import", tmp_path / "n.pkl", "--format", "rosinality", "--out", tmp_path / "r")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not a torch.save checkpoint" in done.stderr and "--format nvidia" in done.stderr
    assert not (tmp_path / "r").exists()


def test_nvidia_pickle_with_unknown_option_is_refused(tmp_path):
    cfg = StyleGAN2Config(resolution=8, **TINY2)
    kwargs = _nvidia_g2_kwargs(cfg)
    kwargs["synthesis_kwargs"]["fancy_new_layer"] = True
    write_nvidia_pickle(tmp_path / "x.pkl", {"G_ema": (StyleGAN2Generator(cfg), kwargs)}, tmp_path / "m")
    with pytest.raises(BundleError, match="fancy_new_layer"):
        import_model(tmp_path / "x.pkl")


def _raw_global_pickle(module: str, name: str, arg: str) -> bytes:
    """A protocol-0 pickle calling ``module.name(arg)``, the shape of any code-running payload."""
    return f"c{module}\n{name}\n(V{arg}\ntR.".encode()


def test_malicious_pickles_are_refused_without_side_effects(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    # 1. a command
    (tmp_path / "cmd.pkl").write_bytes(pickle.dumps(_RunsCommand(marker), protocol=4))
    # 2. an arbitrary module that does something when imported
    (tmp_path / "sneaky_module.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\nx = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mod.pkl").write_bytes(_raw_global_pickle("sneaky_module", "x", "a"))
    # 3. eval hidden in a network record's state, 4. a storage payload that is itself a code-running pickle
    (tmp_path / "eval.pkl").write_bytes(_raw_global_pickle("builtins", "eval", "__import__('os')"))
    payload = pickle.dumps(_RunsCommand(marker), protocol=2)
    (tmp_path / "storage.pkl").write_bytes(
        b"\x80\x04ctorch.storage\n_load_from_bytes\nC" + bytes([len(payload)]) + payload + b"\x85R."
    )
    for name in ("cmd", "mod", "eval", "storage"):
        with pytest.raises(UnsafePickleError):
            import_model(tmp_path / f"{name}.pkl", fmt="nvidia")
    assert not marker.exists() and "sneaky_module" not in sys.modules


def test_cli_import_writes_a_bundle_and_refuses_bad_files(tmp_path, cli):
    g_sd, d_sd = rosinality_state_dicts(resolution=8)
    torch.save({"g_ema": g_sd, "d": d_sd}, tmp_path / "r.pt")
    code, out, err = cli("import", tmp_path / "r.pt", "--out", tmp_path / "b", "--json")
    assert code == 0, err
    bundle = swerve.load(tmp_path / "b")
    assert set(bundle.networks) == {"generator", "discriminator"}
    assert bundle.sample(2, seed=0).x.shape == (2, 3, 8, 8)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_RunsCommand(tmp_path / "pwned")))
    code, out, err = cli("import", tmp_path / "evil.pkl", "--out", tmp_path / "e")
    assert code == 2 and "posix.system" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e").exists() and not (tmp_path / "pwned").exists()
    code, _, err = cli("import", tmp_path / "missing.pkl", "--out", tmp_path / "m")
    assert code == 2 and "no such file" in err


def test_discriminator_takes_any_batch_size():
    """The minibatch-stddev group shrinks to a divisor of the batch (the reference needs a multiple of 4),
    and for a multiple of the group size the groups are the reference's: samples i, i + n/4, ..."""
    d = StyleGAN2Discriminator(StyleGAN2Config(resolution=8, **TINY2)).eval()
    x = torch.randn(8, 3, 8, 8)
    with torch.no_grad():
        for n in (1, 3, 5, 6):
            assert d(x[:n]).shape == (n,)
        # swapping samples 0 and 4 (the same position in two groups) changes nothing but their order
        swapped = x[[4, 1, 2, 3, 0, 5, 6, 7]]
        assert torch.allclose(d(swapped), d(x)[[4, 1, 2, 3, 0, 5, 6, 7]], atol=1e-6)


def test_demo_section_draws_mixing_and_translation(tmp_path):
    from swerve.look.sections import DemoContext, ordered_sections
    from swerve.look.sections_stylegan import stylegan

    assert "stylegan" in dict(ordered_sections())
    result = stylegan(DemoContext(tmp_path))
    assert len(result.figures) == 2 and min(v for v in result.table.values()) > 0


def test_every_bend_runs_on_stylegan3_r_layers_in_their_channels_last_layout():
    """StyleGAN3-R keeps its activations channels-last; every transform, on a layer and on its 1x1 conv,
    still bends the picture (the tap sees the layer's own output, whatever its memory layout)."""
    from swerve.bundle import Bundle, DataSpec, LatentSpec
    from swerve.diverge.bend import bend_bundle
    from swerve.diverge.transforms import TRANSFORMS

    g = _randomise(StyleGAN3Generator(StyleGAN3Config.preset("R", resolution=16, **TINY3)))
    bundle = Bundle({"generator": g}, DataSpec(shape=[3, 16, 16], dataset="none"), LatentSpec(8), name="r")
    plain = bundle.sample(2, seed=1).x
    layer = [n for n, _ in g.synthesis.named_children() if n.startswith("L1_")][0]
    with taps.record(g, [f"synthesis.{layer}"]) as seen:
        g(torch.randn(2, 8))
    assert not next(iter(dict(seen).values())).is_contiguous()  # the layout this test is about
    for where in (f"synthesis.{layer}", f"synthesis.{layer}.conv"):
        for name in TRANSFORMS:
            bent = bend_bundle(bundle, [{"layer": where, "transform": name}]).sample(2, seed=1).x
            assert bent.shape == plain.shape and torch.isfinite(bent).all(), (where, name)
        moved = bend_bundle(bundle, [{"layer": where, "transform": "multiply", "params": {"factor": 3.0}}])
        assert not torch.allclose(moved.sample(2, seed=1).x, plain), where
