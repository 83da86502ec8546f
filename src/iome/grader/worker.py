"""`python -m iome.grader.worker <slot>`: one grading worker (see :mod:`iome.grader.pool`)."""

import sys

from iome.grader.pool import worker_main

if __name__ == "__main__":
    worker_main(int(sys.argv[1]))
