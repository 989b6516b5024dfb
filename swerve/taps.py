"""Taps: read or rewrite the output of a named layer of any ``torch.nn.Module``.

This is the one hook mechanism the rest of swerve stands on. Network bending and the creative decoder
*write* a layer's output; subset scanning, channel clustering, model rewriting and feature extraction *read*
it. Layers are addressed by the names ``model.named_modules()`` gives them (``"blocks.1"``, ``"layers.0"``),
so a tap works on a model swerve has never seen; ``"conv:i"`` and ``"linear:i"`` are shortcuts for the
i-th convolution (or linear layer) module, counted in registration order, negative indices from the end.
A tap on a shortcut reads and writes its activation, after the norm and nonlinearity that follow the layer
in its ``Sequential`` (:func:`shortcuts`); methods that edit weights edit the layer itself. Every tap is a
context manager that removes its hooks on exit, even after an exception, which leaves the model bit-exactly
as it was.

Every tap on a layer goes through one forward hook per layer that runs in three stages, whatever order they
were added in:

1. **edits**: a model's persistent edits (:func:`install_edits`; a bundle installs its stored bends and
   creative decoder this way, so ``bundle.generator(z)`` is the edited model);
2. **rewrites**: transient :func:`rewrite` blocks (live bends, offsets, sweeps), in the order entered;
3. **recorders**: :func:`record` blocks, which see the output after both.

A deep copy of a model keeps its edits and drops its transient rewrites and recorders.

    with taps.record(G, ["blocks.0", "blocks.1"]) as acts:
        G(z)
    acts["blocks.1"]          # the layer's output for every call inside the block, concatenated on dim 0

    with taps.rewrite(G, "blocks.1", lambda out: out * 2):
        x = G(z)              # as if blocks.1's output had been doubled
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from swerve.errors import ConfigError

OutputFn = Callable[[torch.Tensor], torch.Tensor]


def layer_names(model: nn.Module) -> list[str]:
    """Every addressable layer of ``model`` in registration order (the root, named ``""``, is left out)."""
    return [name for name, _ in model.named_modules() if name]


_BLOCK_KINDS: dict[str, tuple[type[nn.Module], ...]] = {
    "conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d),
    "linear": (nn.Linear,),
}
_ANY_BLOCK = _BLOCK_KINDS["conv"] + _BLOCK_KINDS["linear"]


@dataclass(frozen=True)
class Shortcut:
    """What ``conv:i`` / ``linear:i`` names: ``layer``, the i-th such module itself (whose weights glitching,
    rewriting and blending edit), and ``tap``, the module whose output is its activation (what bends,
    scans and clusters read and write)."""

    name: str
    layer: str
    tap: str


def _has_block(module: nn.Module) -> bool:
    return any(isinstance(m, _ANY_BLOCK) for m in module.modules())


def shortcuts(model: nn.Module, kind: str = "conv") -> list[Shortcut]:
    """The ``conv:i`` (or ``linear:i``) shortcuts of ``model``, in registration order.

    The i-th shortcut names the i-th convolution (or linear layer) module. Its tap point is after that
    layer and the modules that directly follow it in the same ``Sequential`` up to the next convolution or
    linear layer (its norm, nonlinearity, reshape): the last of them, or the ``Sequential`` itself when they
    make up all of it (same output). Generators register their layers coarse to fine, so this is that order.
    """
    if kind not in _BLOCK_KINDS:
        raise ConfigError(f"unknown layer shortcut {kind!r}; use conv:i or linear:i")
    modules = dict(model.named_modules())
    found = []
    for name, module in modules.items():
        if not name or not isinstance(module, _BLOCK_KINDS[kind]):
            continue
        tap, (parent, _, child) = name, name.rpartition(".")
        if parent and isinstance(modules[parent], nn.Sequential):
            siblings = list(modules[parent].named_children())
            start = [key for key, _ in siblings].index(child)
            end = start + 1
            while end < len(siblings) and not _has_block(siblings[end][1]):
                end += 1
            tap = parent if start == 0 and end == len(siblings) else f"{parent}.{siblings[end - 1][0]}"
        found.append(Shortcut(f"{kind}:{len(found)}", name, tap))
    return found


def block_names(model: nn.Module, kind: str = "conv") -> list[str]:
    """The modules ``"conv:i"`` (or ``"linear:i"``) name, in order (see :func:`shortcuts`)."""
    return [s.layer for s in shortcuts(model, kind)]


def _shortcut(model: nn.Module, name: str) -> Shortcut | None:
    kind, sep, index = name.partition(":")
    if not sep or kind not in _BLOCK_KINDS:
        return None
    found = shortcuts(model, kind)
    try:
        return found[int(index)]
    except (ValueError, IndexError):
        raise ConfigError(
            f"{name!r}: {type(model).__name__} has {len(found)} {kind} blocks "
            f"(use {kind}:0 .. {kind}:{len(found) - 1}, or a layer name)"
        ) from None


def resolve_layer(model: nn.Module, name: str) -> str:
    """The ``named_modules`` name whose output ``name`` reads and writes: a shortcut's tap point, or the
    layer name itself."""
    found = _shortcut(model, name)
    return found.tap if found else name


def resolve_weights(model: nn.Module, name: str) -> str:
    """The ``named_modules`` name whose parameters ``name`` edits: the module a shortcut names (the
    convolution or linear layer alone), or the layer name itself."""
    found = _shortcut(model, name)
    return found.layer if found else name


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (for a ``conv:i`` / ``linear:i`` shortcut, its tap point); a
    :class:`ConfigError` naming close matches if there is none."""
    name = resolve_layer(model, name)
    modules = dict(model.named_modules())
    if name in modules and name:
        return modules[name]
    names = layer_names(model)
    near = [n for n in names if name and (name in n or n in name)][:5]
    hint = f"; did you mean {', '.join(near)}?" if near else f"; layers are: {', '.join(names[:12])}"
    if len(names) > 12 and not near:
        hint += ", ..."
    raise ConfigError(f"{type(model).__name__} has no layer {name!r}{hint}")


def _first_tensor(output: Any, layer: str) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ConfigError(f"layer {layer!r} returns {type(output).__name__}, not a tensor; tap another layer")


class _Stages:
    """The one forward hook swerve keeps on a layer: its edits, then rewrites, then recorders."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.edits: list[OutputFn] = []
        self.rewrites: list[OutputFn] = []
        self.recorders: list[Callable[[Any, Any], None]] = []

    def empty(self) -> bool:
        return not (self.edits or self.rewrites or self.recorders)

    def __call__(self, module: nn.Module, args: Any, output: Any) -> Any:
        changes = self.edits + self.rewrites
        if changes:
            if isinstance(output, torch.Tensor):
                out = output
            elif isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
                out = output[0]
            else:
                raise ConfigError(
                    f"layer {self.name!r} returns {type(output).__name__}, not a tensor; tap another layer"
                )
            for fn in changes:
                out = fn(out)
            output = out if isinstance(output, torch.Tensor) else (out, *output[1:])
        for recorder in list(self.recorders):
            recorder(args, output)
        return output if changes else None

    def __deepcopy__(self, memo: dict) -> _Stages:
        # A copy of the model keeps its edits; rewrites and recorders belong to the original's blocks.
        twin = _Stages(self.name)
        twin.edits = [copy.deepcopy(fn, memo) for fn in self.edits]
        return twin


def _stages(module: nn.Module, name: str, create: bool = True) -> _Stages | None:
    for hook in module._forward_hooks.values():
        if isinstance(hook, _Stages):
            return hook
    if not create:
        return None
    stages = _Stages(name)
    module.register_forward_hook(stages)
    return stages


def _prune(module: nn.Module) -> None:
    """Remove the layer's hook once nothing is tapped, so the module is exactly as it was."""
    for key, hook in list(module._forward_hooks.items()):
        if isinstance(hook, _Stages) and hook.empty():
            del module._forward_hooks[key]


@contextmanager
def _tapped(model: nn.Module, layer: str, stage: str, entry: Callable) -> Iterator[None]:
    module = find_layer(model, layer)
    entries = getattr(_stages(module, layer), stage)
    entries.append(entry)
    try:
        yield
    finally:
        for i in range(len(entries) - 1, -1, -1):
            if entries[i] is entry:
                del entries[i]
                break
        _prune(module)


@contextmanager
def record(
    model: nn.Module,
    layers: Sequence[str],
    *,
    detach: bool = True,
    device: torch.device | str | None = None,
    inputs: bool = False,
) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``layers`` for every forward call made inside the ``with`` block.

    The yielded dict is filled when the block exits: each layer maps to its outputs concatenated along the
    batch dimension, as the model computed them: after the model's edits and any active rewrites of the
    layer. ``detach=False`` keeps the graph (for losses on activations); ``device="cpu"`` moves each chunk
    off the accelerator as it is made, so long runs keep accelerator memory bounded; ``inputs=True``
    records each layer's (first) input instead of its output (model rewriting's keys).
    """
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    result: dict[str, torch.Tensor] = {}

    def recorder_for(name: str) -> Callable[[Any, Any], None]:
        def recorder(args: Any, output: Any) -> None:
            out = _first_tensor(args if inputs else output, name)
            out = out.detach() if detach else out
            chunks[name].append(out if device is None else out.to(device))

        return recorder

    with ExitStack() as stack:
        for name in layers:
            stack.enter_context(_tapped(model, name, "recorders", recorder_for(name)))
        yield result
    for name, parts in chunks.items():
        if parts:
            result[name] = torch.cat(parts) if len(parts) > 1 else parts[0]


@contextmanager
def rewrite(model: nn.Module, layer: str, fn: OutputFn) -> Iterator[None]:
    """Replace ``layer``'s output by ``fn(output)`` for every forward call inside the ``with`` block.

    Rewrites run after the model's edits (:func:`install_edits`) and before recorders. Several may be
    nested, on the same layer or others; on one layer they apply in the order they were entered. ``fn`` must
    keep the output's shape unless the layers after it accept the new one.
    """

    def step(out: torch.Tensor) -> torch.Tensor:
        return fn(out)

    with _tapped(model, layer, "rewrites", step):
        yield


EDITS_ATTR = "_swerve_edits"


def install_edits(model: nn.Module, edits: Sequence[tuple[str, OutputFn]], key: str = "") -> None:
    """Make ``edits`` (``(layer, fn)`` pairs, applied in order) ``model``'s persistent edits.

    They replace any installed before and stay until the next call (``install_edits(model, [])`` removes
    them, leaving the model bit-exactly as it was); each runs before any :func:`rewrite` or :func:`record`
    of its layer. ``key`` describes them (a bundle stores the JSON of its edits); :func:`edits_key` returns
    it. Every layer is looked up first, so a bad name changes nothing.
    """
    found = [(find_layer(model, layer), resolve_layer(model, layer), fn) for layer, fn in edits]
    for module in model.modules():
        stages = _stages(module, "", create=False)
        if stages is not None:
            stages.edits.clear()
            _prune(module)
    for module, name, fn in found:
        _stages(module, name).edits.append(fn)
    if edits:
        model.__dict__[EDITS_ATTR] = key
    else:
        model.__dict__.pop(EDITS_ATTR, None)


def edits_key(model: nn.Module) -> str:
    """The ``key`` of the edits installed on ``model`` (``""`` for none)."""
    return model.__dict__.get(EDITS_ATTR, "")


def reset_edits(model: nn.Module) -> None:
    """Restart the edits that draw random numbers (those with a ``reset()``), so a run is reproducible."""
    for module in model.modules():
        stages = _stages(module, "", create=False)
        for fn in stages.edits if stages is not None else ():
            reset = getattr(fn, "reset", None)
            if callable(reset):
                reset()


@torch.no_grad()
def output_shapes(model: nn.Module, *inputs: Any, **kwargs: Any) -> dict[str, tuple[int, ...]]:
    """Run ``model(*inputs, **kwargs)`` once and return each layer's output shape (batch dim included).

    Layers that do not run in that call, or return something other than a tensor, are left out.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                shapes[name] = tuple(output.shape)
            elif isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
                shapes[name] = tuple(output[0].shape)

        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(hook_for(name)))
        model(*inputs, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return {name: shapes[name] for name in layer_names(model) if name in shapes}
