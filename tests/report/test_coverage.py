"""The report's interval holds its stated coverage in a simulated benchmark sized like
the committed runs (13 categories x 16 objects; :mod:`bench_softras.report.coverage`).
A fast version of ``nox -s coverage``: fewer replications, a band of four binomial
standard errors around 95%."""

from __future__ import annotations

import math

import pytest

from bench_softras.report.coverage import Design, coverage, main

REPS = 2000


def _band(reps: int, p: float = 0.95, k: float = 4.0) -> tuple[float, float]:
    se = math.sqrt(p * (1 - p) / reps)
    return p - k * se, p + k * se


def test_the_simulated_seed_spread_is_the_committed_runs():
    # reports/cpu-3-seeds: per-seed softras - n3mr 0.0051, 0.0175, 0.0150 (SD 0.0066).
    assert 0.005 <= Design().seed_mean_sd() <= 0.007


@pytest.mark.parametrize("seeds", [3, 5])
def test_the_crossed_interval_covers_95_percent(seeds):
    lo, hi = _band(REPS)
    got = coverage(Design(seeds=seeds), REPS, seed=seeds, methods=("crossed",))["crossed"]
    assert lo <= got <= hi, (seeds, got, (lo, hi))


def test_a_t_interval_over_seeds_alone_misses_the_object_sampling():
    # The same objects under every seed: the per-seed means share the objects' own
    # effects, so a t interval over them alone under-covers the population difference.
    got = coverage(Design(seeds=5), REPS, seed=11, methods=("seed_t",))["seed_t"]
    assert got < _band(REPS)[0]


def test_one_seed_cannot_cover_so_its_verdict_is_only_indicative():
    # The object bootstrap with one seed misses the between-seed spread.
    got = coverage(Design(seeds=1), 150, seed=1, methods=("objects_given_seeds",),
                   samples=300)
    assert set(got) == {"objects_given_seeds"} and got["objects_given_seeds"] < 0.85


def test_the_command_line_checks_the_band(capsys):
    assert main(["--reps", str(REPS), "--bootstrap-reps", "1", "--check"]) == 0
    out = capsys.readouterr().out
    assert "SD of the per-seed mean difference 0.0064" in out
    assert "within [0.93, 0.97] at 3 and 5 seeds" in out
    assert [line.split()[0] for line in out.splitlines()[2:6]] == ["1", "2", "3", "5"]
    with pytest.raises(SystemExit) as err:
        main(["--reps", "5"])
    assert err.value.code == 2
