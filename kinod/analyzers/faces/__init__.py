"""Faces analyzer: every face tracked through every frame, people across clips, find-person.

Entry point (group ``kinod.analyzers``): ``faces = "kinod.analyzers.faces:FacesAnalyzer"``.
One module per concern: :mod:`.detector` (BlazeFace on tiles), :mod:`.confirm` (MTCNN
second opinion and landmarks), :mod:`.embedder` (FaceNet), :mod:`.backends` (default,
dlib, :mod:`.insightface`), :mod:`.tracker`, :mod:`.cuts`, :mod:`.analysis` (frames to
tracks), :mod:`.identities`, :mod:`.analyzer`; :mod:`kinod.analyzers.faces.people` keeps the registry
and :mod:`kinod.analyzers.faces.find_person` the command.
"""

from kinod.analyzers.faces.analyzer import FacesAnalyzer
from kinod.analyzers.faces.config import FacesConfig

__all__ = ["FacesAnalyzer", "FacesConfig"]
