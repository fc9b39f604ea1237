"""``python -m monai_tumorcls.app --bundle bundles/resnet18_binary [--host 127.0.0.1] [--port 8000]
[--checkpoint path] [--max_upload_mb 256] [--key value ...]``: serve the page and the JSON API on this machine.

Further ``--key value`` pairs override the bundle's ``inference.json`` as they do for ``monai.bundle run`` (the
same command-line parser, ``fire``), e.g. ``--train_overrides "{'image_size': 64}"``.
"""

from __future__ import annotations

import sys

import fire


def serve(bundle: str = "bundles/resnet18_binary", host: str = "127.0.0.1", port: int = 8000,
          checkpoint: str | None = None, max_upload_mb: int = 256, **overrides) -> None:
    """Load the bundle and its checkpoint once, then serve until interrupted. ``host`` must be a loopback address
    (127.0.0.1 by default, ::1 or localhost): the app has no authentication, so it is meant for this machine only."""
    import uvicorn

    from . import BundleService, UploadLimits, create_app
    from .server import allowed_hosts

    try:
        hosts = allowed_hosts(host)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    service = BundleService(bundle, checkpoint, overrides)
    app = create_app(service, UploadLimits(max_upload_bytes=int(max_upload_mb) << 20), hosts=hosts)
    uvicorn.run(app, host=host, port=int(port), log_level="info")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # fire would take it for a config override
        print(__doc__.strip())
    else:
        fire.Fire(serve)
