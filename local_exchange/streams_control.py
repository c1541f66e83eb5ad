"""Parsing the JSON control frames of a market-stream connection, with Binance's errors.

The messages are those of Binance's "Live Subscribing/Unsubscribing" page (Spot and USDT-M
pages list the same table); on the wire Binance wraps them as
``{"error": {"code": C, "msg": "..."}, "id": N}`` (seen in ccxt's ``handle_ws_error`` and in
client logs, e.g. ``{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}``),
which is what clients parse, so that is the shape sent here.

* code 0 ``Unknown property``: SET_PROPERTY / GET_PROPERTY of anything but ``combined``;
* code 1 ``Invalid value type: expected Boolean``;
* code 2 ``Invalid request: ...``: unknown method, missing field, bad id, too many parameters,
  ``params`` of the wrong type, and an unknown stream name or symbol (``invalid stream``);
* code 3 ``Invalid JSON: ...``: not JSON.

Binance's server is a serde deserializer and appends `` at line L column C`` to type errors;
that position is given for invalid JSON only (where the parser reports it). A ``params`` given
as a string gets serde's ``invalid type: string "...", expected a sequence``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
BAD_URL_CLOSE_REASON = '{"code":-1,"msg":"Illegal format ws or stream"}'
# Binance: an id is an unsigned 64-bit integer, a string of up to 36 characters, or null.
_ID_TEXT = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


class ControlError(Exception):
    """A control frame Binance would refuse; ``reply()`` is the frame to send back."""

    def __init__(self, code: int, msg: str, req_id: object = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.req_id = code, msg, req_id

    def reply(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "msg": self.msg}, "id": self.req_id}


@dataclass(frozen=True, slots=True)
class ControlRequest:
    method: str
    params: list[Any]
    id: object


def parse_control(message: str | bytes, valid: Callable[[str], bool] | None) -> ControlRequest:
    """One control frame, checked; raises ``ControlError`` with Binance's code and message."""
    try:
        request = orjson.loads(message)
    except orjson.JSONDecodeError as err:
        raise ControlError(3, f"Invalid JSON: expected value at line {err.lineno} column "
                              f"{err.colno}") from None
    if not isinstance(request, dict):
        raise ControlError(2, f"Invalid request: invalid type: {_kind(request)}, "
                              "expected struct Request")
    req_id = request.get("id")
    if not _valid_id(req_id):
        raise ControlError(2, "Invalid request: request ID must be an unsigned integer")
    method = request.get("method")
    if method is None:
        raise ControlError(2, "Invalid request: missing field `method`", req_id)
    if method not in METHODS:
        expected = ", ".join(f"`{m}`" for m in METHODS)
        raise ControlError(2, f"Invalid request: unknown variant `{method}`, expected one of "
                              f"{expected}", req_id)
    params = request.get("params", [])
    if method == "LIST_SUBSCRIPTIONS":
        return ControlRequest(method, [], req_id)
    if not isinstance(params, list):
        raise ControlError(2, f"Invalid request: invalid type: {_kind(params)}, expected a "
                              "sequence", req_id)
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        _check_streams(params, valid, req_id)
    else:
        _check_property(method, params, req_id)
    return ControlRequest(method, params, req_id)


def _check_streams(params: list[Any], valid: Callable[[str], bool] | None,
                   req_id: object) -> None:
    for name in params:
        if not isinstance(name, str):
            raise ControlError(2, f"Invalid request: invalid type: {_kind(name)}, expected a "
                                  "string", req_id)
    # All or nothing: one unknown name refuses the request and subscribes none of it.
    if valid is not None and not all(valid(name) for name in params):
        raise ControlError(2, "Invalid request: invalid stream", req_id)


def _check_property(method: str, params: list[Any], req_id: object) -> None:
    wanted = 2 if method == "SET_PROPERTY" else 1
    if len(params) > wanted:
        raise ControlError(2, "Invalid request: too many parameters", req_id)
    if not params or not isinstance(params[0], str):
        raise ControlError(2, "Invalid request: property name must be a string", req_id)
    if params[0] != "combined":
        raise ControlError(0, "Unknown property", req_id)
    if method == "SET_PROPERTY" and (len(params) < 2 or not isinstance(params[1], bool)):
        raise ControlError(1, "Invalid value type: expected Boolean", req_id)


def _valid_id(req_id: object) -> bool:
    if req_id is None:
        return True
    if isinstance(req_id, bool):
        return False
    if isinstance(req_id, int):
        return 0 <= req_id < 2**64
    return isinstance(req_id, str) and bool(_ID_TEXT.match(req_id))


def _kind(value: object) -> str:
    """serde's words for a JSON value's type in ``invalid type`` errors."""
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "sequence"
    return "null"
