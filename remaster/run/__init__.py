"""A film's way from decode to mux: the job check, the generator stages, segments and their
journal, ranks under torchrun, and the checkpoint a run uses."""
