"""Tests for swerve.look: grids, animations, plots, latent walks, the HTML report and the demo."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from PIL import Image

from swerve import zoo
from swerve.bundle import Bundle, DataSpec, LatentSpec
from swerve.errors import SwerveError
from swerve.look import sections
from swerve.look.demo import run_demo
from swerve.look.grid import make_grid, save_image, to_uint8, upscale
from swerve.look.plot import scatter_points
from swerve.look.report import Figure, Report, Section, format_number
from swerve.look.video import save_animation
from swerve.look.walk import latent_walk, slerp, walk_frames, walk_latents
from swerve.models import (
    ClassifierConfig,
    ConvEncoder,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    DomainClassifier,
    EncoderConfig,
    MLPConfig,
    MLPDiscriminator,
    MLPGenerator,
)

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
FASHION_CLASSES += ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def distinct_frames(n: int, size: tuple[int, int] = (20, 10), mode: str = "L") -> list[Image.Image]:
    return [
        Image.new(mode, size, color=(30 * i) if mode == "L" else (30 * i, 0, 255 - 30 * i)) for i in range(n)
    ]


def tiny_digits_gan(conditional: bool = False) -> Bundle:
    config = DCGANConfig(image_size=8, latent_dim=8, width=4, num_classes=10 if conditional else 0)
    nets = {"generator": DCGANGenerator(config), "discriminator": DCGANDiscriminator(config)}
    return Bundle(nets, DataSpec(shape=[1, 8, 8], dataset="digits"), LatentSpec(8), name="digits-gan")


# --- grids --------------------------------------------------------------------------------------------------
def test_to_uint8_maps_range_and_clamps():
    x = torch.tensor([-1.0, 1.0, 0.0, 3.0, -7.0]).view(1, 1, 1, 5)
    out = to_uint8(x)
    assert out.shape == (1, 1, 5, 1) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 255, 128, 255, 0]
    assert to_uint8(torch.full((1, 1, 1, 1), 0.5), value_range=(0, 1))[0, 0, 0, 0] == 128


def test_make_grid_puts_pixels_in_the_right_places():
    first = torch.tensor([[-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])
    x = torch.stack([first, -first]).unsqueeze(1)  # 2 images, 1 channel, 2 x 3 pixels
    grid = make_grid(x, nrow=2, padding=1, pad_value=77)
    assert grid.mode == "L" and grid.size == (2 * (3 + 1) + 1, 2 + 2)
    arr = np.asarray(grid)
    assert arr[1:3, 1:4].tolist() == [[0, 255, 0], [255, 0, 255]]
    assert arr[1:3, 5:8].tolist() == [[255, 0, 255], [0, 255, 0]]
    assert (arr[0] == 77).all() and (arr[:, 4] == 77).all() and (arr[:, -1] == 77).all()


def test_make_grid_rgb_and_default_layout():
    x = -torch.ones(5, 3, 4, 4)
    x[:, 0] = 1.0  # pure red
    grid = make_grid(x, padding=0)
    assert grid.mode == "RGB"
    assert grid.size == (3 * 4, 2 * 4)  # ceil(sqrt(5)) = 3 per row, 2 rows
    assert grid.getpixel((0, 0)) == (255, 0, 0)
    assert grid.getpixel((11, 7)) == (255, 255, 255)  # the empty sixth cell has the pad colour
    with pytest.raises(SwerveError):
        make_grid(torch.zeros(2, 2, 4, 4))


def test_upscale_uses_a_whole_factor_and_nearest_pixels():
    img = Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28) % 251)
    big = upscale(img, min_side=256)
    assert big.size == (280, 280)  # factor ceil(256 / 28) = 10
    assert big.getpixel((9, 9)) == img.getpixel((0, 0))
    assert big.getpixel((10, 0)) == img.getpixel((1, 0))
    assert upscale(Image.new("L", (300, 400)), 256).size == (300, 400)


def test_save_image_is_atomic(tmp_path):
    path = save_image(Image.new("RGB", (5, 4)), tmp_path / "out" / "grid.png")
    assert Image.open(path).size == (5, 4)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]


# --- animations ---------------------------------------------------------------------------------------------
def test_gif_round_trip(tmp_path):
    path = save_animation(distinct_frames(5), tmp_path / "walk.gif", fps=10)
    frames = imageio.mimread(path)
    assert len(frames) == 5
    assert frames[0].shape[:2] == (10, 20)
    with Image.open(path) as gif:
        assert gif.info["loop"] == 0 and gif.info["duration"] == 100
    assert [p.name for p in tmp_path.iterdir()] == ["walk.gif"]


def test_gif_from_a_tensor(tmp_path):
    x = torch.linspace(-1, 1, 4).view(4, 1, 1, 1).expand(4, 3, 6, 7)
    frames = imageio.mimread(save_animation(x, tmp_path / "t.gif"))
    assert len(frames) == 4 and frames[0].shape[:2] == (6, 7)


def test_mp4_is_written_padded_and_complete(tmp_path):
    path = save_animation(distinct_frames(6, size=(30, 20), mode="RGB"), tmp_path / "walk.mp4", fps=6)
    assert path.stat().st_size > 0
    reader = imageio.get_reader(path, format="FFMPEG")
    try:
        counted = reader.count_frames()
        frames = list(reader.iter_data())  # not list(reader): its length is reported as infinite
    finally:
        reader.close()
    assert counted == len(frames) == 6
    assert frames[0].shape == (32, 32, 3)  # padded to multiples of 16
    assert [p.name for p in tmp_path.iterdir()] == ["walk.mp4"]


def test_bad_suffix_and_bad_frames_leave_nothing(tmp_path):
    with pytest.raises(SwerveError, match=r"\.avi"):
        save_animation(distinct_frames(2), tmp_path / "walk.avi")
    with pytest.raises(SwerveError, match="same size"):
        save_animation([Image.new("L", (4, 4)), Image.new("L", (5, 4))], tmp_path / "walk.gif")
    with pytest.raises(SwerveError):
        save_animation([], tmp_path / "walk.gif")
    assert list(tmp_path.iterdir()) == []


# --- plots --------------------------------------------------------------------------------------------------
def test_scatter_points_returns_and_saves_an_image(tmp_path):
    points = torch.randn(100, 2)
    img = scatter_points(
        points,
        reference=np.random.default_rng(0).normal(size=(50, 2)),
        title="t",
        path=tmp_path / "s.png",
        size=3.0,
    )
    assert img.mode == "RGB" and img.size == (300, 300)
    assert Image.open(tmp_path / "s.png").size == (300, 300)
    assert len(np.unique(np.asarray(img).reshape(-1, 3), axis=0)) > 10  # something was drawn
    with pytest.raises(SwerveError, match="N x 2"):
        scatter_points(torch.zeros(4, 3))


# --- latent walks -------------------------------------------------------------------------------------------
def test_slerp_endpoints_and_midpoint():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    mid = slerp(a, b, 0.5)
    assert mid.norm().item() == pytest.approx(1.0, abs=1e-6)  # a straight line would give 0.707
    assert torch.allclose(mid, (a + b) / math.sqrt(2), atol=1e-6)
    same = slerp(a, 2 * a, 0.5)  # parallel: falls back to a line instead of dividing by zero
    assert torch.allclose(same, 1.5 * a)


def test_walk_latents_loop_back():
    points = torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(0))
    latents = walk_latents(points, frames_per_leg=12)
    assert latents.shape == (48, 2, 8)
    assert torch.allclose(latents[0], points[0]) and torch.allclose(latents[12], points[1], atol=1e-5)
    last_step = (latents[-1] - latents[0]).norm(dim=-1)
    whole_leg = (points[-1] - points[0]).norm(dim=-1)
    assert (last_step < 0.2 * whole_leg).all()


def test_latent_walk_on_a_tiny_gan():
    gan = tiny_digits_gan(conditional=True)
    batches = latent_walk(gan, n_points=3, frames_per_leg=4, seed=1, label=2, n=2)
    assert len(batches) == 12 and batches[0].shape == (2, 1, 8, 8)
    again = latent_walk(gan, n_points=3, frames_per_leg=4, seed=1, label=2, n=2)
    assert all(torch.equal(x, y) for x, y in zip(batches, again, strict=True))
    frames = walk_frames(gan, n_points=2, frames_per_leg=3, n=2, nrow=2, min_side=64)
    assert len(frames) == 6 and frames[0].size == (22 * 6, 12 * 6)  # a 22 x 12 grid, enlarged 6 times


# --- the report ---------------------------------------------------------------------------------------------
def test_format_number():
    assert format_number(0.87345) == "0.873"
    assert format_number(12.345) == "12.3"
    assert format_number(12345.6) == "12,300"
    assert format_number(12345) == "12,345"
    assert format_number(0.0000123) == "1.23e-05"
    assert format_number(0.0) == "0"
    assert format_number(None) == "—"
    assert format_number("n/a") == "n/a"


def test_report_inlines_images_escapes_text_and_formats_numbers(tmp_path):
    gif = save_animation(distinct_frames(3), tmp_path / "w.gif")
    report = Report(seed=7, command="swerve demo --seed 7")
    report.add(
        Section(
            "Pictures <first>",
            "Plain text with <script>alert(1)</script> & friends.",
            figures=[Figure(Image.new("L", (28, 28)), "a <b>grid</b>"), Figure(gif, "a walk")],
            table={"accuracy": 0.87345, "count": 12345},
            kind="zoo",
        )
    )
    report.add(Section("Rows", "", table=[{"model": "a", "score": 1.5}, {"model": "b"}]))
    report.add(Section.failed("broken", "no <model>"))
    path = report.save(tmp_path / "report.html")
    page = path.read_text()
    assert "Pictures &lt;first&gt;" in page and "Rows" in page
    assert page.count("data:image/png;base64,") == 1 and page.count("data:image/gif;base64,") == 1
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends." in page
    assert "a &lt;b&gt;grid&lt;/b&gt;" in page
    assert '<td class="num">0.873</td>' in page and '<td class="num">12,345</td>' in page
    assert '<td class="num">1.50</td>' in page and "<td>—</td>" in page
    assert "could not run: no &lt;model&gt;" in page
    assert "seed 7" in page and "swerve demo --seed 7" in page and "active divergence" in page
    assert "prefers-color-scheme" in page and "image-rendering: pixelated" in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_groups_sections_by_stage_with_contents_linking_each_card():
    report = Report(intro="What this is.\n\nHow to read it.", stages={"Make": "Models first."})
    for title, stage in (("Grid", "Make"), ("Walk", "Make"), ("Bend", "Diverge"), ("Map", "Measure")):
        report.add(Section(title, "Run `swerve demo` & look.", stage=stage))
    page = report.render()
    headings = [page.index(f">{n}. {s}</h2>") for n, s in ((1, "Make"), (2, "Diverge"), (3, "Measure"))]
    assert headings == sorted(headings) and page.count("</h2>") == 3  # one heading per run of a stage
    cards = [page.index(f"<h3>{t}") for t in ("Grid", "Walk", "Bend", "Map")]
    assert headings[0] < cards[0] < cards[1] < headings[1] < cards[2] < headings[2] < cards[3]
    nav = page[page.index("<nav") : page.index("</nav>")]
    for i, title in enumerate(("Grid", "Walk", "Bend", "Map")):
        anchor = f"s{i}-{title.lower()}"
        assert f'href="#{anchor}">{title}</a>' in nav and f'id="{anchor}"' in page
    assert "Models first." in page and page.count('<p class="intro">') == 2
    assert "Run <code>swerve demo</code> &amp; look." in page


def test_wide_tables_go_under_the_pictures_and_narrow_ones_beside_them():
    figure = [Figure(Image.new("L", (28, 28)))]
    narrow = Section("n", figures=figure, table=[{"a": 1, "b": 2}])
    wide = Section("w", figures=figure, table=[{c: 1 for c in "abcdef"}])
    page = Report().add(narrow).add(wide).render()
    assert page.count('class="body with-table"') == 1
    assert page.index('class="body with-table"') < page.index('id="s1-w"')


def test_report_rejects_unknown_image_files(tmp_path):
    (tmp_path / "x.bmp").write_bytes(b"BM")
    with pytest.raises(SwerveError, match="x.bmp"):
        Report().add(Section("s", figures=[Figure(tmp_path / "x.bmp")])).render()


def test_failing_section_becomes_a_card_and_the_rest_renders(tmp_path, monkeypatch):
    def good(ctx):
        return Section(
            "Good section", "It worked.", [Figure(Image.new("L", (8, 8)), name="good")], {"x": 1.0}
        )

    def bad(ctx):
        raise SwerveError("the model is missing a discriminator")

    def absent(ctx):
        return None

    monkeypatch.setattr(sections, "SECTIONS", {"good": good, "bad": bad, "absent": absent})
    monkeypatch.setattr(sections, "ORDER", {"bad": 1, "good": 2, "absent": 3})
    monkeypatch.setattr(sections, "SECTION_MODULES", ())  # only these three, whatever is imported first
    messages: list[str] = []
    page = run_demo(tmp_path, seed=3, progress=messages.append).read_text()
    assert "Good section" in page and "could not run: the model is missing a discriminator" in page
    assert messages[:3] == ["[1/3] bad", "[2/3] good", "[3/3] absent"]
    record = json.loads((tmp_path / "demo.json").read_text())
    assert [(s["name"], s["status"]) for s in record["sections"]] == [
        ("bad", "failed"),
        ("good", "ok"),
        ("absent", "skipped"),
    ]
    assert (tmp_path / "figures" / "good.png").is_file()


# --- the demo on a tiny zoo ---------------------------------------------------------------------------------
def save_tiny_zoo(root: Path) -> None:
    """Untrained miniature versions of every zoo model the demo uses."""
    torch.manual_seed(0)
    image = DataSpec(shape=[1, 28, 28], classes=FASHION_CLASSES, dataset="fashion-mnist")
    points = DataSpec(shape=[2], dataset="toy")
    gan = DCGANConfig(image_size=28, latent_dim=8, width=4, num_classes=10, class_embed_dim=4)
    Bundle(
        {"generator": DCGANGenerator(gan), "discriminator": DCGANDiscriminator(gan)},
        image,
        LatentSpec(8),
        name="fashion-gan",
    ).save(root / "fashion-gan")
    decoder = DCGANConfig(image_size=28, latent_dim=4, width=4)
    Bundle(
        {"generator": DCGANGenerator(decoder), "encoder": ConvEncoder(EncoderConfig(latent_dim=4, width=4))},
        image,
        LatentSpec(4),
        name="fashion-vae",
    ).save(root / "fashion-vae")
    classifier = DomainClassifier(ClassifierConfig(width=4, feature_dim=8))
    Bundle({"classifier": classifier}, image, name="fashion-classifier").save(root / "fashion-classifier")
    for name in ("gaussians25-wgangp", "swissroll-wgangp"):
        nets = {
            "generator": MLPGenerator(MLPConfig(hidden=16, depth=2)),
            "discriminator": MLPDiscriminator(MLPConfig(out_dim=1, hidden=16, depth=2)),
        }
        Bundle(nets, points, LatentSpec(2), name=name).save(root / name)
    tiny_digits_gan().save(root / "digits-gan")


def core_sections_only(monkeypatch) -> None:
    """Leave out the sections other modules register (SECTION_MODULES): these tests are about the core."""
    monkeypatch.setattr(sections, "SECTION_MODULES", ())
    core = {k: v for k, v in sections.SECTIONS.items() if v.__module__ == sections.__name__}
    monkeypatch.setattr(sections, "SECTIONS", core)


def test_demo_on_a_tiny_zoo(tmp_path, monkeypatch):
    save_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "zoo")

    def fake_test_images(n, seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1, torch.arange(n) % 10

    monkeypatch.setattr(sections, "fashion_test_images", fake_test_images)
    # The core sections only: method modules (SECTION_MODULES) test their own sections.
    core = {"fashion-gan", "latent-walk", "vae", "toys", "digits-gan"}
    monkeypatch.setattr(sections, "SECTION_MODULES", ())
    monkeypatch.setattr(sections, "SECTIONS", {k: v for k, v in sections.SECTIONS.items() if k in core})
    out = tmp_path / "demo"
    report = run_demo(out, seed=5)
    page = report.read_text()
    titles = [
        "The zoo: Fashion-MNIST GAN",
        "A latent walk",
        "The VAE",
        "2-D toys",
        "8×8 digits GAN",
    ]
    for title in titles:
        assert f">{title}<" in page
    assert "could not run" not in page
    # GAN grid, walk GIF and strip, VAE prior and reconstructions, two scatter plots, digits grid.
    assert page.count('src="data:image/') == 8 and page.count("data:image/gif;base64,") == 1
    assert "% classified as the class asked for" in page and "modes covered" in page
    assert "reconstruction error (mean squared)" in page

    record = json.loads((out / "demo.json").read_text())
    assert record["seed"] == 5 and record["swerve_version"]
    assert [s["title"] for s in record["sections"]] == titles
    files = [f for s in record["sections"] for f in s["figures"]]
    assert len(files) == 8 and all((out / f).is_file() for f in files)
    assert (out / "figures" / "latent-walk.gif").is_file()
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_demo_cards_say_what_they_cannot_show_without_the_test_images(tmp_path, monkeypatch):
    from swerve.data import idx

    save_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "zoo")
    (tmp_path / "empty").mkdir()  # Fashion-MNIST nowhere: an empty folder, no Debian package, no cache
    monkeypatch.setenv("SWERVE_FASHION_MNIST", str(tmp_path / "empty"))
    monkeypatch.delenv("SWERVE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(idx, "DEBIAN_DIR", tmp_path / "no-debian-data")
    ctx = sections.DemoContext(out_dir=tmp_path / "demo")
    gan, vae = sections.fashion_gan(ctx), sections.vae(ctx)
    assert "… on real test images" not in gan.table
    assert "Not shown: the critic's logit on real test images" in gan.text
    assert "reconstruction error (mean squared)" not in vae.table
    assert "Not shown: reconstructions" in vae.text
    for text in (gan.text, vae.text):
        assert "dataset-fashion-mnist" in text and "SWERVE_FASHION_MNIST" in text
    from swerve.errors import SwerveError
    from swerve.measure.report import divergence_map_section

    with pytest.raises(SwerveError, match="dataset-fashion-mnist"):  # a card saying why, not none at all
        divergence_map_section(ctx)


def test_demo_refinement_section_on_a_tiny_zoo(tmp_path, monkeypatch):
    save_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "zoo")
    monkeypatch.setattr(sections, "SECTION_MODULES", ("swerve.refine.report",))
    sections.ordered_sections()  # registers the refinement section
    monkeypatch.setattr(sections, "SECTIONS", {"refine": sections.SECTIONS["refine"]})
    page = run_demo(tmp_path / "demo", seed=5).read_text()
    assert ">Refining samples with the critic<" in page and "could not run" not in page
    # Six scatter plots (base and five methods) and two image grids.
    assert page.count('src="data:image/') == 8


def test_demo_without_a_zoo_still_writes_a_report(tmp_path, monkeypatch):
    core_sections_only(monkeypatch)
    monkeypatch.setattr(zoo, "BUNDLES", tmp_path / "empty")
    page = run_demo(tmp_path / "demo").read_text()
    assert "Nothing to show yet" in page
    record = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert {s["status"] for s in record["sections"]} == {"skipped"}
