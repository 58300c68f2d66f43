"""The methods behind `--method` and the optical flows behind `--flow`, by name: the command
line offers them without importing the network (predictor.py and flow.py use them)."""

METHODS = ("auto", "embed", "exemplar", "propagate")
# auto: the faster on the device, by measurement: ours on a GPU with Triton, else OpenCV's
# (flow.py says how much).
FLOWS = ("auto", "opencv", "torch")
