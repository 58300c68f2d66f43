"""Which reference colours which frames: the refs file, timecodes and cut lists. Pure parsing:
nothing here decodes a frame or runs the model."""
