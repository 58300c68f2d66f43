"""The review room in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (no browser is downloaded), on a real encoded three-shot clip with the
shipped weights. The tests run in order, as a colorist works: look, drop references, split and
merge, meet a stale page, play a proxy, render.

Where Chromium is missing they skip, unless REMASTER_BROWSER_TESTS=required (as .ci/run sets
it), where they fail: CI must run them."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

import av
import cv2
import pytest

from remaster.review.room import ReviewOptions, ReviewRoom
from remaster.review.server import create_app, make_server
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
REQUIRED = os.environ.get("REMASTER_BROWSER_TESTS") == "required"
TOKEN = "browser-test-token"
FRAMES, SHOTS = 60, 3  # shots of 20 frames: 0-19, 20-39, 40-59
LOADED = "(i => i.complete && i.naturalWidth > 0)(document.getElementById('{}'))"
CARD = "document.querySelector('.shot[data-first=\"{}\"]')"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if REQUIRED:
        raise RuntimeError(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: apt-get install chromium chromium-driver"
        )
    pytest.skip(
        "no chromium/chromedriver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

webdriver = pytest.importorskip("selenium.webdriver")


def refs_text() -> str:
    return (
        "# The test reel (this comment must survive every edit).\n"
        "shots:\n"
        "  - start: 0\n    ref: refs/a.png\n"
        "  - start: 20\n    ref: refs/b.png\n"
        "  - start: 40\n    ref: refs/c.png\n"
    )


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("review")
    (folder / "refs").mkdir()
    for name, seed in (("a", 11), ("b", 12), ("c", 13)):
        cv2.imwrite(str(folder / "refs" / f"{name}.png"), photo_like(120, 160, seed))
    (folder / "shots.yaml").write_text(refs_text())
    write_clip(folder / "film.mp4", frames=FRAMES, shots=SHOTS)
    return folder


@pytest.fixture(scope="module")
def painted(tmp_path_factory) -> Path:
    """A painted frame where a colorist keeps it: outside the refs folder."""
    path = tmp_path_factory.mktemp("desktop") / "painted.png"
    cv2.imwrite(str(path), photo_like(120, 160, 21))
    return path


@pytest.fixture(scope="module")
def room(job: Path):
    options = ReviewOptions(
        job / "film.mp4", job / "shots.yaml", job / "render.mkv", codec="ffv1", device="cpu"
    )
    room = ReviewRoom(options)
    server = make_server(create_app(room, TOKEN), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    room.address = f"http://127.0.0.1:{server.effective_port}/?token={TOKEN}"
    yield room
    server.close()
    room.tasks.stop()


@pytest.fixture(scope="module")
def browser(room):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,900")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.get(room.address)
    yield driver
    driver.quit()


def wait(driver, condition: str, seconds: float = 60, *args):
    """Until the JavaScript `condition` is true in the page."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if driver.execute_script(f"return Boolean({condition})", *args):
            return
        time.sleep(0.2)
    message = driver.execute_script("return document.getElementById('message').textContent")
    raise AssertionError(f"timed out waiting for {condition} (page says: {message!r})")


def cards(driver) -> list[tuple[int, str, bool]]:
    return [
        tuple(card)
        for card in driver.execute_script(
            "return [...document.querySelectorAll('.shot')].map(c => "
            "[Number(c.dataset.first), c.querySelector('.ref-name').textContent, "
            "c.dataset.approved === 'true'])"
        )
    ]


def image_loaded(driver, element_id: str) -> bool:
    return driver.execute_script(
        f"const i = document.getElementById('{element_id}'); "
        "return i.complete && i.naturalWidth > 0"
    )


def drop(driver, first: int, path: Path, name: str | None = None) -> None:
    """Drop a file on a shot's card, as the browser does: a DataTransfer holding a File."""
    data = base64.b64encode(path.read_bytes()).decode()
    driver.execute_script(
        """
        const [first, data, name] = arguments;
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: "application/octet-stream" }));
        const card = document.querySelector(`.shot[data-first="${first}"]`);
        const how = { dataTransfer: transfer, bubbles: true, cancelable: true };
        card.dispatchEvent(new DragEvent("dragover", how));
        card.dispatchEvent(new DragEvent("drop", how));
        """,
        first,
        data,
        name or path.name,
    )


def show_frame(driver, frame: int) -> None:
    driver.execute_script(
        "const s = document.getElementById('frame'); s.value = arguments[0]; showFrame();", frame
    )
    wait(
        driver,
        "document.getElementById('frame-label').textContent.startsWith(arguments[0])",
        10,
        f"frame {frame}",
    )


def click(driver, element_id: str) -> None:
    driver.find_element("id", element_id).click()


def test_the_page_shows_every_shot(browser, room) -> None:
    wait(browser, "document.querySelectorAll('.shot').length === 3")
    assert cards(browser) == [
        (0, "refs/a.png", False),
        (20, "refs/b.png", False),
        (40, "refs/c.png", False),
    ]
    wait(
        browser,
        LOADED.format("color"),
        120,
    )
    assert image_loaded(browser, "grey") and image_loaded(browser, "reference")
    # The first and last frames of every shot, as thumbnails.
    wait(
        browser,
        "[...document.querySelectorAll('.shot .frames img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )
    assert (
        browser.execute_script("return document.querySelectorAll('.shot .frames img').length") == 6
    )


def test_a_dropped_reference_changes_the_preview_and_the_refs_file(
    browser, room, job, painted
) -> None:
    click(browser, "strip")  # nothing selected changes
    browser.execute_script("document.querySelector('.shot[data-first=\"20\"]').click()")
    wait(browser, "document.getElementById('shot-title').textContent === 'Shot 2'")
    wait(
        browser,
        LOADED.format("color"),
        120,
    )
    before = browser.execute_script("return document.getElementById('color').src")
    drop(browser, 20, painted)
    wait(
        browser,
        CARD.format(20) + ".querySelector('.ref-name').textContent === 'painted.png'",
    )
    wait(browser, "document.getElementById('color').src !== arguments[0]", 10, before)
    wait(
        browser,
        LOADED.format("color"),
        120,
    )
    text = (job / "shots.yaml").read_text()
    assert "  - start: 20\n    ref: painted.png\n" in text
    assert text.startswith("# The test reel (this comment must survive every edit).\n")
    stored = cv2.imread(str(job / "painted.png"))  # a re-encoded copy in the refs folder
    assert (stored == cv2.imread(str(painted))).all()
    check = run_remaster("check", job / "film.mp4", "--refs", job / "shots.yaml")
    assert check.returncode == 0, check.stderr
    assert "painted.png" in check.stdout


def test_a_dropped_text_file_is_refused(browser, room, job) -> None:
    text_file = job / "notes.png"
    text_file.write_text("a text file, named as if it were an image\n")
    before = (job / "shots.yaml").read_bytes()
    drop(browser, 0, text_file)
    wait(
        browser,
        "document.getElementById('message').textContent.includes('cannot be decoded as an image')",
    )
    assert (job / "shots.yaml").read_bytes() == before
    assert cards(browser)[0][1] == "refs/a.png"


def test_a_reference_picked_from_the_refs_folder(browser, room, job) -> None:
    browser.execute_script(CARD.format(0) + ".click()")
    wait(browser, "document.getElementById('shot-title').textContent === 'Shot 1'")
    wait(
        browser, "[...document.getElementById('pick').options].some(o => o.value === 'refs/c.png')"
    )
    browser.execute_script("document.getElementById('pick').value = 'refs/c.png'")
    click(browser, "use-pick")
    wait(browser, CARD.format(0) + ".querySelector('.ref-name').textContent === 'refs/c.png'")
    assert "  - start: 0\n    ref: refs/c.png\n" in (job / "shots.yaml").read_text()


def test_split_and_merge_a_shot(browser, room, job) -> None:
    browser.execute_script("document.querySelector('.shot[data-first=\"40\"]').click()")
    wait(browser, "document.getElementById('shot-title').textContent === 'Shot 3'")
    show_frame(browser, 50)
    # The frame's timecode as the film counts it (29.97 drop-frame): frame 50 is 00:00:01;20.
    wait(browser, "document.getElementById('frame-label').textContent.endsWith('00:00:01;20')")
    browser.find_element("tag name", "body").send_keys("\ue014")  # the right arrow key
    wait(browser, "document.getElementById('frame-label').textContent.startsWith('frame 51')")
    show_frame(browser, 50)
    click(browser, "split")
    wait(browser, "document.querySelectorAll('.shot').length === 4")
    assert [card[0] for card in cards(browser)] == [0, 20, 40, 50]
    assert "  - start: 50\n    ref: refs/c.png\n" in (job / "shots.yaml").read_text()
    browser.execute_script("document.querySelector('.shot[data-first=\"40\"]').click()")
    wait(browser, "document.getElementById('shot-title').textContent === 'Shot 3'")
    click(browser, "merge")
    wait(browser, "document.querySelectorAll('.shot').length === 3")
    assert [card[0] for card in cards(browser)] == [0, 20, 40]
    assert "start: 50" not in (job / "shots.yaml").read_text()


def test_an_edit_from_a_stale_page_is_refused(browser, room, job) -> None:
    refs = job / "shots.yaml"
    elsewhere = refs.read_text() + "# saved by an editor meanwhile\n"
    refs.write_text(elsewhere)
    click(browser, "approve")
    wait(browser, "document.getElementById('message').textContent.includes('changed on disk')")
    assert refs.read_text() == elsewhere
    browser.refresh()  # the page then shows the file as it is, and edits go through
    wait(browser, "document.querySelectorAll('.shot').length === 3")
    browser.execute_script("document.querySelector('.shot[data-first=\"20\"]').click()")
    click(browser, "approve")
    wait(browser, "document.querySelector('.shot[data-first=\"20\"]').dataset.approved === 'true'")
    assert "approved: true" in refs.read_text()
    assert "# saved by an editor meanwhile" in refs.read_text()


def test_play_makes_a_proxy_the_browser_plays(browser, room) -> None:
    browser.execute_script("document.querySelector('.shot[data-first=\"0\"]').click()")
    click(browser, "play")
    wait(browser, "!document.getElementById('proxy').hidden", 180)
    wait(
        browser,
        "(v => v.readyState >= 2 || v.error)(document.getElementById('proxy'))",
        30,
    )
    assert browser.execute_script("return document.getElementById('proxy').error") is None
    assert browser.execute_script("return document.getElementById('proxy').duration") > 0.5
    width = browser.execute_script("return document.getElementById('proxy').videoWidth")
    height = browser.execute_script("return document.getElementById('proxy').videoHeight")
    assert (width, height) == (256, 96)  # grey | colour, each at the film's 128x96


def test_render_reaches_the_end_and_equals_the_command_line(browser, room, job) -> None:
    click(browser, "render-all")
    wait(browser, "document.getElementById('render-state').textContent.startsWith('rendering')")
    browser.refresh()  # a page reloaded mid-render follows it (or says how it ended)
    wait(browser, "document.getElementById('render-state').textContent === 'done'", 600)
    bar = browser.execute_script(
        "const b = document.getElementById('render-progress'); return [b.value, b.max]"
    )
    assert bar == [FRAMES, FRAMES]
    assert "wrote" in browser.execute_script(
        "return document.getElementById('message').textContent"
    )
    command = job / "command.mkv"
    result = run_remaster(
        job / "film.mp4", "--refs", job / "shots.yaml", "-o", command, "--codec", "ffv1",
        "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert video_packets(job / "render.mkv") == video_packets(command)


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
