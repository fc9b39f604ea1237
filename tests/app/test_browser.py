"""The page in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``, installed by
``.ci/run``) driven by Selenium against ``python -m monai_tumorcls.app`` on a free port. The decision the page shows
for a real Testing image and a real NIfTI volume must be the CLI's (``python -m monai.bundle run --config_file
bundles/resnet18_binary/configs/inference.json``) for the same checkpoint and file. Screenshots go into the test's
temporary folder, and also into ``$APP_SCREENSHOT_DIR`` when set (how docs/app.md's screenshots were made)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.bundles.helpers import PROJECT_ROOT, check, run_bundle

from .conftest import BUNDLE, OVERRIDES

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NIFTI = "pyradiomics-tcga-gbm/converted_nifti/brain1_image.nii.gz"
TRAIN_OVERRIDES = repr(OVERRIDES["train_overrides"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tiny_checkpoint, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("app_server") / "server.log"
    cmd = [sys.executable, "-m", "monai_tumorcls.app", "--bundle", BUNDLE, "--checkpoint", str(tiny_checkpoint),
           "--port", str(port), "--train_overrides", TRAIN_OVERRIDES]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if json.load(urllib.request.urlopen(f"{url}/health", timeout=2))["status"] == "ok":
                    break
            except OSError:
                assert server.poll() is None, f"the app exited:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
        else:
            pytest.fail(f"the app did not answer /health within 120 s:\n{log.read_text()[-3000:]}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            pytest.fail(f"{path} missing: install the Debian packages chromium and chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never try to download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1050"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def _cli(tmp_path: Path, checkpoint: Path, input_path: Path) -> Path:
    """The CLI's output folder for ``input_path`` with ``checkpoint``."""
    out = tmp_path / "cli"
    check(run_bundle(f"{BUNDLE}/configs/inference.json", bundle_root=str(tmp_path), checkpoint=str(checkpoint),
                     input_dir=str(input_path), output_dir=str(out), train_overrides=TRAIN_OVERRIDES))
    return out


def _upload(driver, url: str, path: Path) -> str:
    """Upload ``path`` on a fresh page and wait for the answer; returns the status state (done / error)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    assert "Research use only" in driver.find_element(By.ID, "banner").text
    driver.find_element(By.ID, "file-input").send_keys(str(path))
    status = driver.find_element(By.ID, "status")
    WebDriverWait(driver, 120).until(lambda d: status.get_attribute("data-state") in ("done", "error"))
    return status.get_attribute("data-state")


def _screenshot(driver, tmp_path: Path, name: str) -> None:
    assert driver.save_screenshot(str(tmp_path / name))
    assert (tmp_path / name).stat().st_size > 10_000
    if os.environ.get("APP_SCREENSHOT_DIR"):
        shutil.copy(tmp_path / name, Path(os.environ["APP_SCREENSHOT_DIR"]) / name)


def _shown_probabilities(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#probabilities tr")
    return {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text for r in rows}


@pytest.mark.integration
def test_page_shows_the_cli_decision_for_an_image(app_url, browser, tiny_checkpoint, kaggle_root, tmp_path):
    from selenium.webdriver.common.by import By

    image = sorted((kaggle_root / "Testing" / "glioma").iterdir())[3]
    row = json.loads((_cli(tmp_path, tiny_checkpoint, image) / "predictions.json").read_text())["rows"][0]
    assert _upload(browser, app_url, image) == "done", browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "decision").text == row["predicted"]
    assert _shown_probabilities(browser) == {c: f"{p:.4f}" for c, p in row["probabilities"].items()}
    model_name = browser.find_element(By.ID, "model-name").text  # the page names the checkpoint it answers with
    assert f"sha256 {hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()[:12]}" in model_name
    overlay = browser.find_element(By.ID, "overlay")
    assert overlay.get_attribute("src").startswith("data:image/png") and overlay.get_property("naturalWidth") > 0
    _screenshot(browser, tmp_path, "app_image.png")


@pytest.mark.integration
def test_page_shows_the_cli_series_decision_plot_and_slices_for_a_volume(app_url, browser, tiny_checkpoint,
                                                                         nifti_root, tmp_path):
    from selenium.webdriver.common.by import By

    volume = nifti_root / NIFTI
    series = json.loads((_cli(tmp_path, tiny_checkpoint, volume) / "clinical.json").read_text())["series"][0]
    assert _upload(browser, app_url, volume) == "done", browser.find_element(By.ID, "error").text
    decision = series["decision"]
    assert browser.find_element(By.ID, "decision").text == decision["predicted_class"]
    assert _shown_probabilities(browser) == {c: f"{p:.4f}" for c, p in decision["class_probabilities"].items()}
    assert f"{decision['tumour_probability']:.4f}" in browser.find_element(By.ID, "series-summary").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#slice-plot circle")) == len(decision["contributing_slices"])
    first = browser.find_element(By.ID, "slice-label").text
    assert first.startswith(f"{decision['contributing_slices'][0] + 1} / {series['n_slices']}")
    assert browser.find_element(By.ID, "slice-overlay").get_property("naturalWidth") > 0
    browser.execute_script("const s = document.getElementById('slice-slider'); s.value = 0;"
                           "s.dispatchEvent(new Event('input'));")
    assert browser.find_element(By.ID, "slice-label").text.startswith(f"1 / {series['n_slices']}")
    assert browser.find_element(By.ID, "slice-image").get_property("naturalWidth") > 0
    browser.execute_script(f"document.getElementById('slice-slider').value = {decision['contributing_slices'][0]};"
                           "document.getElementById('slice-slider').dispatchEvent(new Event('input'));")
    _screenshot(browser, tmp_path, "app_volume.png")
