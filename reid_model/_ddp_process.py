"""What each process ``deid train --nproc N`` starts runs (:func:`reid_model.train_on_processes`):

    python -m reid_model._ddp_process RUN/ddp_config.json [--no-resume]

Kept out of the package's imports, so that running it as ``__main__`` does not import it twice.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from reid_model.distributed import leave
from reid_model.training import TrainConfig, train


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    config = TrainConfig(**json.loads(Path(args[0]).read_text()))
    try:
        train(config, resume="--no-resume" not in args, progress=os.environ.get("RANK", "0") == "0")
    except BaseException:
        leave(together=False)
        raise
    leave()


if __name__ == "__main__":
    main()
