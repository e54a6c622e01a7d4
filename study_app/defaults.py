"""The study defaults, in one place: the parser, the dataclass and `study init` read them here."""

from __future__ import annotations

#: Degradations golden questions may use (see :mod:`study_app.stimuli`).
GOLDEN_KINDS = ("blur", "noise", "jpeg", "pixelate")
#: Environment variable holding the experimenter token (wins over the study file).
TOKEN_ENV = "EVALKIT_STUDY_TOKEN"

#: How trials are chosen (study_app.design): "balanced" windows or "adaptive" (information gain).
DESIGNS = ("balanced", "adaptive")
DESIGN = "balanced"
TRIALS_PER_RATER = 20
GOLDEN_SHARE = 0.1
GOLDEN_DEGRADATIONS = ("blur", "noise")
INSTRUCTIONS = ("Each trial shows an original image and two versions of it, A and B. "
                "Choose the version that looks closer to the original, or \"Can't decide\".")
CONSENT = "I agree to take part; my answers are stored without my name."
