"""The network-bending transforms, for methods: they live in the core, :mod:`swerve.transforms`, because a
bundle's stored bends are installed on its generator when it loads (see :mod:`swerve.live`)."""

from swerve.transforms import (  # noqa: F401
    PARAM_KINDS,
    TRANSFORMS,
    Param,
    Transform,
    ablate,
    add,
    dilate,
    erode,
    flip,
    invert,
    multiply,
    noise,
    oscillate,
    rotate,
    scale,
    sobel,
    threshold,
    translate,
)
