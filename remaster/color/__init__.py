"""Where a frame's colour comes from: the predictor (embed, exemplar, propagate, auto), optical
flow, propagation and stabilisation, and the one stage that owns a film's colour state."""
