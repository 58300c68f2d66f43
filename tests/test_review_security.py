"""The review room's server is a door into the user's disk: each way through it is tried."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

from remaster.review.room import UPLOAD_LIMIT, ReviewOptions, ReviewRoom
from remaster.review.server import create_app, make_server
from tests.media import photo_like, write_clip

TOKEN = "test-token-0123456789"


@pytest.fixture()
def room(tmp_path: Path) -> ReviewRoom:
    folder = tmp_path / "job"
    (folder / "refs").mkdir(parents=True)
    cv2.imwrite(str(folder / "refs" / "a.png"), photo_like(128, 160, 1))
    (folder / "shots.yaml").write_text("shots:\n  - start: 0\n    ref: refs/a.png\n")
    (folder / "notes.txt").write_text("not an image")
    (tmp_path / "secret.png").write_bytes(cv2.imencode(".png", photo_like(64, 64, 2))[1])
    os.symlink(tmp_path / "secret.png", folder / "refs" / "link.png")
    film = write_clip(folder / "film.mp4", frames=12, shots=1)
    return ReviewRoom(ReviewOptions(film, folder / "shots.yaml", folder / "out.mp4"))


@pytest.fixture()
def client(room: ReviewRoom):
    return create_app(room, TOKEN).test_client()


def get(client, path: str, **query):
    return client.get(path, query_string={"token": TOKEN, **query})


def test_every_request_needs_the_token(client) -> None:
    for path in ("/", "/api/state", "/frame/0.jpg", "/page/review.js", "/reference.jpg"):
        assert client.get(path).status_code == 403, path
        assert client.get(path, query_string={"token": "wrong"}).status_code == 403, path
    assert "needs the token" in client.get("/api/state").get_json()["error"]
    assert client.get("/api/state", headers={"X-Remaster-Token": TOKEN}).status_code == 200
    page = get(client, "/")
    assert page.status_code == 200 and TOKEN in page.get_data(as_text=True)
    assert get(client, "/frame/0.jpg").mimetype == "image/jpeg"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../secret.png", 403),  # up and out
        ("refs/../../secret.png", 403),
        ("SECRET", 403),  # an absolute path (filled in below)
        ("refs/link.png", 403),  # a symlink out of the folder
        ("notes.txt", 404),  # inside, but not an image
        ("refs/missing.png", 404),
        ("", 403),  # the folder itself
    ],
)
def test_names_from_the_page_stay_inside_the_refs_folder(client, room, name, status) -> None:
    if name == "SECRET":
        name = str(room.folder.parent / "secret.png")
    assert get(client, "/reference.jpg", name=name).status_code == status
    before = room.options.refs.read_bytes()
    answer = client.post(
        "/api/pick",
        json={"version": room.version, "first": 0, "name": name},
        headers={"X-Remaster-Token": TOKEN},
    )
    assert answer.status_code == status
    assert room.options.refs.read_bytes() == before
    assert get(client, "/reference.jpg", name="refs/a.png").status_code == 200


def test_only_its_own_files_and_proxies_are_served(client) -> None:
    for path in ("/page/index.html", "/page/..%2f..%2fserver.py", "/page/room.py"):
        assert get(client, path).status_code == 404, path
    for name in ("..%2fshots.yaml", "proxy-..%2f..%2fshots.yaml", "shots.yaml"):
        assert get(client, f"/proxy/{name}").status_code in (403, 404), name


def upload(client, room, name: str, data: bytes):
    import io

    return client.post(
        "/api/reference",
        data={"file": (io.BytesIO(data), name), "version": room.version, "first": "0"},
        headers={"X-Remaster-Token": TOKEN},
    )


def test_an_upload_must_be_an_image_and_is_stored_re_encoded(client, room) -> None:
    before = room.options.refs.read_bytes()
    files = set(room.folder.rglob("*"))
    text = upload(client, room, "painted.png", b"this is text, not a picture\n" * 10)
    assert text.status_code == 400
    assert "painted.png: cannot be decoded as an image" in text.get_json()["error"]
    grey = upload(client, room, "grey.png", cv2.imencode(".png", photo_like(96, 96, 3)[..., 0])[1])
    assert "is a grey image" in grey.get_json()["error"]
    assert room.options.refs.read_bytes() == before
    assert set(room.folder.rglob("*")) == files  # nothing stored, nothing staged left
    # A JPEG named with a path is stored as a PNG under its plain name.
    jpeg = cv2.imencode(".jpg", photo_like(120, 160, 4))[1].tobytes()
    stored = upload(client, room, "../../etc/painted.jpg", jpeg)
    assert stored.status_code == 200, stored.get_json()
    assert (room.folder / "painted.png").is_file()
    assert cv2.imread(str(room.folder / "painted.png")).shape == (120, 160, 3)
    assert stored.get_json()["shots"][0]["references"] == ["painted.png"]
    again = upload(client, room, "painted.jpg", jpeg)
    assert again.get_json()["shots"][0]["references"] == ["painted-2.png"]


def test_a_2_gb_upload_is_refused_before_it_is_read(room) -> None:
    server = make_server(create_app(room, TOKEN), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.effective_port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/reference?token=" + TOKEN.encode() + b" HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                + f"Content-Length: {2 * 2**30}\r\n\r\n".encode()
                + b"--x\r\n" * 100
            )
            started = time.monotonic()
            answer = sock.recv(4096).decode("latin-1")
        assert answer.startswith("HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - started < 5  # refused from its header, not after 2 GB
    finally:
        server.close()
    assert UPLOAD_LIMIT < 2 * 2**30


def test_the_command_listens_on_loopback_with_a_token(room, tmp_path: Path) -> None:
    """`remaster review` as a user starts it: an address on 127.0.0.1 with a token, which
    the server then demands."""
    import urllib.error
    import urllib.request

    options = room.options
    process = subprocess.Popen(
        [sys.executable, "-m", "remaster", "review", str(options.source), "--refs",
         str(options.refs), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        address = re.search(r"http://(\S+?):(\d+)/\?token=(\S+)", line)
        assert address, line + process.stderr.read() if process.poll() is not None else line
        host, port, token = address.groups()
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://{host}:{port}/api/state?token={token}") as answer:
            assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{host}:{port}/api/state")
        assert refused.value.code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err


def test_a_port_in_use_is_one_line(room) -> None:
    from tests.helpers import run_remaster

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_remaster(
            "review", room.options.source, "--refs", room.options.refs, "--port", port
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: --port {port}: cannot listen on 127.0.0.1")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
