"""Run profiles and exercise checks: the small helpers every lesson calls first and last."""

from __future__ import annotations

import pytest

from course_lib.exercises import check_exercise
from course_lib.profiles import PROFILES, Profile, current_profile, profile_name


@pytest.mark.parametrize("name,expected", [("gpu", "gpu"), ("gpu ", "gpu"), (" CI", "ci"), ("Cpu\n", "cpu")])
def test_profile_names_are_read_leniently_like_the_environment_variable(name, expected, monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert current_profile(name).name == expected
    monkeypatch.setenv("COURSE_PROFILE", name)
    assert current_profile().name == expected


@pytest.mark.parametrize("name", ["gpus", "laptop", "c i", "", "   "])
def test_unknown_or_empty_profile_names_are_refused(name, monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        current_profile(name)


@pytest.mark.parametrize("name", [1, ["gpu"], b"gpu"])
def test_profile_names_of_the_wrong_type_are_refused(name):
    with pytest.raises(TypeError, match="str"):
        profile_name(name)
    with pytest.raises(ValueError):
        profile_name(name)


def test_unknown_environment_variable_names_it(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="COURSE_PROFILE='fast'"):
        current_profile()


def test_unset_or_blank_environment_chooses_by_device(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "  ")
    assert current_profile().name in ("cpu", "gpu")
    assert "chosen by device" in str(current_profile())


def test_profile_class_validates_and_picks(monkeypatch):
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        Profile("gpu ")
    for name in PROFILES:
        assert Profile(name).pick(ci=1, cpu=2, gpu=3) == {"ci": 1, "cpu": 2, "gpu": 3}[name]
    with pytest.raises(TypeError):
        Profile("ci").pick(ci=1, cpu=2)  # every profile needs a value


def _checker(fn):
    assert fn(2) == 4, f"expected 4 for 2, got {fn(2)}"


def test_check_exercise_reports_the_three_outcomes(capsys):
    assert check_exercise("Ex", lambda x: 2 * x, _checker) is True
    assert "correct" in capsys.readouterr().out

    def not_yet(x):
        raise NotImplementedError

    assert check_exercise("Ex", not_yet, _checker) is False
    assert "not attempted yet" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="expected 4"):
        check_exercise("Ex", lambda x: x, _checker)


@pytest.mark.parametrize("attempt,checker", [(4, _checker), (lambda x: x, "checker"), (None, _checker)])
def test_check_exercise_refuses_non_callables(attempt, checker):
    with pytest.raises(TypeError, match="function"):
        check_exercise("Ex", attempt, checker)
    with pytest.raises(ValueError):
        check_exercise("Ex", attempt, checker)


@pytest.mark.parametrize("name", ["", None, 3])
def test_check_exercise_needs_a_title(name):
    with pytest.raises(ValueError, match="title"):
        check_exercise(name, lambda x: 2 * x, _checker)
