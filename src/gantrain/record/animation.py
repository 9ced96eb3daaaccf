"""Animations of sample grids: an animated GIF (Pillow) or an MP4 (PyAV, where installed),
written to a temporary file and renamed into place."""

from __future__ import annotations

from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.record.run_files import atomic

FORMATS = (".gif", ".mp4")


def grid_frames(frames: torch.Tensor, per_row: int) -> list:
    """uint8 (T, N, C, H, W) -> T PIL images, each a make_grid of its N images."""
    from torchvision.utils import make_grid

    from gantrain.record.images import to_pil

    return [to_pil(make_grid(f.float() / 255, nrow=per_row)) for f in frames]


def there_and_back(frames: list) -> list:
    """The frames forward, then backward without repeating either end: a loop with no jump."""
    return frames + frames[-2:0:-1]


def write_animation(frames: list, out: Path, fps: int) -> None:
    """PIL images to out.gif (looping) or out.mp4 (H.264)."""
    if out.suffix not in FORMATS:
        raise UserError(f"out={out}: an animation is written as .gif or .mp4")
    if out.suffix == ".mp4":
        _check_video_writer(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic(out, "the animation") as tmp:
        if out.suffix == ".gif":
            frames[0].save(
                tmp,
                format="GIF",
                save_all=True,
                append_images=frames[1:],
                duration=round(1000 / fps),
                loop=0,
            )
        else:
            _write_mp4(frames, tmp, fps)


def _check_video_writer(out: Path) -> None:
    try:
        import av  # noqa: F401
    except ImportError:
        raise UserError(
            f'out={out} needs a video writer: pip install av (or pip install "gantrain[video]"); '
            "or write an animated GIF, out=walk.gif"
        ) from None


def _write_mp4(frames: list, path: Path, fps: int) -> None:
    import av

    # H.264 in yuv420p wants even sides: pad by a pixel where a grid's side is odd
    w, h = frames[0].width + frames[0].width % 2, frames[0].height + frames[0].height % 2
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for frame in frames:
            padded = frame.convert("RGB").crop((0, 0, w, h))
            for packet in stream.encode(av.VideoFrame.from_image(padded)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
