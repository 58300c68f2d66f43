"""Frames in and out: video through PyAV (video.py, the only module that imports it), image
sequences, still images, damaged frames, and the conversions between planes and CIE Lab."""
