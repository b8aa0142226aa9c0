"""Entry point of one torchrun worker (radgen.train.distributed.launch): `python -m radgen.train.ddp_worker spec`.

A module of its own, which the package does not import, so that runpy executes it fresh as __main__.
"""

import logging
import os
import sys

from radgen.train.distributed import worker

if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s rank{os.environ.get('RANK', '?')} %(message)s"
    )
    worker(sys.argv[1])
