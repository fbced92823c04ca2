"""Postura: body-pose estimation and simple posture metrics for images and videos.

Pose estimation is MediaPipe BlazePose (the legacy ``mp.solutions.pose`` API),
whose models ship inside the mediapipe wheel, so nothing is downloaded at run time.
"""

__version__ = "0.1.0"
