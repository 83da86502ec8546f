"""Shared code for the *Internationalizing Medical Education* course.

Notebooks and instructors import from here instead of copying helpers into cells:
``settings`` (course.yml), ``data`` (validated datasets), ``charts`` (accessible Altair),
``explore`` (ipywidgets explorers), ``grading`` and ``checks`` (instructor pipeline) and ``cli``.
"""

__version__ = "0.1.0"
