"""The sketch pad: a picture drawn on the page, rendered through a translation (pix2pix) model with the
page's bends. The drawing arrives as a PNG data URL; it is read like any picture (swerve.data.picture).
A drawing is dark lines on light paper; for a model trained on ``edges`` (bright edges on black) it is
inverted first. With ``as_target`` the drawing is taken as a finished picture and the model's own transform
makes its input."""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image

from swerve.data.picture import read_picture
from swerve.diverge.bend import apply_bends, bundle_clusters
from swerve.errors import ConfigError
from swerve.studio.recipe import to_picture
from swerve.translate import input_shape, make_input, translate, translation_of

PREFIX = "data:image/png;base64,"


def decode_drawing(data_url: str) -> io.BytesIO:
    """The PNG bytes of a ``data:image/png;base64,`` URL; a ConfigError for anything else."""
    if not data_url.startswith(PREFIX):
        raise ConfigError("the drawing must be a PNG data URL (data:image/png;base64,...)")
    try:
        raw = base64.b64decode(data_url[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("the drawing's base64 data is not valid") from None
    return io.BytesIO(raw)


def render_sketch(studio, body) -> Image.Image:  # noqa: ANN001 - a Studio and a SketchIn
    """``body.picture`` through ``body.model`` with ``body.bends`` (refused before drawing if bad)."""
    key = studio.models.resolve(body.model)
    bundle = studio.models.get(key)
    value_range = tuple(bundle.data.range)
    shape = input_shape(bundle)  # a BundleError unless the model translates pictures
    drawing = decode_drawing(body.picture)
    if body.as_target:
        source = make_input(
            bundle, read_picture(drawing, *bundle.data.shape, value_range, name="the drawing")
        )
    else:
        source = read_picture(drawing, *shape, value_range, name="the drawing")
        if translation_of(bundle).get("transform") == "edges":
            source = value_range[0] + value_range[1] - source  # dark lines on paper -> bright edges on black
    bends = studio.check_bends(bundle, body.bends)
    clusters = bundle_clusters(bundle) if bends else None
    with studio.lock(key), apply_bends(bundle.generator, bends, clusters=clusters):
        out = translate(bundle, source)
    return to_picture(out.clamp(*value_range), bundle)
