"""The FastAPI application: the page, ``POST /predict``, ``GET /health``, ``GET /model`` and the viewer's slices
(``GET /studies/{study_id}/slices|maps/{series_id}/{k}``: raw little-endian float32, shape in ``X-Shape``).

Every asset is served from ``static/`` (no CDN: the machines are offline), and FastAPI's interactive API pages
and their ``/openapi.json`` are off because they load their scripts from a CDN. The app is single-user and has no
authentication: it serves loopback addresses only, and answers only requests whose Host header names the loopback
address it was bound to (a web page whose domain was rebound to 127.0.0.1 sends its own domain and is refused).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .service import BundleService
from .studies import StudyLookupError, slice_array
from .uploads import UploadError, UploadLimits, request_folder, safe_name, store_upload

__all__ = ["create_app", "allowed_hosts", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
_FORM_OVERHEAD = 64 << 10  # multipart boundaries and headers around the file


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _capped_request(request: Request, cap: int) -> Request:
    """``request`` whose body stops with a 413 :class:`UploadError` once more than ``cap`` bytes came (a request
    without ``Content-Length`` is not read to the end first)."""
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > cap:
            raise UploadError(f"upload too large (limit {cap >> 20} MiB)", status=413)
        return message

    return Request(request.scope, receive)


def _array_response(service: BundleService, where: tuple[str, str, str], layer: str) -> Response:
    """A stored slice or map (``where``: study id, series id, slice index, all checked against the store, never
    used as paths) as raw little-endian float32, row-major, its (rows, columns) in the ``X-Shape`` header."""
    try:
        array = slice_array(service.studies, *where, layer)
    except StudyLookupError as e:
        return _error(str(e).strip("'\""), 404)
    except ValueError as e:
        return _error(str(e), 400)
    return Response(array.astype("<f4").tobytes(), media_type="application/octet-stream",
                    headers={"X-Shape": f"{array.shape[0]},{array.shape[1]}", "Cache-Control": "no-store"})


def allowed_hosts(bind_host: str) -> list[str]:
    """The Host header names (any port) the app answers when bound to ``bind_host``: that loopback address and
    ``localhost`` (all three loopback names for ``localhost``).

    Raises:
        ValueError: ``bind_host`` is not a loopback address (the app has no authentication).
    """
    if bind_host == "localhost":
        return ["localhost", "127.0.0.1", "[::1]"]
    try:
        address = ipaddress.ip_address(bind_host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(f"host {bind_host!r} is not a loopback address (127.0.0.1, ::1 or localhost): the app has "
                         "no authentication and serves this machine only")
    return [f"[{address}]" if address.version == 6 else str(address), "localhost"]


def create_app(service: BundleService, limits: UploadLimits | None = None, work_root: str | Path | None = None,
               hosts: Sequence[str] | None = None) -> FastAPI:
    """The app serving ``service``.

    Args:
        service: the loaded bundle.
        limits: upload caps (default :class:`UploadLimits`).
        work_root: parent of the per-request temporary folders (default: the system's temporary folder).
        hosts: the Host header names answered (default ``allowed_hosts("127.0.0.1")``); any other gets a 400.
    """
    limits = limits or UploadLimits()
    app = FastAPI(title="monai-tumorcls", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts or allowed_hosts("127.0.0.1")),
                       www_redirect=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    body_cap = limits.max_upload_bytes + _FORM_OVERHEAD

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "bundle": service.bundle_name}

    @app.get("/model")
    def model() -> dict:
        return service.model_card()

    @app.post("/predict")
    async def predict(request: Request):
        if int(request.headers.get("content-length") or 0) > body_cap:
            return _error(f"upload too large (limit {limits.max_upload_bytes >> 20} MiB)", 413)
        try:
            form = await _capped_request(request, body_cap).form(max_files=1, max_fields=10)
        except UploadError as e:
            return _error(str(e), e.status)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return _error("no file uploaded: send one file in the form field 'file'")
            return await run_in_threadpool(classify, upload)
        except UploadError as e:
            return _error(str(e), e.status)
        finally:
            await form.close()

    @app.get("/studies/{study_id}/slices/{series_id}/{k}")
    def study_slice(study_id: str, series_id: str, k: str) -> Response:
        return _array_response(service, (study_id, series_id, k), "slices")

    @app.get("/studies/{study_id}/maps/{series_id}/{k}")
    def study_map(study_id: str, series_id: str, k: str) -> Response:
        return _array_response(service, (study_id, series_id, k), "maps")

    def classify(upload: UploadFile) -> dict:
        with request_folder(work_root) as work:
            path, kind = store_upload(upload.file, upload.filename, work, limits)
            return service.predict(path, work, safe_name(upload.filename), kind)

    return app
