"""Whether a series of frames outside the templates shows the stimulus or a camera's view, by its words.

Taking a camera's video for the stimulus is the silent error; the reverse is a refusal (--stimulus
chooses), so a camera's word anywhere in the name or description wins over a stimulus's word.
"""

from __future__ import annotations

import re

from pynwb.image import ImageSeries


def _words(*words: str) -> re.Pattern:
    """Any of `words` at the start of a word (names join words with _ or -, so \\b would not split them)."""
    return re.compile(r"(?<![a-z])(" + "|".join(words) + ")", re.IGNORECASE)


_STIMULUS_WORDS = _words("stim", "screen", "monitor", "display", "presented", r"natural.?(movie|scene)")
_CAMERA_WORDS = _words(
    "camera",
    r"cam(?![a-z])",
    "webcam",
    "eye",
    "pupil",
    "face",
    "whisk",
    "body",
    "paw",
    "lick",
    "behavio",
    "mouse",
    "side",
    "top(?![a-z])",
    "bottom",
    "front",
    "ir(?![a-z])",
    "infrared",
    "nose",
    "pose",
)
NEUROCONV_VIDEO_DESCRIPTION = "Video recorded by camera."
"""What neuroconv's video interfaces write for every video, stimulus or camera: says nothing either way."""


def movie_place(series: ImageSeries, path: str) -> str:
    """ "stimulus", "camera" or "movie" for an ImageSeries of frames outside the templates (see
    `place_of`)."""
    return place_of(series.name, series.description or "", path)


def place_of(name: str, description: str, path: str) -> str:
    """ "stimulus", "camera" or "movie" for a series of frames outside the templates, from its name,
    description and path: /stimulus holds stimuli; elsewhere a camera's word in its name or description
    makes it a camera (taking a camera for the stimulus is the silent error; the reverse is a refusal),
    else a stimulus's word makes it a stimulus (see `Presentations.place`)."""
    if path.startswith("/stimulus/"):
        return "stimulus"
    texts = [name] + ([] if description.strip() == NEUROCONV_VIDEO_DESCRIPTION else [description])
    if any(_CAMERA_WORDS.search(text) for text in texts):
        return "camera"
    if any(_STIMULUS_WORDS.search(text) for text in texts):
        return "stimulus"
    return "movie"
