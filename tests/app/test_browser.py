"""The page in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``, installed by
``make test``) driven by Selenium against ``python -m monai_tumorcls.app`` on a free port, with a tiny checkpoint
that carries metadata and a validation record (random weights). The decision the page shows for a real Testing
image and a real NIfTI volume must be the CLI's (``python -m monai.bundle run --config_file
bundles/resnet18_binary/configs/inference.json``) for the same checkpoint and file; the viewer shows the slice at
its source resolution with working window/level, zoom, pan and orientation letters, the overlay beside it with a
labelled colour bar, series named as a reader names them, a plot with slice numbers, and the model card.
Screenshots go into the test's temporary folder, and also into ``$APP_SCREENSHOT_DIR`` when set (how
docs/app.md's screenshots were made)."""

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
import zipfile
from pathlib import Path

import nibabel as nib
import pydicom
import pytest
import torch

from tests.bundles.helpers import PROJECT_ROOT, check, run_bundle

from .conftest import BUNDLE, OVERRIDES

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NIFTI = "pyradiomics-tcga-gbm/converted_nifti/brain1_image.nii.gz"
TRAIN_OVERRIDES = repr(OVERRIDES["train_overrides"])
HELD_OUT = {"kaggle.slice_auc": 0.5, "ixi.specificity": 0.25}  # made up: the weights are random
PIXELS = """const c = document.getElementById(arguments[0]);
const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
let h = 0; for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
return h;"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A 64-px checkpoint as training writes it (metadata from the bundle's own ``checkpoint_meta``, random seeded
    weights) with a validation record, so that the model card has held-out numbers to show."""
    from monai_tumorcls.bundle import load_bundle_config
    from monai_tumorcls.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("validated_model")
    overrides = {"image_size": 64, "bundle_root": str(root), "checkpoint_meta#data": {}}
    parser = load_bundle_config(PROJECT_ROOT / BUNDLE, "train.json", overrides)
    torch.manual_seed(0)
    network = parser.get_parsed_content("network_def").eval()
    record = {"trained_on": ["kaggle"], "volumes_validated": False, "held_out": HELD_OUT,
              "summary": "random test weights", "source": "docs/reports/external_validation.md"}
    meta = {**parser.get_parsed_content("checkpoint_meta"), "validation": record}
    return save_checkpoint(root / "model.pt", {"model": network.state_dict()}, meta)


@pytest.fixture(scope="module")
def app_url(checkpoint, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("app_server") / "server.log"
    cmd = [sys.executable, "-m", "monai_tumorcls.app", "--bundle", BUNDLE, "--checkpoint", str(checkpoint),
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
            pytest.fail(f"{path} missing: install Debian's chromium and chromium-driver (make system-packages)")
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

    driver.set_window_size(1000, 1050)
    driver.get(url)
    assert "Research use only" in driver.find_element(By.ID, "banner").text
    driver.find_element(By.ID, "file-input").send_keys(str(path))
    status = driver.find_element(By.ID, "status")
    WebDriverWait(driver, 120).until(lambda d: status.get_attribute("data-state") in ("done", "error"))
    return status.get_attribute("data-state")


def _screenshot(driver, tmp_path: Path, name: str) -> None:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1000, min(height + 140, 2400))  # the whole page, up to the model card
    assert driver.save_screenshot(str(tmp_path / name))
    assert (tmp_path / name).stat().st_size > 10_000
    if os.environ.get("APP_SCREENSHOT_DIR"):
        shutil.copy(tmp_path / name, Path(os.environ["APP_SCREENSHOT_DIR"]) / name)


def _shown_probabilities(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#probabilities tr")
    return {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text for r in rows}


@pytest.mark.integration
def test_page_shows_the_cli_decision_for_an_image(app_url, browser, checkpoint, kaggle_root, tmp_path):
    from selenium.webdriver.common.by import By

    image = sorted((kaggle_root / "Testing" / "glioma").iterdir())[3]
    row = json.loads((_cli(tmp_path, checkpoint, image) / "predictions.json").read_text())["rows"][0]
    assert _upload(browser, app_url, image) == "done", browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "decision").text == row["predicted"]
    assert _shown_probabilities(browser) == {c: f"{p:.4f}" for c, p in row["probabilities"].items()}
    model_name = browser.find_element(By.ID, "model-name").text  # the page names the checkpoint it answers with
    assert f"sha256 {hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:12]}" in model_name
    training = browser.find_element(By.ID, "card-training-data").text  # the model card: data and held-out numbers
    assert "Kaggle Brain Tumor MRI Dataset" in training and "sources: kaggle" in training
    held_out = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#held-out-table tr")]
    assert held_out == [f"{k} {v}" for k, v in HELD_OUT.items()]
    overlay = browser.find_element(By.ID, "overlay")
    assert overlay.get_attribute("src").startswith("data:image/png") and overlay.get_property("naturalWidth") > 0
    _screenshot(browser, tmp_path, "app_image.png")


def _wait_for_slice(driver, k: int) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.find_element("id", "view-original").get_attribute("data-shown") == str(k))


def _canvas(driver, name: str) -> tuple[int, int]:
    canvas = driver.find_element("id", name)
    assert canvas.is_displayed()
    return int(canvas.get_property("height")), int(canvas.get_property("width"))


def _window(driver) -> tuple[float, float]:
    return tuple(float(driver.find_element("id", i).get_property("value")) for i in ("wl-level", "wl-width"))


def _drag(driver, element, dx: int, dy: int) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element(element).click_and_hold().move_by_offset(dx, dy).release().perform()


def _check_window_zoom_and_pan(driver) -> None:
    """Presets and drags change the window (and the pixels), the buttons and pan mode the canvases' transform."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    before = driver.execute_script(PIXELS, "view-original")
    Select(driver.find_element(By.ID, "wl-preset")).select_by_value("full")
    assert driver.execute_script(PIXELS, "view-original") != before
    level, width = _window(driver)
    _drag(driver, driver.find_element(By.ID, "pane-original"), 40, -30)  # right: wider; up: higher level
    assert _window(driver)[1] > width and _window(driver)[0] > level
    assert driver.find_element(By.ID, "wl-preset").get_property("value") == ""  # a manual window now
    Select(driver.find_element(By.ID, "wl-preset")).select_by_value("auto")
    transform = lambda: [driver.find_element(By.ID, c).value_of_css_property("transform")  # noqa: E731
                         for c in ("view-original", "view-overlay")]
    fitted = transform()
    assert fitted[0] == fitted[1]  # the same zoom and pan on both
    driver.find_element(By.ID, "zoom-in").click()
    zoomed = transform()
    assert zoomed[0] == zoomed[1] != fitted[0]
    window = _window(driver)
    Select(driver.find_element(By.ID, "drag-mode")).select_by_value("pan")
    _drag(driver, driver.find_element(By.ID, "pane-overlay"), 25, 15)
    assert transform()[0] == transform()[1] != zoomed[0] and _window(driver) == window  # pan leaves the window
    Select(driver.find_element(By.ID, "drag-mode")).select_by_value("window")
    driver.find_element(By.ID, "zoom-reset").click()
    assert transform() == fitted


@pytest.mark.integration
def test_page_shows_the_cli_series_decision_plot_and_viewer_for_a_volume(app_url, browser, checkpoint,
                                                                          nifti_root, tmp_path):
    from selenium.webdriver.common.by import By

    volume = nifti_root / NIFTI
    series = json.loads((_cli(tmp_path, checkpoint, volume) / "clinical.json").read_text())["series"][0]
    assert _upload(browser, app_url, volume) == "done", browser.find_element(By.ID, "error").text
    decision = series["decision"]
    assert browser.find_element(By.ID, "decision").text == decision["predicted_class"]
    assert _shown_probabilities(browser) == {c: f"{p:.4f}" for c, p in decision["class_probabilities"].items()}
    assert f"{decision['tumour_probability']:.4f}" in browser.find_element(By.ID, "series-summary").text
    assert [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#series-select option")] == [volume.name]
    first = decision["contributing_slices"][0]
    assert browser.find_element(By.ID, "slice-label").text.startswith(f"{first + 1} / {series['n_slices']}")
    _wait_for_slice(browser, first)
    in_plane = tuple(nib.load(volume).shape[:2])  # an axial volume: its in-plane grid, not the network's 64 px
    assert _canvas(browser, "view-original") == _canvas(browser, "view-overlay") == in_plane
    assert browser.execute_script(PIXELS, "view-original") != browser.execute_script(PIXELS, "view-overlay")
    for pane in ("pane-original", "pane-overlay"):  # radiological: the patient's left on the right
        edges = {e: browser.find_element(By.CSS_SELECTOR, f"#{pane} .orient-{e}").text
                 for e in ("top", "bottom", "left", "right")}
        assert edges == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert _canvas(browser, "colour-bar")[0] > 100
    assert browser.find_element(By.ID, "colour-bar-label").text.startswith("Grad-CAM of the tumour class")
    _check_window_zoom_and_pan(browser)

    plot = "#slice-plot"
    contributing = browser.find_elements(By.CSS_SELECTOR, f"{plot} circle.contributing")
    assert len(contributing) == len(decision["contributing_slices"])
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, f"{plot} text.x-tick")]
    assert ticks[0] == "1" and len(ticks) >= 3 and all(t.isdigit() for t in ticks)
    target = next(s["slice_index"] for s in series["slices"] if not s["excluded"] and s["slice_index"] != first)
    browser.find_element(By.CSS_SELECTOR, f'{plot} circle[data-index="{target}"]').click()
    _wait_for_slice(browser, target)
    assert browser.find_element(By.ID, "slice-label").text.startswith(f"{target + 1} / {series['n_slices']}")
    assert int(browser.find_element(By.ID, "slice-slider").get_property("value")) == target
    browser.execute_script(f"const s = document.getElementById('slice-slider'); s.value = {first};"
                           "s.dispatchEvent(new Event('input'));")
    _wait_for_slice(browser, first)
    _screenshot(browser, tmp_path, "app_volume.png")


@pytest.mark.integration
def test_a_dicom_series_is_listed_by_its_description(app_url, browser, dicom_root, tmp_path):
    from selenium.webdriver.common.by import By

    files = sorted((dicom_root / "ge-epi-brain-small").iterdir())
    upload = tmp_path / "series.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for f in files:
            zf.write(f, f"ge/{f.name}")
    assert _upload(browser, app_url, upload) == "done", browser.find_element(By.ID, "error").text
    header = pydicom.dcmread(files[0], stop_before_pixels=True)
    listed = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#series-select option")]
    assert listed == [header.SeriesDescription]
    shown = int(browser.find_element(By.ID, "slice-slider").get_property("value"))
    _wait_for_slice(browser, shown)
    assert _canvas(browser, "view-original") == (header.Rows, header.Columns)  # axial as acquired
