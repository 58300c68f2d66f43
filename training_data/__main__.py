"""python -m training_data OUT_DIR [--debs DIR] [--work DIR] [--val-percent 10]"""

import sys

from training_data.prepare import main

main(sys.argv[1:])
