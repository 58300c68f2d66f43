"""The methods behind `--method` and the optical flows behind `--flow`, by name: the command
line offers them without importing the network (predictor.py and flow.py use them)."""

METHODS = ("auto", "embed", "exemplar", "propagate")
# auto: OpenCV's DIS, the faster on every device measured (flow.py says how much).
FLOWS = ("auto", "opencv", "torch")
