"""JSON patch (RFC 6902, ``application/json-patch+json``) with JSON Pointers (RFC 6901).

Error mapping follows the apiserver: a patch that is not a well-formed list of
operations is a 400 (:meth:`ApiError.bad_request`), more than :data:`MAX_OPERATIONS`
operations is a 413, and an operation that cannot be applied (missing path, index out
of range, failed ``test``) is a 422 (:meth:`ApiError.unprocessable`).

Example::

    apply_json_patch({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 2}]) == {"a": [1, 2]}
"""

from __future__ import annotations

import json
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import deep_copy
from suanli.apimachinery.patch._json import json_equal

__all__ = ["MAX_OPERATIONS", "apply_json_patch", "parse_pointer", "validate_json_patch"]

MAX_OPERATIONS = 10_000

_NEEDS_VALUE = frozenset({"add", "replace", "test"})
_NEEDS_FROM = frozenset({"move", "copy"})
_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON Pointer into unescaped tokens (``""`` is the whole document).

    >>> parse_pointer("/a~1b/m~0n/0")
    ['a/b', 'm~n', '0']
    """
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ApiError.bad_request(f'invalid JSON pointer "{pointer}": must be empty or start with "/"')
    tokens = pointer[1:].split("/")
    out = []
    for token in tokens:
        check = token.replace("~0", "").replace("~1", "")
        if "~" in check:
            raise ApiError.bad_request(f'invalid JSON pointer "{pointer}": bad escape in "{token}"')
        out.append(token.replace("~1", "/").replace("~0", "~"))
    return out


def validate_json_patch(ops: Any) -> list[dict[str, Any]]:
    """Check the shape of a JSON patch document; return it typed, or raise 400/413."""
    if not isinstance(ops, list):
        raise ApiError.bad_request("json patch must be a JSON array of operations")
    if len(ops) > MAX_OPERATIONS:
        raise ApiError.too_large(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(ops)}")
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise ApiError.bad_request(f"json patch operation {i} is not an object")
        name = op.get("op")
        if not isinstance(name, str):
            raise ApiError.bad_request(f'json patch operation {i} is missing "op"')
        if name not in _OPS:
            raise ApiError.bad_request(f'json patch operation {i}: unknown op "{name}"')
        if not isinstance(op.get("path"), str):
            raise ApiError.bad_request(f'json patch {name} operation {i} is missing "path"')
        parse_pointer(op["path"])
        if name in _NEEDS_VALUE and "value" not in op:
            raise ApiError.bad_request(f'json patch {name} operation {i} is missing "value"')
        if name in _NEEDS_FROM:
            if not isinstance(op.get("from"), str):
                raise ApiError.bad_request(f'json patch {name} operation {i} is missing "from"')
            parse_pointer(op["from"])
    return ops


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply the RFC 6902 operations ``ops`` to ``doc``; returns a new tree."""
    checked = validate_json_patch(ops)
    result = deep_copy(doc)
    for op in checked:
        result = _apply_one(result, op)
    return result


def _fail(op: dict[str, Any], why: str) -> ApiError:
    return ApiError.unprocessable(f'{op["op"]} operation does not apply: {why}: path "{op["path"]}"')


def _index(token: str, length: int, op: dict[str, Any], *, allow_end: bool) -> int:
    if token == "-" and allow_end:  # nosec B105  # JSON pointer token, not a password
        return length
    if not token.isdigit() or (len(token) > 1 and token[0] == "0") or not token.isascii():
        raise _fail(op, f'invalid array index "{token}"')
    idx = int(token)
    if idx > length or (idx == length and not allow_end):
        raise _fail(op, f"array index {idx} out of range (length {length})")
    return idx


def _resolve(doc: Any, tokens: list[str], op: dict[str, Any]) -> Any:
    cur = doc
    for token in tokens:
        if isinstance(cur, dict):
            if token not in cur:
                raise _fail(op, f'doc is missing key "{token}"')
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(token, len(cur), op, allow_end=False)]
        else:
            raise _fail(op, f'cannot traverse into a scalar at "{token}"')
    return cur


def _add(doc: Any, tokens: list[str], value: Any, op: dict[str, Any]) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1], op)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), op, allow_end=True), value)
    else:
        raise _fail(op, "parent is not an object or array")
    return doc


def _remove(doc: Any, tokens: list[str], op: dict[str, Any]) -> Any:
    """Remove and return the value at ``tokens`` (which must exist and not be the root)."""
    if not tokens:
        raise _fail(op, "cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1], op)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _fail(op, f'doc is missing key "{last}"')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(last, len(parent), op, allow_end=False))
    raise _fail(op, "parent is not an object or array")


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    name = op["op"]
    tokens = parse_pointer(op["path"])
    if name == "add":
        return _add(doc, tokens, deep_copy(op["value"]), op)
    if name == "remove":
        _remove(doc, tokens, op)
        return doc
    if name == "replace":
        if not tokens:
            return deep_copy(op["value"])
        _remove(doc, tokens, op)
        return _add(doc, tokens, deep_copy(op["value"]), op)
    if name == "test":
        actual = _resolve(doc, tokens, op)
        if not json_equal(actual, op["value"]):
            raise ApiError.unprocessable(
                f'test operation failed: path "{op["path"]}": expected {json.dumps(op["value"])}, '
                f"found {json.dumps(actual)}")
        return doc
    src = parse_pointer(op["from"])
    if name == "move":
        if src == tokens:
            _resolve(doc, src, op)
            return doc
        if tokens[: len(src)] == src:
            raise _fail(op, f'cannot move "{op["from"]}" into its own child')
        value = _remove(doc, src, op)
        return _add(doc, tokens, value, op)
    # copy
    return _add(doc, tokens, deep_copy(_resolve(doc, src, op)), op)
