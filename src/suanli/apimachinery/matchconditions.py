"""Webhook ``matchConditions``: CEL expressions deciding whether a matching webhook is called.

Upstream ``k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions`` semantics, evaluated with
cel-python after rules and selectors matched:

* variables ``object`` and ``oldObject`` (``null`` on CREATE / DELETE respectively) and ``request``
  (the AdmissionReview request: ``kind``, ``resource``, ``subResource``, ``name``, ``namespace``,
  ``operation``, ``userInfo``, ``dryRun``, ``options``);
* any condition that evaluates to ``false`` skips the webhook (even when others fail);
* otherwise, conditions that fail to evaluate (or do not yield a bool) decide by the webhook's
  ``failurePolicy``: ``Fail`` rejects the request with 403 (``<resource> "<name>" is forbidden:
  expression '<expr>' resulted in error: …``), ``Ignore`` skips the webhook;
* all ``true`` → the webhook is called.

The caller may add variables and the receiver functions of a library to call on them (the API
server adds ``authorizer`` with :data:`suanli.apiserver.cel_authorizer.LIBRARY`).

*Departures:* no Kubernetes CEL extension libraries (``quantity``, ``url``, ``ip``, …, beyond what
cel-python has), no cost budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType

from suanli.apimachinery.objects import Obj

__all__ = ["Library", "MatchResult", "compile_error", "evaluate_match_conditions"]

_ENV = celpy.Environment()
#: receiver functions bound into a program, as (name, function) pairs
Library = tuple[tuple[str, Callable[..., Any]], ...]


@lru_cache(maxsize=512)
def _program(expression: str, library: Library = ()) -> Any:
    return _ENV.program(_ENV.compile(expression), functions=dict(library) if library else None)


def compile_error(expression: str) -> str:
    """Why ``expression`` does not compile ("" when it does)."""
    try:
        _program(expression)
    except Exception as err:  # cel-python raises its parser's own error types
        return str(err).strip() or type(err).__name__
    return ""


@dataclass(frozen=True)
class MatchResult:
    """``matches`` = call the webhook; ``errors`` = evaluation errors when no condition was false."""

    matches: bool
    errors: tuple[str, ...] = ()
    failed_condition: str = ""


def evaluate_match_conditions(conditions: list[Obj], variables: dict[str, Any], *, native: dict[str, Any] | None = None,
                              library: Library = ()) -> MatchResult:
    """Evaluate ``conditions`` (``[{name, expression}]``) over JSON ``variables`` plus ``native``
    variables (CEL values already, e.g. the ``authorizer``) with ``library``'s functions bound."""
    activation = {name: json_to_cel(value) for name, value in variables.items()}
    activation.update(native or {})
    errors: list[str] = []
    for cond in conditions:
        expression = str(cond.get("expression") or "")
        try:
            result = _program(expression, library).evaluate(activation)
        except Exception as err:  # CELEvalError and friends
            errors.append(f"expression '{expression}' resulted in error: {_reason(err)}")
            continue
        if isinstance(result, Exception):
            errors.append(f"expression '{expression}' resulted in error: {_reason(result)}")
        elif not isinstance(result, BoolType):
            errors.append(f"expression '{expression}' resulted in error: no such overload: expected bool")
        elif not bool(result):
            return MatchResult(False, failed_condition=str(cond.get("name") or ""))
    return MatchResult(True, tuple(errors))


def _reason(err: BaseException) -> str:
    args = getattr(err, "args", ())
    return str(args[0]) if args else str(err)
