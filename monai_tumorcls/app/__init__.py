"""A local web app for checking a bundle on one image or volume: ``python -m monai_tumorcls.app --bundle
bundles/resnet18_binary`` (see docs/app.md). Needs the ``app`` extra (FastAPI, uvicorn, python-multipart)."""

from .server import create_app
from .service import BundleService
from .uploads import UploadError, UploadLimits

__all__ = ["create_app", "BundleService", "UploadError", "UploadLimits"]
