"""nbgrader settings for the course (this folder is the nbgrader course directory).

Run nbgrader from this folder, or use the `iome` command, which does so for you.
"""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "iome"
c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
c.CourseDirectory.db_url = "sqlite:///" + c.CourseDirectory.root + "/gradebook.db"

# What students see in answer cells.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: bound each cell.
c.Execute.timeout = 120
# Kernels talk over Unix sockets at a private absolute path, not TCP: with several graders starting
# kernels at once, a TCP port pick can race and a kernel then "dies before replying".
c.Execute.kernel_manager_class = "iome.kernels.IpcKernelManager"

# Feedback: remove hidden tests, and replace any traceback from a cell that held hidden tests with a
# one-line message, so a failing hidden test cannot print its own source (nbgrader's default does).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "iome.feedback.HideHiddenTestTracebacks",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# iome autograde: grading mode per assignment. By default `iome autograde` grades with nbgrader's
# own semantics (student cells and tests in one kernel, in order; scores equal stock nbgrader's).
# Assignments listed here opt in to the stricter "answers-as-data" mode: answers are carried to a
# clean interpreter as data and the tests never share a process with student code; a submission
# whose answers cannot be carried over is graded the default way, with the reason noted.
c.IomeGrader.answers_as_data = [
    "burden-of-disease", "comparative-method", "covid-excess-mortality", "financing-mix",
    "health-economics", "internationalization-at-home", "performance-rankings", "uhc-sdg3", "workforce",
]
# The student version in the course language (course.yml: language): markdown and tr("...") strings from
# locales/<lang>/LC_MESSAGES/exercises/<name>.po, before nbgrader saves cells and computes checksums.
from nbgrader.converters import GenerateAssignment  # noqa: E402

from iome.nbtranslate import TranslateNotebook  # noqa: E402

c.GenerateAssignment.preprocessors = [TranslateNotebook, *GenerateAssignment.class_traits()["preprocessors"].default()]
