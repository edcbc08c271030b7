"""The square portrait every face model animates: the face found in any photo, a square cut around it with the
original background (padded by mirroring near an edge), the mouth closed, and its landmark rig.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...analysis.face_points import MESH_IRISES, FacePoints, face_points
from ...media.images import as_uint8_rgb, resize
from .face_rig import FaceRig
from .lips import close_photo_mouth, open_lip_points

CROP_FACES = 2.5       # portrait side in jaw widths
MIN_CROP_FACES = 1.6   # below this the photo is padded rather than cropped tighter


def portrait_crop(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """A square portrait around the face: (pixels, x0, y0, side) in the photo's coordinates. Pads by
    mirroring when the face is too close to an edge for a reasonable square."""
    h, w = image.shape[:2]
    jaw = float(np.linalg.norm(landmarks[16] - landmarks[0]))
    cx = float(landmarks[0:17, 0].mean())
    cy = float((landmarks[36:48, 1].mean() + landmarks[8, 1]) / 2 - 0.12 * jaw)
    side = int(round(CROP_FACES * jaw))
    if side > min(h, w):
        side = max(min(h, w), int(round(MIN_CROP_FACES * jaw)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    if side <= w:
        x0 = min(max(x0, 0), w - side)
    if side <= h:
        y0 = min(max(y0, 0), h - side)
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect" if pad < min(h, w) else "edge")
    crop = image[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    return crop, x0, y0, side


def square_portrait(image: np.ndarray, landmarks: np.ndarray, size: int
                    ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """The portrait as the photo shows it: (pixels uint8 [size, size, 3], the landmarks in its pixels, the crop
    box x0, y0, side in the photo)."""
    crop, x0, y0, side = portrait_crop(image, landmarks)
    points = (landmarks - np.array([x0, y0], np.float32) + 0.5) * (size / side) - 0.5
    return resize(crop, size, size), points, (x0, y0, side)


@dataclass(frozen=True, eq=False)
class Portrait:
    """A photo prepared for animation, all in the square portrait's pixels."""

    photo: np.ndarray           # float32 [size, size, 3] 0..1, the cut as the photo shows it (lips maybe parted)
    open_points: np.ndarray     # [72, 2] its lip-aware points (analysis points + lip quarters)
    pixels: np.ndarray          # float32 [size, size, 3] 0..1 with the mouth closed
    rig: FaceRig                # the closed-mouth rig
    points: FacePoints          # what the face analysis found, moved into the portrait
    crop_box: tuple[int, int, int]  # x0, y0, side in the original photo


def rig_of(points: np.ndarray, face: FacePoints) -> FaceRig:
    """The rig of closed-mouth points [72, 2], its eye centres on the irises when the mesh marked them."""
    irises = face.mesh.points[list(MESH_IRISES), :2] if face.mesh is not None else None
    return FaceRig.from_landmarks(points, eye_centres=irises)


def make_portrait(image: np.ndarray, size: int, where: str = "face") -> Portrait:
    """The portrait of a photo's main face (MediaPipe's points when it runs, dlib's otherwise)."""
    image = as_uint8_rgb(image, where=where)
    found = face_points(image, where=where)
    # cut around the face as the photo shows it: the mesh also places the part of a face beyond the photo's
    # edge, which would widen the cut into a mirrored pad of half a face
    visible = np.clip(found.landmarks, 0, np.array(image.shape[1::-1], np.float32) - 1)
    pixels, _, (x0, y0, side) = square_portrait(image, visible, size)
    face = found.moved(-np.array([x0, y0], np.float32), size / side)
    photo = pixels.astype(np.float32) / 255.0
    mesh = face.mesh.points if face.mesh is not None else None
    pixels, points = close_photo_mouth(photo, face.landmarks, mesh, face.dlib)
    return Portrait(photo=photo, open_points=open_lip_points(photo, face.landmarks, mesh), pixels=pixels,
                    rig=rig_of(points, face), points=face, crop_box=(x0, y0, side))


def prepare_portrait(image: np.ndarray, size: int, where: str = "face") -> tuple[np.ndarray, FaceRig, tuple[int, int, int]]:
    """The square portrait every face model animates: (pixels float32 [size, size, 3] in 0..1 with the
    mouth closed, its landmark rig, the crop box x0, y0, side in the photo)."""
    portrait = make_portrait(image, size, where)
    return portrait.pixels, portrait.rig, portrait.crop_box
