"""nbgrader preprocessor: the student version of an exercise in the course language.

Runs first in ``nbgrader generate_assignment`` (see ``exercises/nbgrader_config.py``), so the gradebook,
the checksums, the release and the book's copy all hold the same translated text; hidden tests and
model answers are untouched. Catalogues: ``locales/<lang>/LC_MESSAGES/exercises/<name>.po``.
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .i18n import language, translate_notebook


class TranslateNotebook(Preprocessor):
    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off by default

    def preprocess(self, nb, resources):
        lang = language()
        if lang != "en":
            translate_notebook(nb, lang)
        return nb, resources
