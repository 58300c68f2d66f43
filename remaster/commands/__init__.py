"""The command line and the small job behind each command: film (the click layer only), image,
shots, check, preview, eval and batch. The top floor: nothing below imports it."""
