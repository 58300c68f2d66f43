"""The review room's web server: Flask for the routes, waitress to serve them.

Flask because its routing, request parsing (multipart uploads with a size limit) and test
client are well kept and small; waitress because it is a production WSGI server in pure Python
with no dependencies of its own, threaded (a slow colour request never holds up the page) and
with its own request-size limit, where Werkzeug's server is documented for development only.

The server is a door into the user's disk, so:
- it listens on 127.0.0.1 unless told otherwise (`--host`);
- every request carries the token printed with the address (a query parameter, or the
  X-Remaster-Token header the page's scripts send), compared in constant time;
- it serves the film's frames, the references in the refs folder, its proxies and its own
  three files, nothing else: names from the page become paths only inside the refs folder
  (room.py `inside`);
- an upload larger than UPLOAD_LIMIT is refused before it is read, and one that does not
  decode as an image is refused before anything is stored.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from importlib import resources

from flask import Flask, Response, abort, jsonify, request, send_file
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from remaster.errors import InputError
from remaster.refs.edits import StaleEdit
from remaster.review.room import UPLOAD_LIMIT, ReviewRoom, jpeg

TOKEN_HEADER = "X-Remaster-Token"
PAGE_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
# Frames in the strip and the viewer: small enough to send quickly, big enough to judge.
THUMB_HEIGHT, VIEW_HEIGHT = 90, 540


def new_token() -> str:
    return secrets.token_urlsafe(24)


def create_app(room: ReviewRoom, token: str) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = UPLOAD_LIMIT
    static = resources.files("remaster.review") / "static"

    @app.before_request
    def check_token() -> None:
        given = request.headers.get(TOKEN_HEADER) or request.args.get("token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(403, "this address needs the token printed with it by `remaster review`")

    @app.after_request
    def private(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token stays on this page
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if isinstance(error, RequestEntityTooLarge):
            message = f"larger than {UPLOAD_LIMIT // 2**20} MiB; nothing was stored"
        else:
            message = error.description
        return jsonify(error=message), error.code

    @app.errorhandler(InputError)
    def input_error(error: InputError):
        return jsonify(error=str(error)), 409 if isinstance(error, StaleEdit) else 400

    @app.errorhandler(PermissionError)
    def forbidden(error: PermissionError):
        return jsonify(error=str(error)), 403

    @app.errorhandler(FileNotFoundError)
    def missing(error: FileNotFoundError):
        return jsonify(error=str(error)), 404

    @app.get("/")
    def page():
        # The page's own links carry the token (it is URL-safe base64: no quoting needed).
        html = (static / "index.html").read_text(encoding="utf-8").replace("__TOKEN__", token)
        return Response(html, mimetype="text/html")

    @app.get("/page/<name>")
    def page_file(name: str):
        if name not in PAGE_FILES:
            abort(404, "no such file")
        return Response((static / name).read_bytes(), mimetype=PAGE_FILES[name])

    @app.get("/api/state")
    def state():
        return jsonify(room.state())

    @app.get("/api/frame/<int:frame>")
    def frame_facts(frame: int):
        row = room.row_of(frame)
        return jsonify(frame=frame, timecode=room.job.timecode(frame), shot=row.number)

    @app.get("/api/images")
    def images():
        return jsonify(images=room.images())

    def height() -> int:
        return THUMB_HEIGHT if request.args.get("size") == "thumb" else VIEW_HEIGHT

    @app.get("/frame/<int:frame>.jpg")
    def frame(frame: int):
        if request.args.get("kind") == "color":
            return Response(jpeg(room.colored(frame, height())), mimetype="image/jpeg")
        response = Response(room.grey_jpeg(frame, height()), mimetype="image/jpeg")
        # A film's grey never changes while the room is open: the strip, rebuilt after every
        # edit, takes its thumbnails from the browser's cache instead of decoding them again.
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    @app.get("/reference.jpg")
    def reference():
        image = room.reference_image(request.args.get("name", ""), height())
        return Response(jpeg(image), mimetype="image/jpeg")

    @app.get("/proxy/<name>")
    def proxy(name: str):
        return send_file(room.proxy_path(name), mimetype="video/mp4", conditional=True)

    def fields(*names: str) -> list:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not all(name in data for name in names):
            abort(400, f"expected JSON with {', '.join(names)}")
        return [data[name] for name in names]

    def frame_number(value) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            abort(400, f"{value!r} is not a frame number")
        return value

    @app.post("/api/reference")
    def upload():
        upload = request.files.get("file")
        if upload is None:
            abort(400, "no file was sent")
        first = request.form.get("first", "")
        if not first.isdigit():
            abort(400, f"{first!r} is not a frame number")
        version, name = request.form.get("version", ""), upload.filename or ""
        return jsonify(room.upload(version, int(first), name, upload.read()))

    @app.post("/api/pick")
    def pick():
        version, first, name = fields("version", "first", "name")
        return jsonify(room.use_reference(version, frame_number(first), str(name)))

    @app.post("/api/keyframe")
    def keyframe():
        version, first, frame = fields("version", "first", "frame")
        frame = None if frame is None else frame_number(frame)
        return jsonify(room.set_keyframe(version, frame_number(first), frame))

    @app.post("/api/approve")
    def approve():
        version, first, approved = fields("version", "first", "approved")
        return jsonify(room.approve(version, frame_number(first), bool(approved)))

    @app.post("/api/split")
    def split():
        version, frame = fields("version", "frame")
        return jsonify(room.split(version, frame_number(frame)))

    @app.post("/api/merge")
    def merge():
        version, first = fields("version", "first")
        return jsonify(room.merge(version, frame_number(first)))

    @app.post("/api/play")
    def play():
        (first,) = fields("first")
        return jsonify(room.play(frame_number(first)).public())

    @app.post("/api/render")
    def render():
        (approved_only,) = fields("approved_only")
        return jsonify(room.render(bool(approved_only)).public())

    @app.get("/api/tasks")
    def tasks():
        """The latest render, running or ended: a page opened (or reloaded) mid-render
        follows it, and one opened after it says how it ended."""
        renders = [t for t in room.tasks.tasks.values() if t.kind == "render"]
        return jsonify(tasks=[renders[-1].public()] if renders else [])

    @app.get("/api/tasks/<int:number>")
    def task(number: int):
        found = room.tasks.tasks.get(number)
        if found is None:
            abort(404, f"no task {number}")
        return jsonify(found.public())

    return app


def make_server(app: Flask, host: str, port: int):
    """A waitress server bound now (so its port is known before it serves)."""
    from waitress import create_server

    # A page opening asks for a dozen thumbnails at once; waitress calls a short queue a
    # warning, which is noise on the user's terminal.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(
        app,
        host=host,
        port=port,
        threads=6,
        # Refused by the server before the body is read, and by Flask from its header.
        max_request_body_size=UPLOAD_LIMIT + 2**20,
        ident="remaster",
    )
