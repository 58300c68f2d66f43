"""The methods behind `--method` and the optical flows behind `--flow`, by name: the command
line offers them without importing the network (predictor.py and flow.py use them)."""

METHODS = ("auto", "embed", "exemplar", "propagate")
# auto: OpenCV's DIS on a CPU, ours in PyTorch on a GPU (flow.py says why).
FLOWS = ("auto", "opencv", "torch")
