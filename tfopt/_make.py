"""`make search`: runs `tfopt search` with the Make variables that are set (TASK=digits,
TRIALS=3, ...), each mapped to its option by `tfopt.options.make_arguments`."""

import shlex
import sys

from tfopt.cli import main
from tfopt.options import make_arguments

if __name__ == "__main__":
    argv = make_arguments()
    print("tfopt search " + shlex.join(argv), flush=True)  # the command line it stands for
    sys.exit(main(["search", *argv]))
