"""The conceal loop: attribution-guided masks grown until the adversary no longer matches the person.

:func:`conceal` takes one image (a crop, or a frame whose people are found, concealed and pasted
back); :func:`conceal_people` is the loop itself over batches of people, each with one or more
appearances. ``deid.conceal``, the batch runner and the audit all go through it.
"""

from deid.loop.config import ConcealConfig
from deid.loop.frames import conceal
from deid.loop.results import FrameResult, PersonResult
from deid.loop.search import conceal_people, conceal_person

__all__ = ["ConcealConfig", "FrameResult", "PersonResult", "conceal", "conceal_people", "conceal_person"]
