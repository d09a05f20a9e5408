"""Exception handlers: the only place that turns errors into responses. See docs/errors.md."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    app.add_middleware(AnswerBugs)

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc)
        return JSONResponse(
            envelope(errors.DATABASE_ERROR, "database operation error, try again"), status_code=503
        )


class AnswerBugs:
    """A bug (any exception no handler above took) is answered here with the 500 envelope and logged once
    with its traceback. Starlette's own last-resort handler re-raises after answering, and the server then
    logs the traceback a second time and closes the keep-alive connection under the client's next request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception as exc:
            log.error("unexpected error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if started:  # half an answer is out: nothing honest can follow it on this connection
                raise
            response = JSONResponse(envelope("500", "internal error; it has been logged"), status_code=500)
            await response(scope, receive, send)
