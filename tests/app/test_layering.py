"""The app sits on top: it imports the inference code, and nothing else in the package imports the app or its web
framework (the base install works without the ``app`` extra)."""

from __future__ import annotations

from tests.test_structure import PACKAGE, _imports


def test_nothing_imports_the_app_or_its_framework():
    outside = [f for f in PACKAGE.rglob("*.py") if "app" not in f.relative_to(PACKAGE).parts]
    offenders = {str(f.relative_to(PACKAGE)): sorted(n for n in _imports(f) if "app" in n.split(".")
                                                     or n.split(".")[0] in ("fastapi", "starlette", "uvicorn"))
                 for f in outside}
    assert not {k: v for k, v in offenders.items() if v}
    assert "monai_tumorcls.apps.clinical" in _imports(PACKAGE / "app" / "service.py")  # the check reads real imports
