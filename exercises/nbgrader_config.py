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
