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
# Each encoder's threads, all cores. ProRes and FFV1 take FFmpeg's (measured at 1080p on 2
# cores: ProRes 9.4 -> 11.3 frames/s with frame threads; FFV1 60 either way with slices, 32
# with frame threads). x264 runs its own, of the kind asked for: PyAV asks every codec for
# slices, which makes x264 cut each frame into one slice per core and wait for all of them,
# where FFmpeg's own command line has it encode several frames at once. Frame threads, as
# there: at 1080p with x264's 16-core thread count, real footage came out 2.7% smaller and
# 0.15 dB nearer the source (3.70 -> 3.60 MB, luma PSNR 50.02 -> 50.17 dB, 120 frames of
# cockatoo.mp4 at `medium`); sliced threads are x264's low-latency mode.
ENCODER_THREADS = {"h264": "FRAME", "prores": "FRAME", "ffv1": "SLICE"}
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
