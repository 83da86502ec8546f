"""The grader, one module per job.

* :mod:`~iome.grader.nbrun` — default mode: nbgrader's own preprocessors (sanitize / execute / save),
  the execute chain in a sandbox with a pre-warmed, forked kernel;
* :mod:`~iome.grader.guard` — inside that kernel: audit hook, restore before tests;
* :mod:`~iome.grader.default` — default mode's worker job and main-process recording;
* :mod:`~iome.grader.flags` — what a submission tried, in words ("Submissions to look at");
* :mod:`~iome.grader.modes` — which mode an assignment uses (course setting).

Planning, merging, the answers-as-data run, the worker pool and gradebook recording live in
:mod:`iome.autograde` (which both modes share).
"""
