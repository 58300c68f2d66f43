"""The methods behind `--method`, by name: the command line offers them without importing the
network (predictor.py colours by them)."""

METHODS = ("auto", "embed", "exemplar", "propagate")
