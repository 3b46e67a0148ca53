"""Writing the output: a video file (the input's other tracks carried along), a folder of images,
or an animated GIF.

Sinks take output frames by index at a constant rate and meet :class:`FrameSink`. Where the output
goes (path rules, --overwrite, the move into place) is ``video.output``.

The video encoder is checked here too, before any work (:func:`check_encoder`): FFmpeg builds list
encoders they cannot open on this machine (``h264_nvenc`` without an NVIDIA GPU), and pass a --crf
beyond an encoder's range on to it.
"""
from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, List, Optional, Protocol, Union

import av
import numpy as np
from PIL import Image

from utils.errors import InputError
from utils.image_io import PNG_COMPRESS_LEVEL, save_gif
from video.passthrough import StreamCarrier, copy_metadata
from video.sources import ColourTags

__all__ = ["VIDEO_FORMATS", "GIF_SUFFIX", "IMAGE_FORMATS", "OWN_FRAME_NAME", "CRF_RANGES", "FrameSink", "VideoFileSink",
           "FrameFolderSink", "GifSink", "gif_durations", "default_codec", "video_encoder", "check_encoder", "pick_pixel_format"]

log = logging.getLogger("ifrnet.video")

# Output containers by extension (FFmpeg muxer names).
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
GIF_SUFFIX = ".gif"
# Folder output: --image_format -> Pillow's format name. JPEG and WebP take --quality.
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
# What FrameFolderSink names its frames: the only files --overwrite may replace in a folder output.
OWN_FRAME_NAME = re.compile(r"\d{8}\.(png|jpg|webp)")
_AUDIO_LEAD = Fraction(1, 2)  # mux audio this far ahead of the video, as muxers interleave anyway
# The colour matrices swscale converts with (FFmpeg's AVColorSpace numbers: bt709, fcc, bt601, smpte240m, bt2020nc).
_SWSCALE_MATRICES = (1, 4, 5, 7, 9)
# Encoders that take a constant-quality --crf, with the range each accepts (FFmpeg itself lets
# larger values through to x264, which then clamps them: a silently different quality).
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx": (4, 63), "libvpx-vp9": (0, 63),
              "libsvtav1": (0, 63), "libaom-av1": (0, 63)}


def default_codec(path: Union[str, Path]) -> str:
    """The encoder used when --codec is not given: VP9 for WebM, H.264 (libx264) otherwise."""
    return "libvpx-vp9" if Path(path).suffix.lower() == ".webm" else "libx264"


def video_encoder(codec: str) -> av.Codec:
    """FFmpeg's video encoder called ``codec``; an unknown name or an audio encoder is an InputError."""
    try:
        encoder = av.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError):
        raise InputError(f"unknown video encoder {codec!r} (try libx264, libx265, libvpx-vp9, mpeg4)") from None
    if encoder.type != "video":
        raise InputError(f"{codec!r} is not a video encoder")
    return encoder


def check_encoder(codec: str, crf: Optional[int], default: str) -> None:
    """Fail now, before the model loads, if ``codec`` cannot run here (e.g. a GPU encoder on a
    machine without that GPU: FFmpeg knows it but cannot open it) or ``crf`` is outside its range.

    The encoder is opened once on a tiny frame size, which is what tells a missing GPU apart.
    """
    encoder = video_encoder(codec)
    if crf is not None and encoder.name in CRF_RANGES:
        low, high = CRF_RANGES[encoder.name]
        if not low <= crf <= high:
            raise InputError(f"--crf {crf} is outside the range of {encoder.name} ({low}-{high}, lower is better)")
    context = av.CodecContext.create(encoder)
    context.width = context.height = 64
    context.pix_fmt = pick_pixel_format(encoder, 64, 64)
    context.time_base = Fraction(1, 25)
    context.framerate = Fraction(25)
    try:
        context.open()
    except av.error.FFmpegError as error:
        reason = getattr(error, "strerror", None) or error
        advice = f"leave out --codec to use {default}" if codec != default else "check your FFmpeg build"
        raise InputError(f"the encoder {codec} cannot be used on this machine ({reason}); {advice}") from None


def pick_pixel_format(codec: av.Codec, width: int, height: int) -> str:
    """yuv420p where possible (plays everywhere); 4:4:4 for odd sizes, which 4:2:0 cannot hold (said
    in the log), or for an encoder without 4:2:0 (libx264rgb: odd sizes are no matter there)."""
    formats = [f.name for f in (codec.video_formats or [])]
    even = width % 2 == 0 and height % 2 == 0
    if not formats:  # it takes any (rawvideo, for y4m)
        return "yuv420p" if even else "yuv444p"
    if "yuv420p" in formats and even:
        return "yuv420p"
    for name in ("yuv444p", "gbrp", "rgb24"):
        if name in formats:
            if "yuv420p" in formats:
                log.info("frame size %dx%d is odd: encoding %s with %s", width, height, codec.name, name)
            return name
    if formats:
        return formats[0]
    raise InputError(f"encoder {codec.name} takes no pixel format this tool can produce")


class FrameSink(Protocol):
    """What a conversion writes frames to (a video file, a folder of images).

    ``write(index, image)`` is called with indices 0, 1, 2 ... in order; ``finish()`` once after
    the last frame makes the output complete; ``abort()`` instead releases it after a failure (the
    partial output is then discarded by :func:`video.output.atomic_output`).
    """

    def write(self, index: int, image: np.ndarray) -> None:
        ...

    def finish(self) -> None:
        ...

    def abort(self) -> None:
        ...


class VideoFileSink:
    """Encodes frames at a constant ``rate`` into a video file, carrying the source's other tracks
    along (audio, subtitles, metadata, display matrix: :class:`video.passthrough.StreamCarrier`).

    ``write(index, image)`` must be called with indices 0, 1, 2 ...; frame ``index`` is shown at
    ``index / rate`` seconds. ``finish()`` flushes the encoder and the rest of the tracks.
    ``tracks_shift`` is the input time of output frame 0; ``trim_start`` and ``tracks_end`` (output
    seconds) say a part of the input is converted, so the tracks are cut to it. ``colour``: the
    input's colour tags, written on the output stream (frames keep their YUV values through the
    tool, so the same tags make them look the same). ``keep_display_matrix`` False: the frames come
    already turned and mirrored as shown (a montage), so the input's display matrix is not applied again.
    ``first_index``: the index of the first frame written (a segment of a longer output).
    ``file``: an open stream to write to instead (standard output); ``path`` then names it in messages.
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        width: int,
        height: int,
        rate: Fraction,
        codec: str,
        crf: Optional[int],
        tracks_from: Optional[Path] = None,
        tracks_shift: Fraction = Fraction(0),
        trim_start: bool = False,
        tracks_end: Optional[Fraction] = None,
        format_name: Optional[str] = None,
        colour: Optional[ColourTags] = None,
        keep_display_matrix: bool = True,
        first_index: int = 0,
        file: Optional[BinaryIO] = None,
    ) -> None:
        self.path = Path(path)
        format_name = format_name or VIDEO_FORMATS[self.path.suffix.lower()]
        encoder = video_encoder(codec)
        self._container = av.open(file if file is not None else str(self.path), mode="w", format=format_name)
        self._tracks: Optional[StreamCarrier] = None
        try:
            if encoder.canonical_name not in self._container.supported_codecs:
                raise InputError(f"a {self.path.suffix or format_name} output cannot hold {codec} video; "
                                 "choose another --codec or format")
            self.rate = Fraction(rate)
            self._stream = self._container.add_stream(codec, rate=self.rate)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = pick_pixel_format(encoder, width, height)
            # Frames are stamped in units of one output frame; the muxer may pick its own stream
            # time base (MP4 uses a multiple of the rate) and rescales the packets to it.
            self._time_base = 1 / self.rate
            self._stream.codec_context.time_base = self._time_base
            self._stream.thread_type = "AUTO"
            if colour is not None:
                context = self._stream.codec_context
                context.color_primaries, context.color_trc, context.colorspace, context.color_range = colour
            self._colour = colour
            # RGB -> YUV with the input's matrix and range (the decoder used them for YUV -> RGB), so
            # the output's YUV values are the input's; the encoder's own conversion would use BT.601.
            self._to_yuv = None
            if colour is not None and colour.matrix in _SWSCALE_MATRICES and colour.range in (1, 2):
                self._to_yuv = {"format": self._stream.pix_fmt, "dst_colorspace": colour.matrix,
                                "dst_color_range": colour.range}
            if crf is not None:
                if encoder.name in CRF_RANGES:
                    options = {"crf": str(crf)}
                    if encoder.name.startswith("libvpx"):
                        options["b"] = "0"  # VP8/9 honour crf as constant quality only with bitrate 0
                    self._stream.options = options
                else:
                    log.info("--crf does not apply to %s; using its default quality", encoder.name)
            if tracks_from is not None:
                self._tracks = StreamCarrier(self._container, Path(tracks_from), tracks_shift,
                                             trim_start=trim_start, end=tracks_end)
                copy_metadata(self._tracks.video_tags, self._stream.metadata)
                if self._tracks.display_matrix is not None and keep_display_matrix:
                    self._stream.set_display_matrix(list(self._tracks.display_matrix))
            try:  # the header and the encoders now, so that a track the file cannot take fails before any frame is made
                self._container.start_encoding()
            except av.error.FFmpegError as error:
                raise InputError(f"cannot write a {self.path.suffix} file with the input's tracks "
                                 f"({getattr(error, 'strerror', None) or error})") from None
        except BaseException:
            self.abort()
            raise
        self._next_index = first_index  # a segment of a longer output starts there (video.segments)

    def write(self, index: int, image: np.ndarray) -> None:
        if index != self._next_index:
            raise ValueError(f"frames must be written in order: expected {self._next_index}, got {index}")
        self._next_index += 1
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        if self._to_yuv is not None:
            frame = frame.reformat(**self._to_yuv)
            frame.colorspace, frame.color_range = self._colour.matrix, self._colour.range
        frame.pts = index
        frame.time_base = self._time_base
        if self._tracks is not None:
            self._tracks.mux_until(self._container, Fraction(index) / self.rate + _AUDIO_LEAD)
        self._container.mux(self._stream.encode(frame))

    def finish(self) -> None:
        self._container.mux(self._stream.encode(None))
        if self._tracks is not None:
            self._tracks.mux_until(self._container, None)
            self._tracks.close()
            self._tracks = None
        self._container.close()

    def abort(self) -> None:
        """Close without flushing (the partial file is then deleted by :func:`atomic_output`)."""
        if self._tracks is not None:
            self._tracks.close()
        try:
            self._container.close()
        except Exception:  # closing a half-written container may complain; the file is discarded
            pass


class FrameFolderSink:
    """Writes output frames as numbered images (00000000.png, 00000001.png, ...) into a folder, in
    ``image_format`` (a key of :data:`IMAGE_FORMATS`); ``quality`` (1-100) applies to jpg and webp."""

    def __init__(self, path: Union[str, Path], image_format: str = "png", quality: int = 95) -> None:
        if image_format not in IMAGE_FORMATS:
            raise InputError(f"unknown image format {image_format!r}; choose one of {', '.join(IMAGE_FORMATS)}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._suffix = image_format
        # A low zlib level keeps PNG from being the bottleneck; JPEG/WebP take the quality asked for.
        self._options = {"compress_level": PNG_COMPRESS_LEVEL} if image_format == "png" else {"quality": quality}

    def write(self, index: int, image: np.ndarray) -> None:
        # Plain saves: the folder as a whole is made atomic by atomic_output, and a per-file fsync
        # would cost more than the encoding.
        name = f"{index:08d}.{self._suffix}"  # see OWN_FRAME_NAME
        Image.fromarray(image).save(self.path / name, format=IMAGE_FORMATS[self._suffix], **self._options)

    def finish(self) -> None:
        """Nothing to flush: each frame is a complete file once ``write`` returns."""

    def abort(self) -> None:
        """Nothing to close: the partial folder is deleted by :func:`atomic_output`."""


def gif_durations(count: int, rate: Fraction) -> List[int]:
    """Per-frame durations in milliseconds, multiples of 10 (GIF counts hundredths of a second),
    rounded so that the running total stays on the output clock: 30 fps gives 30, 40, 30, ..."""
    ends = [round(Fraction(100 * (k + 1)) / rate) * 10 for k in range(count)]
    return [end - start for start, end in zip([0] + ends[:-1], ends)]


class GifSink:
    """Collects the output frames and saves them as a looping animated GIF on ``finish``.

    Each frame gets its own 256-colour palette computed from its pixels (Pillow's adaptive
    quantizer), and durations from the output rate (:func:`gif_durations`). The frames are held in
    memory until the end, which suits what GIFs are for: short clips. Pillow merges identical
    consecutive frames into one longer frame, so the file may hold fewer frames than were written:
    ``frames_saved`` is the count in the file, known after ``finish``.
    """

    def __init__(self, path: Union[str, Path], rate: Fraction) -> None:
        self.path = Path(path)
        self.rate = Fraction(rate)
        if self.rate > 50:
            log.warning("warning: GIF players show frames shorter than 20 ms (over 50 fps) slower than asked; "
                        "%g fps will play slow", float(self.rate))
        self._frames: List[np.ndarray] = []
        self.frames_saved: Optional[int] = None

    def write(self, index: int, image: np.ndarray) -> None:
        if index != len(self._frames):
            raise ValueError(f"frames must be written in order: expected {len(self._frames)}, got {index}")
        self._frames.append(image)

    def finish(self) -> None:
        save_gif(self.path, self._frames, duration_ms=gif_durations(len(self._frames), self.rate))
        self._frames = []
        with Image.open(self.path) as saved:
            self.frames_saved = saved.n_frames

    def abort(self) -> None:
        """Drop the collected frames; nothing was written yet."""
        self._frames = []
