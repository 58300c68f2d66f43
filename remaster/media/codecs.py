"""The output codecs and the containers that take them: names only, so the command line can
offer them without importing PyAV (video.py encodes with them)."""

# name -> (encoder, pixel format, segment container, encoder options)
CODECS = {
    "h264": ("libx264", "yuv420p", "mp4", {}),
    "prores": ("prores_ks", "yuv422p10le", "mov", {"profile": "3"}),  # ProRes 422 HQ
    "ffv1": ("ffv1", "yuv420p", "matroska", {"level": "3", "g": "1"}),  # lossless, intra-only
    # NVIDIA's encoders, on the GPU: x264's 8-10 frames/s at 1080p on 2 cores would set the
    # pace of a GPU run. Constant quality (cq) stands in for x264's crf.
    "h264-nvenc": ("h264_nvenc", "yuv420p", "mp4", {"rc": "vbr", "preset": "p5"}),
    "hevc-nvenc": ("hevc_nvenc", "yuv420p", "mp4", {"rc": "vbr", "preset": "p5"}),
}
NVENC = ("h264-nvenc", "hevc-nvenc")
# x264's speed presets (`--preset`, H.264 only), fastest first: x264's own list, which FFmpeg
# checks only when the encoder opens, after the first batch is coloured (a misspelt one ended
# a run there in a traceback). tests/test_bad_input.py opens libx264 with each.
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
    "veryslow", "placebo",
)  # fmt: skip
# FFmpeg's threads for the archive codecs, all cores (measured at 1080p on 2 cores: ProRes
# 9.4 -> 11.3 frames/s with frame threads; FFV1 60 either way with slices, 32 with frame
# threads).
ENCODER_THREADS = {"prores": "FRAME", "ffv1": "SLICE"}


def encoder_threads(codec: str, shares_cores: bool) -> str | None:
    """The kind of threads `codec` encodes with; `shares_cores`: the colour is computed on the
    same CPU cores (no GPU).

    x264 runs its own threads, of the kind asked for. In slices (PyAV asks every codec for them)
    it cuts each frame into one slice per core and encodes them together; in frame threads
    (FFmpeg's command line's choice) it encodes several frames at once, which is how it is meant
    to use many cores: at 1080p with a 16-core machine's thread count, real footage came out
    2.7% smaller and 0.15 dB nearer the source (3.70 -> 3.60 MB, luma PSNR 50.02 -> 50.17 dB,
    120 frames of cockatoo.mp4 at `medium`). Beside the model on the same cores, slices:
    `make demo`'s command took 2% longer with frame threads on 2 cores (121.4 -> 123.8 s,
    medians of four runs each, alternating; the same CPU time, spent contending)."""
    if codec == "h264":
        return "SLICE" if shares_cores else "FRAME"
    return ENCODER_THREADS.get(codec)


# Deeper pictures (10 bits) go to these formats. H.264 stays 8-bit: its 10-bit profile (High 10)
# plays in few browsers and hardware decoders, and H.264 is the viewing copy, not the master.
DEEP_FORMATS = {
    "ffv1": "yuv420p10le",
    "prores": "yuv422p10le",
    "h264": "yuv420p10le",
    "hevc-nvenc": "p010le",
}
# Which codecs each output container takes, the first being the default.
CONTAINER_CODECS = {
    ".mp4": ("h264", *NVENC),
    ".mov": ("h264", "prores", *NVENC),
    ".mkv": ("h264", "ffv1", *NVENC),
}
