"""The conceal loop: attribution-guided masks grown until the adversary no longer matches the person.

:func:`conceal` takes one image (a crop, or a frame whose people are found, concealed and pasted
back: :func:`plan_frame` and :func:`paste_people`, the frame path the batch runner shares too);
:func:`conceal_people` is the loop itself over batches of people, each with one or more
appearances. ``deid.conceal``, the batch runner and the audit all go through it.
"""

from deid.loop.config import ConcealConfig
from deid.loop.frames import FramePeople, WrittenFrame, conceal, paste_people, plan_frame
from deid.loop.grouping import LINKS
from deid.loop.replay import person_covers, render_person
from deid.loop.results import FrameResult, NotOnePersonWarning, NotPrivateWarning, PersonResult
from deid.loop.search import conceal_people, conceal_person

__all__ = [
    "LINKS",
    "ConcealConfig",
    "FramePeople",
    "FrameResult",
    "NotOnePersonWarning",
    "NotPrivateWarning",
    "PersonResult",
    "WrittenFrame",
    "conceal",
    "conceal_people",
    "conceal_person",
    "paste_people",
    "person_covers",
    "plan_frame",
    "render_person",
]
