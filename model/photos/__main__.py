"""python -m model.photos OUT_DIR [--debs DIR] [--work DIR] [--val-percent 10]"""

import sys

from model.photos.prepare import main

main(sys.argv[1:])
