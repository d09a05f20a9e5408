"""Path parameter convertors. `{name:digits}` matches like Starlette's `int` (ASCII digits only) but keeps
the text: Starlette's own convertor calls int() while routing, which raises (a 500 before any check) for a
number of more than 4,300 digits. The endpoint's `int` annotation and the signed-request dependency's range
check (api/security.py) then answer such an id with the parameter-error envelope."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class DigitsConvertor(Convertor[str]):
    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("digits", DigitsConvertor())
