"""Automatic checks for the lessons' exercises.

An exercise cell defines a function the learner writes (it starts as ``raise NotImplementedError``);
the check cell calls :func:`check_exercise`, which says "correct", "not attempted yet", or raises
``AssertionError`` saying what is wrong. CI runs the same checkers on the reference solutions.
"""

from __future__ import annotations

from typing import Any, Callable

from .checks import InputTypeError
from .utils import require

__all__ = ["check_exercise"]


def check_exercise(name: str, attempt: Callable[..., Any], checker: Callable[[Callable[..., Any]], None]) -> bool:
    """Run ``checker(attempt)`` (it calls the learner's ``attempt`` on fixed inputs and asserts) and report.

    Returns True if it passed, False if ``attempt`` still raises ``NotImplementedError``.

    Raises:
        AssertionError: a wrong answer (the checker's message says how).
        InputTypeError (a TypeError): ``name`` not a non-empty str; ``attempt`` or ``checker`` not a function.
    """
    require(isinstance(name, str) and name.strip(), f"name must be the exercise's title (a non-empty str), "
            f"got {name!r}", InputTypeError)
    require(callable(attempt) and callable(checker), f"check_exercise: attempt and checker must be functions, got "
            f"{attempt!r:.40} and {checker!r:.40}; pass the function itself, without calling it", InputTypeError)
    try:
        checker(attempt)
    except NotImplementedError:
        print(f"{name}: not attempted yet -- write your code in the cell above and run this cell again.")
        return False
    print(f"{name}: correct ✓")
    return True
