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
    # Every process has finished and left the group, and the run's files are written (atomically,
    # by the main process, before the barrier in ``leave``). End here, without the interpreter's
    # teardown: there, a gloo helper thread still holding a reference has aborted the process now
    # and then ("terminate called without an active exception", twice in CI), failing a run whose
    # work was done.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
