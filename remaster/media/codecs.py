"""The output codecs and the containers that take them: names only, so the command line can
offer them without importing PyAV (video.py encodes with them)."""

# name -> (encoder, pixel format, segment container, encoder options)
CODECS = {
    "h264": ("libx264", "yuv420p", "mp4", {}),
    "prores": ("prores_ks", "yuv422p10le", "mov", {"profile": "3"}),  # ProRes 422 HQ
    "ffv1": ("ffv1", "yuv420p", "matroska", {"level": "3", "g": "1"}),  # lossless, intra-only
}
# Deeper pictures (10 bits) go to these formats. H.264 stays 8-bit: its 10-bit profile (High 10)
# plays in few browsers and hardware decoders, and H.264 is the viewing copy, not the master.
DEEP_FORMATS = {"ffv1": "yuv420p10le", "prores": "yuv422p10le", "h264": "yuv420p10le"}
# Which codecs each output container takes, the first being the default.
CONTAINER_CODECS = {".mp4": ("h264",), ".mov": ("h264", "prores"), ".mkv": ("h264", "ffv1")}
