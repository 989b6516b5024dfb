"""swerve react: the pictures move with the beat, renders are reproducible and resumable, the track is
muxed in, and mistakes are one line (exit 2)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("librosa", reason="swerve react needs the audio extra: pip install 'swerve[audio]'")

from swerve.errors import SwerveError  # noqa: E402
from swerve.look.mapping import parse_mapping  # noqa: E402
from swerve.look.react import frames_array, react  # noqa: E402

SR = 22050
BPM = 120
FPS = 24
SECONDS = 3.0
BEATS = [round(b * FPS) for b in np.arange(0, SECONDS, 60 / BPM)]  # frames 0, 12, 24, ...


def click_track(seconds: float = SECONDS) -> np.ndarray:
    """Short decaying 1 kHz clicks at BPM beats per minute over a quiet 220 Hz hum."""
    y = 0.02 * np.sin(2 * np.pi * 220 * np.arange(int(SR * seconds)) / SR)
    t = np.arange(int(0.03 * SR)) / SR
    click = np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 150)
    for beat in np.arange(0, seconds, 60 / BPM):
        i = int(beat * SR)
        y[i : i + len(click)] += click[: len(y) - i]
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    import soundfile

    path = tmp_path_factory.mktemp("audio") / "click.wav"
    soundfile.write(path, click_track(), SR)
    return path


PULSE = {"bindings": [{"source": "onset", "target": "latent.pulse", "range": [0, 1.5], "decay": 0.1}]}


@pytest.fixture(scope="module")
def pulsed(track, tmp_path_factory):
    """One uninterrupted render of the click track with onsets driving the latent pulse."""
    out = tmp_path_factory.mktemp("pulsed") / "video.mp4"
    result = react(
        "fashion-gan", track, parse_mapping(PULSE), out, batch=16, progress=False, size=64, keep_frames=True
    )
    return result, frames_array(result["run_dir"])


def digest(frames: np.ndarray) -> str:
    return hashlib.sha256(frames.tobytes()).hexdigest()


def test_pictures_move_with_the_beat(pulsed, track):
    from swerve.look.audio import track_features

    result, frames = pulsed
    assert len(frames) == result["frames"] == round(SECONDS * FPS)
    change = np.abs(np.diff(frames.astype(float), axis=0)).mean(axis=tuple(range(1, frames.ndim)))
    change = np.concatenate([[0.0], change])  # change[i]: how much frame i differs from frame i - 1
    onset = track_features(track, FPS).values["onset"]
    assert np.corrcoef(change, onset)[0, 1] > 0.7
    shuffled = np.random.default_rng(0).permutation(onset)
    assert abs(np.corrcoef(change, shuffled)[0, 1]) < 0.3
    biggest = sorted(np.argsort(change)[-(len(BEATS) - 1) :].tolist())
    assert biggest == BEATS[1:]  # the first beat has no frame before it to differ from


def test_same_inputs_same_frames_other_seed_other_frames(pulsed, track, tmp_path):
    result, frames = pulsed
    again = react(
        "fashion-gan",
        track,
        parse_mapping(PULSE),
        tmp_path / "a.mp4",
        batch=16,
        progress=False,
        keep_frames=True,
    )
    assert digest(frames_array(again["run_dir"])) == digest(frames)
    other = react(
        "fashion-gan", track, parse_mapping(PULSE), tmp_path / "b.mp4", batch=16, seed=1, keep_frames=True
    )
    assert digest(frames_array(other["run_dir"])) != digest(frames)
    recipe = json.loads((tmp_path / "a.mp4.json").read_text())
    assert recipe["format"] == "swerve-react" and recipe["seed"] == 0 and recipe["fps"] == FPS
    assert recipe["track_sha256"] == result["track_sha256"] and len(recipe["bundle_sha256"]) == 64
    assert recipe["mapping"]["bindings"][0]["target"] == "latent.pulse"


def test_resume_after_an_interrupted_render_gives_the_same_frames(pulsed, track, tmp_path):
    _, frames = pulsed
    out, run = tmp_path / "v.mp4", tmp_path / "run"

    def stop(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        react("fashion-gan", track, parse_mapping(PULSE), out, run_dir=run, batch=16, on_batch=stop)
    assert len(frames_array(run)) == 16 and not out.exists()
    with open(run / "frames.u8", "ab") as fh:  # a frame cut off by a crash is drawn again
        fh.write(b"\x00" * 100)
    with pytest.raises(SwerveError, match="pass --resume"):
        react("fashion-gan", track, parse_mapping(PULSE), out, run_dir=run, batch=16, progress=False)
    result = react(
        "fashion-gan", track, parse_mapping(PULSE), out, run_dir=run, batch=16, resume=True, keep_frames=True
    )
    assert result["resumed_from"] == 16
    assert digest(frames_array(run)) == digest(frames)
    other = parse_mapping({**PULSE, "seed": 5})
    with pytest.raises(SwerveError, match="other inputs"):
        react("fashion-gan", track, other, tmp_path / "w.mp4", run_dir=run, resume=True, progress=False)


def test_bend_target_drives_a_real_bend(track, tmp_path):
    from swerve.bundle import load
    from swerve.look.grid import to_uint8
    from swerve.studio import explore

    mapping = parse_mapping(
        {"bindings": [{"source": "onset", "target": "blocks.1.rotate.degrees", "range": [0, 90]}]}
    )
    result = react("fashion-gan", track, mapping, tmp_path / "bent.mp4", progress=False, keep_frames=True)
    frames = frames_array(result["run_dir"])[..., 0].astype(int)
    bundle = load("fashion-gan")
    plain = bundle.sample(1, z=explore.seed_latent(bundle, 0), labels=0).x
    unbent = to_uint8(plain, tuple(bundle.data.range))[0][:, :, 0].astype(int)
    quiet = [i for i in range(len(frames)) if all(abs(i - b) > 2 for b in BEATS)]
    off_beat = max(np.abs(frames[i] - unbent).mean() for i in quiet)
    on_beat = min(np.abs(frames[b] - unbent).mean() for b in BEATS[1:])
    assert off_beat < 1 and on_beat > 5 * off_beat  # rotated by about 0 degrees, then much more


def test_frames_bent_each_their_own_way_share_a_batch_and_draw_as_alone(track, tmp_path):
    bend = {"source": "onset", "target": "blocks.1.rotate.degrees", "range": [0, 90], "decay": 0.2}
    mapping = parse_mapping({"bindings": [bend]})
    runs = {
        batch: react(
            "fashion-gan",
            track,
            mapping,
            tmp_path / f"b{batch}.mp4",
            batch=batch,
            progress=False,
            keep_frames=True,
        )
        for batch in (16, 1)
    }
    assert runs[16]["batches"] == -(-runs[16]["frames"] // 16)  # every bend angle its own, 16 frames a batch
    together, alone = (frames_array(runs[b]["run_dir"]).astype(int) for b in (16, 1))
    assert len(np.unique(together.reshape(len(together), -1), axis=0)) > 10  # the frames do differ
    assert np.abs(together - alone).max() <= 1  # the same pictures (a batch may round differently)


def test_cli_renders_a_video_with_the_track_muxed_in(cli, track, tmp_path):
    import imageio_ffmpeg

    out = tmp_path / "song.mp4"
    code, stdout, err = cli("react", "fashion-gan", track, "--preset", "pulse", "--out", out, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["frames"] == round(SECONDS * FPS) and result["mapping"]["presets"] == ["pulse"]
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True
    )
    assert "Video: h264" in probe.stderr and "Audio: aac" in probe.stderr
    assert result["run_dir"] is None and not (tmp_path / "song.mp4.frames").exists()  # frames removed
    code, _, err = cli("react", "fashion-gan", track, "--preset", "pulse", "--out", out)
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ("bindings: [{source: onsets, target: latent.pulse}]", "unknown feature 'onsets'"),
        ("bindings: [{source: onset, target: latent.push}]", "unknown target 'latent.push'"),
        ("bindings: [{source: onset, target: class, curve: wobbly}]", "curve must be"),
        ("bindings: [{source: onset, target: class, range: [0, .nan]}]", "finite"),
        ("bindings: [{source: onset, target: latent.t, range: [0, 5]}]", "must lie within [0, 1]"),
        ("bindings: [{source: 'osc:/fader', target: class}]", "live osc source"),
        ("bindings: [{source: onset, target: blocks.9.rotate.degrees}]", "blocks.9"),
    ],
)
def test_mapping_mistakes_are_one_line_exit_2(cli, track, tmp_path, mapping, words):
    path = tmp_path / "map.yaml"
    path.write_text(mapping + "\n")
    code, _, err = cli("react", "fashion-gan", track, "--map", path, "--out", tmp_path / "v.mp4")
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "v.mp4").exists()


def _convert(source, target) -> str | None:
    """Write ``target`` from ``source`` with sox, else imageio's ffmpeg; the reason when neither can."""
    if shutil.which("sox"):
        done = subprocess.run(["sox", str(source), str(target)], capture_output=True, text=True)
        if done.returncode == 0:
            return None
    import imageio_ffmpeg

    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(source), str(target)],
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else f"neither sox nor ffmpeg writes {target.suffix}: {done.stderr}"


@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".mp3"])
def test_compressed_tracks_decode(track, tmp_path, suffix):
    from swerve.look.audio import analyse, decode

    target = tmp_path / f"click{suffix}"
    reason = _convert(track, target)
    if reason:
        pytest.skip(reason)
    y = decode(target)
    assert abs(len(y) / SR - SECONDS) < 0.1  # mp3 pads a little
    onset = analyse(y, FPS).values["onset"]
    near = [b + d for b in BEATS for d in (-1, 0, 1) if 0 <= b + d < len(onset)]
    assert all(onset[b - 1 : b + 2].max() > 0.5 for b in BEATS[1:])  # every beat has its onset,
    assert np.delete(onset, near).max() < 0.2  # and nothing else does


def test_unreadable_track_is_one_line(cli, tmp_path):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"not audio at all")
    code, _, err = cli("react", "fashion-gan", bad, "--preset", "pulse", "--out", tmp_path / "v.mp4")
    assert code == 2 and "cannot be decoded as audio" in err and len(err.strip().splitlines()) == 1


def test_class_preset_follows_the_strongest_pitch_class():
    from swerve.look.audio import analyse
    from swerve.look.react import control_track, plan_frames, studio_for

    t = np.arange(SR) / SR
    tones = np.concatenate([np.sin(2 * np.pi * 440.0 * t), np.sin(2 * np.pi * 293.66 * t)])  # A, then D
    features = analyse(tones.astype(np.float32), FPS)
    studio, model_id = studio_for("fashion-gan")
    controls = control_track(parse_mapping({"presets": ["class"]}), features)
    plan = plan_frames(studio, model_id, {"model": model_id, "latent": {"seed": 0}}, controls, 32)
    labels = [recipe.label for recipe in plan.recipes]
    assert labels[4:20] == [9] * 16 and labels[28:44] == [2] * 16  # pitch classes A = 9 and D = 2


def test_start_state_is_checked_before_any_work_and_gives_the_seed(cli, track, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"model": "fashion-gan", "label": 30}))
    out = tmp_path / "v.mp4"
    code, _, err = cli("react", "fashion-gan", track, "--preset", "pulse", "--state", state, "--out", out)
    assert code == 2 and "label 30 is out of range" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v.mp4.frames").exists()
    state.write_text(
        json.dumps({"latent": {"seed": 7}, "bends": [{"layer": "conv:0", "transform": "ablate"}]})
    )
    code, stdout, err = cli(
        "react", "fashion-gan", track, "--preset", "pulse", "--state", state, "--out", out, "--json"
    )
    assert code == 0, err
    result = json.loads(stdout)
    assert result["seed"] == 7 and result["state"]["bends"][0]["transform"] == "ablate"


def test_missing_librosa_names_the_extra(cli, track, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "librosa", None)  # import librosa now raises ImportError
    code, _, err = cli("react", "fashion-gan", track, "--preset", "pulse", "--out", tmp_path / "v.mp4")
    assert code == 2 and "pip install 'swerve[audio]'" in err and len(err.strip().splitlines()) == 1


def test_a_run_folder_of_the_users_is_refused_by_its_own_name(track, tmp_path, cli) -> None:
    """--run-dir pointing at a folder of the user's: refused before any work, its files untouched, and the
    message does not send the user to --out (the video's option)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    code, _, err = cli(
        "react", "fashion-gan", track, "--preset", "pulse", "--run-dir", mine, "--out", tmp_path / "v.mp4"
    )
    assert code == 2 and "did not write" in err and "--out" not in err, err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (
        mine / "notes.txt"
    ).read_text() == "precious"
    assert not (tmp_path / "v.mp4").exists()
