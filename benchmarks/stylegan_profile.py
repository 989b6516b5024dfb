"""Where a StyleGAN generator's CPU time goes, per op family, for swerve's and NVIDIA's code alike.

``family_split(run, generator)`` profiles one call of ``run`` (torch.profiler, CPU) and sums the self time of
every recorded op into one family:

- ``mapping``, ``affine`` (the style affines of the synthesis layers), ``filtered_lrelu``,
  ``up/down-sampling`` (upfirdn2d) and ``bias_act``: everything inside such a call, the outermost one
  counting (a filtered_lrelu's own upfirdn2d is filtered_lrelu time; the depthwise FIR convolutions inside
  upfirdn2d are resampling);
- ``conv``: the convolution kernels themselves, anywhere else, and the matrix product that is the
  convolution of swerve's 1x1 modulated layers (``SynthesisLayer3.modulated_1x1``, StyleGAN3-R's);
- ``modulation/demod``: the rest of a modulated convolution (NVIDIA's ``modulated_conv2d``; swerve's synthesis
  layers, where noise, bias and leaky ReLU are fused into the demodulation multiply-add and count here);
- ``others``: the rest (Fourier input, noise in NVIDIA's StyleGAN2 layers, image skips, ...).

NVIDIA's reference ops name themselves in the profiler (``_upfirdn2d_ref``, ``modulated_conv2d``, ...);
swerve's ops and both codes' mapping and affine layers are labelled here, for the profiled call only.
Used by ``stylegan_vs_reference.py --profile``.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from swerve.models import ops
from swerve.models import stylegan2 as sg2
from swerve.models import stylegan3 as sg3

FAMILIES = (
    "conv",
    "modulation/demod",
    "up/down-sampling",
    "filtered_lrelu",
    "bias_act",
    "mapping",
    "affine",
    "others",
)
LABELS = {  # profiler range name -> family (NVIDIA's own names and the ones put on swerve's code here)
    "_filtered_lrelu_ref": "filtered_lrelu",
    "filtered_lrelu": "filtered_lrelu",
    "_upfirdn2d_ref": "up/down-sampling",
    "upfirdn2d": "up/down-sampling",
    "_bias_act_ref": "bias_act",
    "bias_act": "bias_act",
    "mapping": "mapping",
    "affine": "affine",
    "modulated_conv2d": "modulation/demod",
    "modulation": "modulation/demod",
    "modulated_1x1": "modulation/demod",
}
PRODUCTS = ("aten::bmm", "aten::mm", "aten::matmul")  # inside ``modulated_1x1``: its convolution
SWERVE_LAYERS = ("SynthesisLayer", "ToRGBLayer", "SynthesisLayer3")  # the rest of a modulated conv
ABSORBING = ("mapping", "affine", "filtered_lrelu", "up/down-sampling", "bias_act")


def _labelled(fn: Callable, name: str) -> Callable:
    def wrapper(*args, **kwargs):
        with record_function(name):
            return fn(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _labels(generator: nn.Module) -> Iterator[None]:
    """Name swerve's ops and both codes' mapping/affine/synthesis layers in the profiler, then undo it."""
    patches = [
        (sg2, "upfirdn2d"),
        (ops, "upfirdn2d"),
        (sg2, "bias_act"),
        (ops, "bias_act"),
        (sg3, "filtered_lrelu"),
        (sg2, "demodulation"),
        (sg3, "demodulation"),
        (sg3.SynthesisLayer3, "modulated_1x1"),
    ]
    saved = [(module, attr, getattr(module, attr)) for module, attr in patches]
    for module, attr, fn in saved:
        setattr(module, attr, _labelled(fn, "modulation" if attr == "demodulation" else attr))
    handles, open_ranges = [], []

    def enter(name):
        def hook(module, args):
            open_ranges.append(record_function(name).__enter__())

        return hook

    def leave(module, args, output):
        open_ranges.pop().__exit__(None, None, None)

    for name, module in generator.named_modules():
        kind = type(module).__name__
        label = None
        if kind == "MappingNetwork":
            label = "mapping"
        elif name.endswith(".affine"):
            label = "affine"
        elif kind in SWERVE_LAYERS and module.__module__.startswith("swerve"):
            label = "modulation"
        if label:
            handles += [module.register_forward_pre_hook(enter(label)), module.register_forward_hook(leave)]
    try:
        yield
    finally:
        for module, attr, fn in saved:
            setattr(module, attr, fn)
        for handle in handles:
            handle.remove()


def _family(event) -> str:
    """The family of one profiler event, from its name and the labelled ranges around it."""
    labels, in_conv = [], False
    node = event
    while node is not None:
        if node.name in LABELS:
            labels.append(LABELS[node.name])
        in_conv = in_conv or (node.name.startswith("aten::") and "conv" in node.name)
        in_conv = in_conv or (node.name == "modulated_1x1" and event.name in PRODUCTS)
        node = node.cpu_parent
    absorbing = [label for label in labels if label in ABSORBING]
    if absorbing:
        return absorbing[-1]  # the outermost
    if in_conv:  # a convolution kernel, or a copy it makes (a transposed convolution's output layout)
        return "conv"
    return "modulation/demod" if "modulation/demod" in labels else "others"


def family_split(run: Callable[[], object], generator: nn.Module) -> dict[str, float]:
    """Seconds of CPU self time per family in one profiled call of ``run`` (which calls ``generator``)."""
    with _labels(generator), torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    seconds: dict[str, float] = defaultdict(float)
    for event in prof.events():
        seconds[_family(event)] += event.self_cpu_time_total / 1e6
    return {family: seconds.get(family, 0.0) for family in FAMILIES}
