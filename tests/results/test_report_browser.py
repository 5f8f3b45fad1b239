"""report.html in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run`
installs) loads the page, and every plot must decode as an image."""

import html
import json
import os
import re
import shutil
import subprocess

import pytest

CHECK = """<script>
addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({
    images: [...document.images].map(i => ({alt: i.alt, complete: i.complete,
                                            width: i.naturalWidth, height: i.naturalHeight})),
    pageWidth: document.documentElement.scrollWidth, windowWidth: innerWidth});
  document.body.append(out);
});
</script>
"""


def _chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("no chromium here (`apt-get install chromium`); CI installs it")
    return found


def _render(chromium, page, profile, *flags):
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         "--window-size=1280,900", "--virtual-time-budget=10000", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120)


def test_every_plot_of_the_report_loads_in_chromium(finished_run, tmp_path):
    chromium = _chromium()
    page = tmp_path / "report.html"
    page.write_text((finished_run.run_dir / "report.html").read_text() + CHECK)
    done = _render(chromium, page, tmp_path / "profile", "--dump-dom")
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    check = json.loads(html.unescape(found.group(1)))
    titles = [image["alt"] for image in check["images"]]
    assert titles == ["Optimization history", "Learning curves of the top trials",
                      "Confusion matrix (final model, test split)",
                      "Hyperparameters of the trials", "Calibration (final model, test split)",
                      "Wall time per trial"]  # 3 trials: importance is one line, no image
    for image in check["images"]:
        assert image["complete"] and image["width"] > 200 and image["height"] > 150, image
    assert check["pageWidth"] <= check["windowWidth"]  # no sideways scrolling at 1280 px


def test_a_screenshot_of_the_report_is_not_blank(finished_run, tmp_path):
    from PIL import Image

    chromium = _chromium()
    shot = tmp_path / "report.png"
    _render(chromium, finished_run.run_dir / "report.html", tmp_path / "profile",
            f"--screenshot={shot}", "--hide-scrollbars")
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert image.size == (1280, 900) and len(colours) > 50  # text, tables and a plot drawn
