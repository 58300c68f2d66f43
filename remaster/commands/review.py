"""`remaster review`: the review room, served until Ctrl-C.

    remaster review film.mp4 --refs shots.yaml [--cuts FILE] [--port N] [--open]

The job is checked first, as `remaster check` checks it (a refs file that would not run is one
line and no server), then the address is printed with its token.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable

from remaster.errors import InputError
from remaster.review.room import ReviewOptions, ReviewRoom
from remaster.review.server import create_app, make_server, new_token


def serve(
    options: ReviewOptions, host: str, port: int, open_page: bool, say: Callable[[str], None]
) -> None:
    room = ReviewRoom(options)
    token = new_token()
    try:
        server = make_server(create_app(room, token), host, port)
    except OSError as error:
        raise InputError(
            f"--port {port}: cannot listen on {host} ({error.strerror}); give another --port"
        ) from None
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{server.effective_port}/?token={token}"
    say(f"review room for {options.source} at {address} (Ctrl-C to close)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: listening on {host}: anyone who can reach it and has the token can "
            "read your references and film frames")  # fmt: skip
    if open_page:
        webbrowser.open(address)
    try:
        server.run()
    except KeyboardInterrupt:
        say("review room closed; a render that was running can be continued from the page")
    finally:
        room.tasks.stop()
        server.close()
