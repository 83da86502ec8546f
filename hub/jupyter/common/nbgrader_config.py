"""nbgrader settings every server on the class hub reads (students and instructor).

`iome hub start` copies this folder into the hub's state folder; the spawner points JUPYTER_CONFIG_PATH
at the copy. The instructor's course settings (timeouts, feedback filters) are the repository's
exercises/nbgrader_config.py, copied into the instructor's course folder ~/course.
"""

import datetime
import glob
import json
import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import parse_utc

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = os.environ.get("IOME_HUB_COURSE", "iome")
c.Exchange.root = os.environ.get("IOME_HUB_EXCHANGE", "/srv/nbgrader/exchange")
# A submission must hold every released notebook under its released name; anything else is refused.
c.ExchangeSubmit.strict = True
c.CollectApp.update = True


def _owner(uid: int) -> str:
    """The account name of UID: from the system, or (containers, where accounts are not in /etc/passwd)
    from the uid map the hub puts in IOME_HUB_UID_MAP."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return json.loads(os.environ.get("IOME_HUB_UID_MAP") or "{}").get(str(uid), f"unknown uid {uid}")


class VerifiedCollect(ExchangeCollect):
    """nbgrader's collect, but a submission whose folder is not owned by the student it names is
    refused (stock nbgrader only warns), and a timestamp claimed earlier than the moment the folder
    arrived in the exchange (its ctime, which a student cannot set) is replaced by that moment."""

    def init_src(self):
        super().init_src()
        pattern = os.path.join(self.inbound_path, f"*+{self.coursedir.assignment_id}+*")
        honest = []
        for path in glob.glob(pattern):
            rec = self._path_to_record(path)
            owner = _owner(os.stat(path).st_uid)
            if owner != rec["username"]:
                self.log.error("REFUSED %s: it names student %s but was submitted by %s",
                               rec["filename"], rec["username"], owner)
                continue
            arrived = datetime.datetime.fromtimestamp(os.stat(path).st_ctime, datetime.timezone.utc)
            arrived = arrived.replace(tzinfo=None)
            claimed = rec["timestamp"].replace(tzinfo=None) if rec["timestamp"] else arrived
            if claimed < arrived - datetime.timedelta(minutes=2):
                self.log.error("%s claims it was submitted at %s but arrived at %s: using the arrival time",
                               rec["filename"], claimed, arrived)
                rec["timestamp"] = arrived
                rec["corrected"] = arrived.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            honest.append(rec)
        student = self.coursedir.student_id or "*"
        newest = {}
        for rec in sorted(honest, key=lambda r: r["timestamp"]):
            if student in ("*", rec["username"]):
                newest[rec["username"]] = rec
        self.src_records = list(newest.values())

    def copy_files(self):
        super().copy_files()
        for rec in self.src_records:
            if rec.get("corrected"):
                dest = self.coursedir.format_path(self.coursedir.submitted_directory, rec["username"],
                                                  self.coursedir.assignment_id)
                with open(os.path.join(dest, "timestamp.txt"), "w") as fh:
                    fh.write(rec["corrected"])


c.ExchangeFactory.collect = VerifiedCollect

if os.environ.get("IOME_HUB_ROLE") == "instructor":
    course = os.path.expanduser("~/course")
    if os.path.isfile(os.path.join(course, "nbgrader_config.py")):
        load_subconfig(os.path.join(course, "nbgrader_config.py"))  # noqa: F821 (provided by traitlets)
    c.CourseDirectory.root = course
    c.CourseDirectory.db_url = "sqlite:///" + os.path.join(course, "gradebook.db")
