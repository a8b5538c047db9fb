"""Automatic checks for the lessons' exercises.

An exercise cell defines a function the learner writes (it starts as
``raise NotImplementedError``); the check cell calls :func:`check_exercise`, which runs the
checker on it and says "correct", "not attempted yet", or raises ``AssertionError`` with a
message that says what is wrong. Continuous integration runs the same checkers on the
reference solutions at the end of each lesson, so every checker is itself tested.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["check_exercise"]


def check_exercise(name: str, attempt: Callable[..., Any], checker: Callable[[Callable[..., Any]], None]) -> bool:
    """Run ``checker(attempt)`` and report.

    Args:
        name: the exercise's title, for the message.
        attempt: the learner's function.
        checker: calls ``attempt`` on fixed inputs and asserts on the results.

    Returns:
        True if the checker passed, False if ``attempt`` still raises ``NotImplementedError``.

    Raises:
        AssertionError: the attempt gives a wrong answer (the checker's message says how).
        TypeError (also a ValueError): ``name`` is not a str, or ``attempt`` or ``checker``
            is not callable (e.g. the result of calling the function instead of the function:
            pass ``my_function``, not ``my_function()``).
    """
    from .viz import InputTypeError

    if not isinstance(name, str) or not name.strip():
        raise InputTypeError(f"name must be the exercise's title (a non-empty str), got {name!r}")
    for label, fn in (("attempt", attempt), ("checker", checker)):
        if not callable(fn):
            raise InputTypeError(f"check_exercise: {label} must be a function, got {type(fn).__name__} "
                                 f"({fn!r:.60}); pass the function itself, without calling it")
    try:
        checker(attempt)
    except NotImplementedError:
        print(f"{name}: not attempted yet -- write your code in the cell above and run this cell again.")
        return False
    print(f"{name}: correct ✓")
    return True
