"""The grader, one module per job (the batch itself is :mod:`iome.autograde`).

* :mod:`~iome.grader.plan` — what each cell of the source notebook is, points, names answers define;
* :mod:`~iome.grader.submission` — reading a submission (a clear reason when it cannot be graded),
  merging it onto the source skeleton (answers-as-data mode);
* :mod:`~iome.grader.modes` — which mode an assignment uses (a course setting);
* :mod:`~iome.grader.pool` — pre-warmed worker processes, each forking its sandboxes;
* :mod:`~iome.grader.nbrun` — default mode's test run: nbgrader's own preprocessors, the execute
  chain in a sandbox with a forked kernel; :mod:`~iome.grader.guard` runs inside that kernel;
* :mod:`~iome.grader.answers_run` — answers-as-data mode's test run (answers carried as data);
* :mod:`~iome.grader.default` — default mode's worker job and main-process recording;
* :mod:`~iome.grader.flags` — what a submission tried, in words ("Submissions to look at");
* :mod:`~iome.grader.record` — gradebook, autograded notebook, per-student reports.

Both modes share plan, submission, pool, the sandbox, record and flags; only the test run differs.
"""
