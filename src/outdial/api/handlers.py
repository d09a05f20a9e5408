"""Exception handlers: the only place that turns errors into responses. See docs/errors.md."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from outdial import errors
from outdial.api.envelope import envelope
from outdial.errors import ApiError, AuthError

log = logging.getLogger("outdial.api")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(envelope(exc.code, exc.desc), status_code=exc.http_status)

    @app.exception_handler(AuthError)
    async def auth_error(_request: Request, _exc: AuthError) -> JSONResponse:
        # The reason goes to the log only: a caller learns nothing about keys or other VDNs.
        return JSONResponse(envelope("401", "Unauthorized"), status_code=401)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            desc = f"no such interface: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            desc = f"method {request.method} is not supported on {request.url.path}"
        else:
            desc = str(exc.detail)
        return JSONResponse(
            envelope(str(exc.status_code), desc),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Only path and query parameters reach here: bodies are parsed by outdial's own validators.
        first = exc.errors()[0] if exc.errors() else {}
        field = str(first.get("loc", ["", "parameter"])[-1])
        return JSONResponse(envelope(errors.WRONG_TYPE, f"{field} {first.get('msg', 'is invalid')}"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, never an answer to bad input (that is ApiError): logged with its traceback.
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(envelope("500", "internal error; it has been logged"), status_code=500)

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc)
        return JSONResponse(
            envelope(errors.DATABASE_ERROR, "database operation error, try again"), status_code=503
        )
