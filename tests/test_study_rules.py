"""The shared design rules of the studies (examples/_study.py): intervals, tests, the Holm correction,
reference rows, the learned-or-not rule, thresholds and learning-rate pilots — checked against closed
forms and SciPy, so that every study's verdicts rest on arithmetic that is itself tested."""

import math
import os
import sys

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import _study  # noqa: E402
from minigan.data import load_dataset  # noqa: E402


def test_interval_is_the_student_t_interval_and_124_std_at_five_seeds():
    values = [1.0, 2.0, 4.0, 7.0, 11.0]
    mean, half, n = _study.interval(values)
    s = np.std(values, ddof=1)
    assert (mean, n) == (5.0, 5)
    assert half == pytest.approx(stats.t.ppf(0.975, 4) * s / math.sqrt(5), rel=1e-12)
    assert half == pytest.approx(1.2417 * s, rel=1e-4)  # STUDIES.md: ±1.24·s at n = 5


def test_interval_drops_missing_values_and_says_so_in_text():
    assert _study.mean_ci([1.0, None, 3.0, float("nan")], ".1f").endswith("(2/4)")
    assert _study.mean_ci([None, None]) == "—"
    assert _study.mean_ci([2.5], ".1f") == "2.5"
    mean, half, n = _study.interval([2.5])
    assert (mean, n) == (2.5, 1) and math.isnan(half)


def test_overlap_of_intervals():
    assert not _study.overlap([1.0, 1.1, 0.9, 1.05, 0.95], [5.0, 5.1, 4.9, 5.05, 4.95])
    assert _study.overlap([1.0, 2.0, 3.0], [2.5, 3.5, 1.5])
    assert _study.overlap([1.0], [5.0])  # one value: no interval, nothing to call disjoint


def test_paired_p_is_scipys_paired_t_test_with_exact_edge_cases():
    a, b = [1.0, 2.0, 3.5, 4.0, 6.0], [1.5, 2.2, 3.0, 5.0, 7.5]
    assert _study.paired_p(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert _study.paired_p([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert _study.paired_p([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]) == 0.0  # the same non-zero gap every seed
    assert math.isnan(_study.paired_p([1.0, None], [2.0, 3.0]))  # one usable pair


def test_holm_correction_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → made monotone: 0.06
    assert _study.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = _study.holm([0.2, float("nan"), 0.9])
    assert adjusted[0] == pytest.approx(0.4) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.9)
    assert _study.holm([0.6, 0.7]) == [1.0, 1.0]


def test_compare_calls_a_finding_only_when_intervals_separate_or_the_corrected_test_says_so():
    reference = [10.0, 11.0, 12.0, 13.0, 14.0]
    variants = {"clearly lower": [5.0, 6.0, 7.0, 8.0, 9.0],
                "paired shift": [10.5, 11.4, 12.6, 13.5, 14.4],
                "noise": [12.0, 10.0, 13.5, 12.0, 13.0]}
    out = _study.compare(reference, variants, lower_is_better=True)
    assert out["clearly lower"]["verdict"] == "better" and out["clearly lower"]["separated"]
    assert out["paired shift"]["verdict"] == "worse" and not out["paired shift"]["separated"]
    assert out["paired shift"]["p_holm"] < 0.05
    assert out["noise"]["verdict"] == _study.NO_DIFFERENCE
    assert _study.compare(reference, variants, lower_is_better=False)["clearly lower"]["verdict"] == "worse"


@pytest.fixture(scope="module")
def digits_references():
    dataset = load_dataset("digits")
    return dataset, _study.reference_rows(dataset, 2000)


def test_image_reference_rows_order_chance_below_data_and_expose_the_inception_score_blind_spot(digits_references):
    dataset, refs = digits_references
    assert set(refs) == {"chance: Gaussian fitted to the pixels", "chance: one sample repeated",
                         "calibration: one image per class", "data"}
    data, gaussian = refs["data"], refs["chance: Gaussian fitted to the pixels"]
    assert data["frechet_distance"] < 1.0 < gaussian["frechet_distance"] < refs["chance: one sample repeated"]["frechet_distance"]
    assert refs["chance: one sample repeated"]["class_coverage"] == 1
    # one image per class scores an Inception score above the data's (the GAN chapter's warning)
    assert refs["calibration: one image per class"]["inception_score"] > data["inception_score"]
    assert _study.chance_value(refs, "frechet_distance", True) == gaussian["frechet_distance"]


def test_point_reference_rows_show_that_modes_captured_cannot_tell_noise_from_a_generator():
    dataset = load_dataset("ring8")
    refs = _study.reference_rows(dataset, 10_000)
    chance, data = refs["chance: uniform over the data's square"], refs["data"]
    assert chance["modes_captured"] == data["modes_captured"] == 8
    assert chance["high_quality_fraction"] < 0.02 and data["high_quality_fraction"] > 0.98
    assert data["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_learned_needs_the_whole_interval_beyond_chance(digits_references):
    _, refs = digits_references
    chance = _study.chance_value(refs, "frechet_distance", True)
    assert _study.learned([chance / 2] * 3 + [chance / 2 + 0.1, chance / 2 - 0.1], refs, "frechet_distance", True)
    assert not _study.learned([chance - 0.1, chance + 3, chance - 3, chance, chance - 1], refs, "frechet_distance", True)
    assert not _study.learned([None, None], refs, "frechet_distance", True)


def test_reached_reports_the_first_evaluation_past_the_threshold():
    run = {"evals": [{"step": 10, "seconds": 1.0, "fd": 20.0}, {"step": 20, "seconds": 2.0, "fd": 6.0},
                     {"step": 30, "seconds": 3.0, "fd": 4.0}]}
    assert _study.reached(run, "fd", 7.0, True) == (20, 2.0)
    assert _study.reached(run, "fd", 1.0, True) == (None, None)
    assert _study.fmt_reached([run, run], "fd", 1.0, True) == "not reached (0/2)"
    assert _study.fmt_reached([run, {"evals": []}], "fd", 7.0, True) == "20 (1/2)"


def test_pick_lr_takes_the_best_mean_and_ranks_any_failure_last():
    scores = {(1e-4, 0): 5.0, (1e-4, 1): 6.0, (1e-3, 0): 1.0, (1e-3, 1): None, (1e-2, 0): 4.0, (1e-2, 1): 4.5}
    pick, table = _study.pick_lr((1e-4, 1e-3, 1e-2), lambda lr, seed: scores[lr, seed], True, seeds=(0, 1))
    assert pick == 1e-2  # 1e-3 has the best single run but a failed seed
    assert table[1e-3] == [1.0, None]
    assert "**0.01: 4, 4.5**" in _study.fmt_pilot((1e-4, 1e-3, 1e-2), table, pick)


def test_pick_lr_extends_a_grid_whose_best_value_is_at_an_end():
    calls = []

    def score(lr, seed):  # best near 1e-5, far below the grid: the grid grows downwards, twice at most
        calls.append(lr)
        return abs(math.log10(lr) + 5.0) + 0.01 * seed

    pick, table = _study.pick_lr((3e-4, 1e-3, 3e-3), score, True, seeds=(0, 1), extend=2)
    assert list(table) == pytest.approx([2.7e-5, 9e-5, 3e-4, 1e-3, 3e-3])  # geometric, by the ratio at that end
    assert pick == pytest.approx(2.7e-5) and _study.at_edge(pick, table)  # still at an end: the caller reports it
    assert len(calls) == 10
    pick, table = _study.pick_lr((1e-4, 1e-3, 1e-2), lambda lr, seed: abs(math.log10(lr) + 1.8), True,
                                 seeds=(0,), extend=3)  # best just above the top: one step up, then inside
    assert list(table) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1]) and pick == pytest.approx(1e-2)
    assert not _study.at_edge(pick, table)
    pick, table = _study.pick_lr((1e-4, 1e-3, 1e-2), lambda lr, seed: 0.0, False, seeds=(0,), extend=2)
    assert list(table) == [1e-4, 1e-3, 1e-2]  # a tie at the end points nowhere: no extension
    pick, table = _study.pick_lr((1e-4, 1e-3), lambda lr, seed: lr, True, seeds=(0,))
    assert list(table) == [1e-4, 1e-3]  # extend=0 (the default): the grid as given


def test_parallel_map_returns_what_the_loop_returns_in_order():
    offset = 3  # a closure: the workers fork and inherit it

    def fn(item):
        return {"item": item, "value": np.arange(item) + offset, "pid": os.getpid()}

    serial = _study.parallel_map(fn, range(6), jobs=1)
    parallel = _study.parallel_map(fn, range(6), jobs=2)
    assert [r["item"] for r in parallel] == list(range(6))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a["value"], b["value"])
    assert {r["pid"] for r in serial} == {os.getpid()}
    import multiprocessing
    if "fork" in multiprocessing.get_all_start_methods():
        assert os.getpid() not in {r["pid"] for r in parallel}
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        _study.parallel_map(fn, [1], jobs=0)
    results = _study.across_seeds(["a", "b"], [0, 1, 2], lambda label, seed: (label, seed), jobs=2)
    assert results == {"a": [("a", 0), ("a", 1), ("a", 2)], "b": [("b", 0), ("b", 1), ("b", 2)]}


def test_pilot_seeds_are_not_final_seeds():
    assert not set(_study.PILOT_SEEDS) & set(range(100))


def test_quick_runs_write_to_a_temporary_directory_unless_told(tmp_path):
    parser = _study.parser("some_study", "doc")
    quick = parser.parse_args(["--quick"])
    assert "some_study-quick-" in quick.out and not quick.out.startswith(_study.ROOT)
    assert parser.parse_args([]).out == os.path.join(_study.ROOT, "examples", "results", "some_study")
    assert parser.parse_args(["--quick", "--out", str(tmp_path)]).out == str(tmp_path)
