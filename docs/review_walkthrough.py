"""The README's review-room walkthrough, done as a new user would, and its screenshots.

    .venv/bin/python docs/review_walkthrough.py      (needs chromium and chromium-driver)

From `remaster shots` to a rendered film without editing YAML by hand: find the shots, open
`remaster review`, choose each shot's reference with the page's file chooser, clear the
keyframes these pictures do not show, approve, play a proxy, render. Headless Chromium takes
the screenshots the README shows (docs/review-start.jpg, docs/review-room.jpg). About 3 minutes
on 2 CPU cores, most of it the render.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FILM = ROOT / "examples" / "film" / "reel.mp4"
REFS = ROOT / "examples" / "film" / "refs"
PICTURES = ["cockatoo.jpg", "street.jpg", "plant.jpg"]  # one colour picture per shot


def remaster(*args: object) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "remaster", *map(str, args)], capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(result.stderr)
    return result.stdout


def wait(driver, condition: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not driver.execute_script(f"return Boolean({condition})"):
        if time.monotonic() > deadline:
            message = driver.execute_script("return document.getElementById('message').innerText")
            raise SystemExit(f"timed out waiting for {condition}: {message}")
        time.sleep(0.2)


def colour_loaded(driver) -> None:
    wait(driver, "(i => i.complete && i.naturalWidth > 0)(document.getElementById('color'))")


def screenshot(driver, path: Path) -> None:
    png = driver.get_screenshot_as_png()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {path}")


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    work = Path(tempfile.mkdtemp(prefix="review-walkthrough-"))
    refs = work / "reel.yaml"
    print(remaster("shots", FILM, "-o", refs).strip())
    server = subprocess.Popen(
        [sys.executable, "-m", "remaster", "review", FILM, "--refs", refs, "--port", "0",
         "-o", work / "reel-remastered.mp4"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = server.stdout.readline()
    print(line.strip())
    address = re.search(r"(http://\S+)", line).group(1)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,940"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(address)
        wait(driver, "document.querySelectorAll('.shot').length === 3")
        colour_loaded(driver)
        screenshot(driver, ROOT / "docs" / "review-start.jpg")
        for first, picture in zip((0, 90, 180), PICTURES, strict=True):
            driver.execute_script(
                f"document.querySelector('.shot[data-first=\"{first}\"]').click()"
            )
            driver.find_element("id", "upload").send_keys(str(REFS / picture))
            wait(
                driver,
                "document.getElementById('reference-name').textContent === "
                f"'{Path(picture).stem}.png'",
            )
            driver.find_element("id", "clear-keyframe").click()  # not the keyframe's frame
            wait(driver, "document.getElementById('clear-keyframe').disabled")
            driver.find_element("id", "approve").click()
            wait(
                driver,
                f"document.querySelector('.shot[data-first=\"{first}\"]')"
                ".dataset.approved === 'true'",
            )
        driver.execute_script("document.querySelector('.shot[data-first=\"90\"]').click()")
        driver.execute_script(
            "const s = document.getElementById('frame'); s.value = 137; showFrame();"
        )
        colour_loaded(driver)
        driver.find_element("id", "play").click()
        wait(driver, "(v => v.readyState >= 2)(document.getElementById('proxy'))")
        driver.execute_script(
            "const v = document.getElementById('proxy'); v.pause(); v.currentTime = 1;"
        )
        time.sleep(1)
        screenshot(driver, ROOT / "docs" / "review-room.jpg")
        driver.find_element("id", "render-approved").click()
        wait(driver, "document.getElementById('render-state').textContent === 'done'", 900)
        print(driver.execute_script("return document.getElementById('message').innerText"))
    finally:
        driver.quit()
        server.terminate()
        server.wait()
    print(refs.read_text())
    print(remaster("check", FILM, "--refs", refs))


if __name__ == "__main__":
    main()
