"""Rating sessions and the agreement report: scripted raters, textbook alpha, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from swerve.errors import DataError
from swerve.look.rating import new_session, report, write_csv, write_plots
from swerve.look.store import Store
from swerve.measure.agreement import krippendorff_alpha, pairwise_scores, rank_agreement

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the example with four observers, twelve
# units and missing values: alpha 0.743 nominal, 0.815 ordinal, 0.849 interval.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


@pytest.mark.parametrize("level, expected", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_matches_the_textbook_example(level, expected):
    assert krippendorff_alpha(TEXTBOOK, level) == pytest.approx(expected, abs=5e-4)


def test_alpha_is_one_for_perfect_agreement_and_undefined_without_pairs():
    assert krippendorff_alpha([[1, 2, 3, 4], [1, 2, 3, 4]], "ordinal") == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))


def test_rank_agreement_names_why_it_cannot_correlate():
    assert rank_agreement([1, 2], [3, 4])["notes"][0].startswith("2 pictures")
    flat = rank_agreement([3, 3, 3, 3], [1, 2, 3, 4])
    assert flat["spearman"] is None and "same for every picture" in flat["notes"][0]


def test_pairwise_scores_are_shares_of_wins():
    assert pairwise_scores([(1, 2, 0), (1, 3, 1), (2, 3, 1)]) == {1: 0.5, 2: 0.0, 3: 1.0}


def rater_scores(signal: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A scripted rater: a 1-5 score rising with ``signal`` (in 0..1), plus Gaussian noise."""
    return np.clip(np.round(1 + 4 * signal + rng.normal(0, noise, len(signal))), 1, 5).astype(int)


def mean_scores(signal: np.ndarray, seed: int, raters: int = 3, noise: float = 0.8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.mean([rater_scores(signal, rng, noise) for _ in range(raters)], axis=0)


def samples_file(path: Path, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    measures = {"novelty": rng.random(n), "density": rng.random(n), "critic": rng.normal(size=n)}
    x = rng.uniform(-1, 1, size=(n, 1, 8, 8)).astype(np.float32)
    recipe = np.array(json.dumps({"bundle": "fashion-gan", "method": "bend"}))
    np.savez(path, x=x, recipe=recipe, **measures)
    return measures


def test_scripted_raters_who_follow_novelty_make_it_the_best_measure_within_its_interval(tmp_path: Path):
    n = 60
    measures = samples_file(tmp_path / "samples.npz", n)
    store = Store(tmp_path / "swerve.db")
    session_id = new_session(store, tmp_path / "samples.npz", seed=3)
    session = store.session(session_id)
    assert session["items"] == n and session["kind"] == "scores"
    order = [item["left_id"] for item in store.items(session_id)]
    assert order != sorted(order)  # shuffled
    index = {
        p["id"]: int(p["name"].split("[")[1][:-1])
        for p in store.gallery(kind="sample", per_page=n)["pictures"]
    }
    rng = np.random.default_rng(11)
    for name in ("ana", "ben", "chi"):
        rater = store.rater(name)
        signal = np.array([measures["novelty"][index[pid]] for pid in order])
        novelty, value = rater_scores(signal, rng, 0.8), rng.integers(1, 6, size=n)
        for position in range(n):
            store.rate(
                session_id, rater, position, novelty=int(novelty[position]), value=int(value[position])
            )

    result = report(store, session["name"], n_boot=500, seed=0)
    assert result["best"]["novelty"] == "novelty"
    row = next(r for r in result["measures"] if r["target"] == "novelty" and r["measure"] == "novelty")
    # the correlation the rater model implies, from many pictures, lies in the interval the session gives
    big = np.random.default_rng(5).random(100_000)
    truth = stats.spearmanr(mean_scores(big, 6), big).statistic
    assert row["spearman"]["low"] <= truth <= row["spearman"]["high"]
    assert row["spearman"]["low"] > 0.5 and row["n"] == n and row["missing"] == []
    assert result["agreement"]["novelty"]["alpha_interval"] > 0.4  # raters share the signal
    assert abs(result["agreement"]["value"]["alpha_interval"]) < 0.2  # random values: no agreement
    json.dumps(result, allow_nan=False)

    write_csv(result, tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0].startswith("target,measure,n,spearman") and lines[1].startswith("novelty,novelty,60,")
    plots = write_plots(result, tmp_path / "plots")
    assert len(plots) == 6 and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)


def test_a_measure_some_pictures_lack_is_reported_missing_with_the_reason(tmp_path: Path):
    store = Store(tmp_path / "swerve.db")
    for i in range(6):
        measures = {"novelty": float(i)} | ({"critic": float(i)} if i % 2 else {"critic": NAN})
        store.add_picture("keep", f"keep-{i}", measures=measures)
    session_id = new_session(store, "gallery", seed=0)
    rater = store.rater("ana")
    for item in store.items(session_id):
        score = 1 + store.picture(item["left_id"])["measures"]["novelty"] % 5
        store.rate(session_id, rater, item["position"], novelty=int(score), value=3)
    rows = {r["measure"]: r for r in report(store, session_id, n_boot=50)["measures"]}
    assert rows["novelty"]["missing"] == [] and rows["novelty"]["n"] == 6
    assert rows["critic"]["n"] == 3 and len(rows["critic"]["missing"]) == 3
    assert all("not finite" in m["why"] for m in rows["critic"]["missing"])


def test_a_pairwise_session_ranks_the_measure_the_raters_follow(tmp_path: Path):
    measures = samples_file(tmp_path / "samples.npz", 20, seed=2)
    store = Store(tmp_path / "swerve.db")
    session_id = new_session(store, tmp_path / "samples.npz", kind="pairwise", seed=1, pairs=120)
    index = {p["id"]: int(p["name"].split("[")[1][:-1]) for p in store.gallery(kind="sample")["pictures"]}
    rng = np.random.default_rng(0)
    for name in ("ana", "ben"):
        rater = store.rater(name)
        for item in store.items(session_id):
            left, right = (measures["critic"][index[item[k]]] for k in ("left_id", "right_id"))
            choice = int(right + rng.normal(0, 0.3) > left + rng.normal(0, 0.3))
            store.rate(session_id, rater, item["position"], choice=choice)
    result = report(store, session_id, n_boot=200)
    assert result["best"] == {"surprise": "critic"}
    assert result["agreement"]["surprise"]["alpha_nominal"] > 0.3


def test_a_source_with_no_pictures_is_one_clear_error(tmp_path: Path):
    store = Store(tmp_path / "swerve.db")
    with pytest.raises(DataError, match="does not exist"):
        new_session(store, tmp_path / "nothing.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .png"):
        new_session(store, tmp_path / "empty")


def test_the_rate_commands_make_a_session_and_report_it(cli, tmp_path: Path):
    samples_file(tmp_path / "samples.npz", 12)
    db = tmp_path / "swerve.db"
    code, out, err = cli(
        "rate", "new", "--from", tmp_path / "samples.npz", "--out", db, "--name", "pilot", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["session"]["items"] == 12
    store = Store(db)
    rater = store.rater("ana")
    for position in range(12):
        store.rate(store.session("pilot")["id"], rater, position, novelty=1 + position % 5, value=2)
    store.close()
    code, out, err = cli(
        "rate", "report", "pilot", "--db", db, "--json", "--csv", tmp_path / "r.csv", "--boot", "50"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["ratings"] == 12 and {r["measure"] for r in result["measures"]} == {
        "novelty",
        "density",
        "critic",
    }
    assert result["agreement"]["novelty"]["note"].startswith("no item was rated by two raters")
    assert (tmp_path / "r.csv").is_file()
    code, out, _ = cli("rate", "report", "pilot", "--db", db, "--boot", "50")
    assert code == 0 and "best agreement with novelty" in out
    code, _, err = cli("rate", "report", "pilot", "--db", tmp_path / "none.db")
    assert code == 2 and err.count("\n") == 1 and "no store" in err
    code, _, err = cli("rate", "report", "nosuch", "--db", db)
    assert code == 2 and "no rating session" in err
    code, _, err = cli("rate", "new", "--from", tmp_path / "samples.npz", "--out", tmp_path / "x.txt")
    assert code == 2 and "ends in .db" in err
    code, out, _ = cli("rate", "list", "--db", db)
    assert code == 0 and "pilot" in out


def test_swerve_rate_needs_no_studio_extra(tmp_path: Path):
    samples_file(tmp_path / "samples.npz", 4)
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None\n"
        "from swerve.cli.main import main; main()"
    )
    args = ["rate", "new", "--from", str(tmp_path / "samples.npz"), "--out", str(tmp_path / "s.db")]
    made = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert "4 scores items" in made.stdout
