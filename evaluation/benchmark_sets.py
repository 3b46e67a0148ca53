"""The evaluation sets of the IFRNet paper: where each keeps its frames, and how it is scored.

Each benchmark is a :class:`Benchmark`: a function listing its :class:`Sample` s from a dataset
root, the :class:`~evaluation.protocol.Protocol` its frames go through, and which published
weights it is meant for (Vimeo90K weights for the 2x sets, GoPro weights for the 8x sets). The
listings reproduce the authors' choices (which files, in which order, which timesteps); a missing
root, list file or frame is reported in one sentence that also shows the expected layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

from datasets.gopro import check_video_frames, video_windows
from datasets.vimeo90k import parse_triplet_list, triplet_paths
from evaluation.protocol import Protocol
from utils.errors import InputError
from utils.image_io import image_files, image_size

__all__ = [
    "Sample",
    "Benchmark",
    "BENCHMARKS",
    "get_benchmark",
    "list_samples",
    "check_samples_exist",
    "MIDDLEBURY_SEQUENCES",
    "SNU_FILM_SPLITS",
    "eight_x_windows",
]

MIDDLEBURY_SEQUENCES = (
    "Beanbags", "Dimetrodon", "DogDance", "Grove2", "Grove3", "Hydrangea",
    "MiniCooper", "RubberWhale", "Urban2", "Urban3", "Venus", "Walking",
)
SNU_FILM_SPLITS = ("easy", "medium", "hard", "extreme")
FACTOR = 8  # 8x: windows of 9 frames with stride 8; frames 0 and 8 are the inputs, 1..7 the targets


@dataclass(frozen=True)
class Sample:
    """Two input frames and the real frames between them, each with its timestep in (0, 1)."""

    name: str
    frame0: Path
    frame1: Path
    targets: Tuple[Tuple[float, Path], ...]

    @property
    def paths(self) -> Tuple[Path, ...]:
        return (self.frame0, self.frame1, *(path for _, path in self.targets))


@dataclass(frozen=True)
class Benchmark:
    """One evaluation set: its name, on-disk layout, protocol and sample listing."""

    name: str
    layout: str
    protocol: Protocol
    checkpoint_dataset: str
    lister: Callable[[Path, str, "Benchmark"], List[Sample]] = field(repr=False)
    splits: Tuple[str, ...] = ("test",)
    default_root: str = "data"

    def missing(self, what: str, path: Path) -> InputError:
        """The one-line error for a missing root, list file or frame, with the expected layout."""
        return InputError(f"{self.name} {what} not found: {path}; expected {self.layout}")


def _require_dir(benchmark: Benchmark, path: Path, what: str) -> Path:
    if not path.is_dir():
        raise benchmark.missing(what, path)
    return path


def _require_file(benchmark: Benchmark, path: Path, what: str) -> Path:
    if not path.is_file():
        raise benchmark.missing(what, path)
    return path


def _read_lines(path: Path) -> List[str]:
    try:
        return path.read_text().splitlines()
    except OSError as error:
        raise InputError(f"cannot read list file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:  # has no strerror
        raise InputError(f"cannot read list file {path}: it is not text") from None


def _middle(name: str, frame0: Path, frame1: Path, target: Path) -> Sample:
    return Sample(name, frame0, frame1, ((0.5, target),))


def _list_vimeo90k(root: Path, split: str, benchmark: Benchmark) -> List[Sample]:
    """The triplets of tri_testlist.txt in file order; the middle frame im2 is the target."""
    _require_dir(benchmark, root, "dataset root")
    list_file = _require_file(benchmark, root / "tri_testlist.txt", "list file")
    samples = []
    for name in parse_triplet_list(_read_lines(list_file)):
        frame0, target, frame1 = triplet_paths(root, name)[0]
        samples.append(_middle(name, frame0, frame1, target))
    return samples


def _subfolders(path: Path) -> List[Path]:
    return sorted(child for child in path.iterdir() if child.is_dir())


def _list_ucf101(root: Path, split: str, benchmark: Benchmark) -> List[Sample]:
    """Every sample folder, sorted by name; frame_01_gt.png is the target."""
    _require_dir(benchmark, root, "dataset root")
    folders = _subfolders(root)
    if not folders:
        raise benchmark.missing("sample folders", root / "<id>")
    return [_middle(d.name, d / "frame_00.png", d / "frame_02.png", d / "frame_01_gt.png") for d in folders]


def _strip_count(root: Path, written: str) -> int:
    """How many leading components of a list-file path to drop so it exists under ``root``.

    The published lists spell paths as ``data/SNU-FILM/test/...``; users keep that prefix under
    their root or not, so the first count (0, 1, ...) that names an existing file wins.
    """
    parts = Path(written).parts
    for count in range(len(parts)):
        if (root.joinpath(*parts[count:])).is_file():
            return count
    return -1


def _list_snu_film(root: Path, split: str, benchmark: Benchmark) -> List[Sample]:
    """The triplets of test-<split>.txt in file order (three paths a line; the middle is the target)."""
    _require_dir(benchmark, root, "dataset root")
    list_file = _require_file(benchmark, root / f"test-{split}.txt", "list file")
    triplets = []
    for number, line in enumerate(_read_lines(list_file), start=1):
        paths = line.split()
        if not paths:
            continue
        if len(paths) != 3:
            raise InputError(f"{list_file} line {number} has {len(paths)} paths; expected three (frame0 target frame1)")
        triplets.append(paths)
    if not triplets:
        raise InputError(f"{list_file} lists no triplets")
    count = _strip_count(root, triplets[0][0])
    if count < 0:
        raise benchmark.missing("frame", root / triplets[0][0])
    resolve = lambda written: root.joinpath(*Path(written).parts[count:])  # noqa: E731
    return [_middle(target, resolve(first), resolve(last), resolve(target)) for first, target, last in triplets]


def _list_middlebury(root: Path, split: str, benchmark: Benchmark) -> List[Sample]:
    """The twelve sequences with public ground truth, in the authors' order."""
    _require_dir(benchmark, root, "dataset root")
    samples = []
    for sequence in MIDDLEBURY_SEQUENCES:
        data = root / "other-data" / sequence
        gt = root / "other-gt-interp" / sequence / "frame10i11.png"
        samples.append(_middle(sequence, data / "frame10.png", data / "frame11.png", gt))
    return samples


def eight_x_windows(frames: Sequence[Path], video: str) -> List[Sample]:
    """9-frame windows with stride 8 (frames 0 and 8 in, 1..7 the targets at t = k/8).

    Trailing frames that do not fill a window are left out, as in the authors' GoPro test set.
    """
    samples = []
    for window in video_windows(list(frames), FACTOR):
        targets = tuple((k / FACTOR, window[k]) for k in range(1, FACTOR))
        name = f"{video}/{window[0].stem}-{window[-1].stem}"
        samples.append(Sample(name, window[0], window[-1], targets))
    return samples


def _list_eight_x(root: Path, split: str, benchmark: Benchmark) -> List[Sample]:
    """Every video folder under <root>/test (sorted), its image files sorted by name, cut into windows."""
    _require_dir(benchmark, root, "dataset root")
    test = _require_dir(benchmark, root / "test", "test folder")
    videos = _subfolders(test)
    if not videos:
        raise benchmark.missing("video folders", test / "<video>")
    samples = []
    for video in videos:
        frames = image_files(video)
        if frames:  # a gap in the numbering would shift every later window's targets off their times
            check_video_frames(frames)
        samples.extend(eight_x_windows(frames, video.name))
    if not samples:
        raise InputError(f"no video under {test} has the {FACTOR + 1} frames one 8x window needs")
    return samples


_EIGHT_X_LAYOUT = "<root>/test/<video>/<frame>.png, each video's frames in name order (windows of 9, stride 8)"

BENCHMARKS: Dict[str, Benchmark] = {
    bench.name: bench
    for bench in (
        Benchmark(
            name="Vimeo90K",
            layout="<root>/tri_testlist.txt and <root>/sequences/<seq>/<id>/im1.png im2.png im3.png "
            "(--data_root is the vimeo_triplet folder)",
            protocol=Protocol(),
            checkpoint_dataset="Vimeo90K",
            lister=_list_vimeo90k,
            default_root="data/vimeo_triplet",
        ),
        Benchmark(
            name="UCF101",
            layout="<root>/<id>/frame_00.png frame_01_gt.png frame_02.png",
            protocol=Protocol(),
            checkpoint_dataset="Vimeo90K",
            lister=_list_ucf101,
            default_root="data/UCF101",
        ),
        Benchmark(
            name="SNU-FILM",
            layout="<root>/test-<split>.txt (three frame paths a line, e.g. data/SNU-FILM/test/...; "
            "the data/SNU-FILM/ prefix may be kept under <root> or not) and the frames they name",
            protocol=Protocol(pad_multiple=20, scale_factor=0.8),
            checkpoint_dataset="Vimeo90K",
            lister=_list_snu_film,
            splits=SNU_FILM_SPLITS,
            default_root="data/SNU-FILM",
        ),
        Benchmark(
            name="Middlebury-Other",
            layout="<root>/other-data/<seq>/frame10.png frame11.png and "
            "<root>/other-gt-interp/<seq>/frame10i11.png for " + ", ".join(MIDDLEBURY_SEQUENCES),
            protocol=Protocol(pad_multiple=None, pad_to=(480, 640), pad_mode="zero", pad_anchor="bottom_right", with_ie=True),
            checkpoint_dataset="Vimeo90K",
            lister=_list_middlebury,
            splits=("other",),
            default_root="data/Middlebury",
        ),
        Benchmark(
            name="GoPro",
            layout=_EIGHT_X_LAYOUT,
            protocol=Protocol(center_crop=(512, 512)),
            checkpoint_dataset="GoPro",
            lister=_list_eight_x,
            default_root="data/GOPRO",
        ),
        Benchmark(
            name="Adobe240",
            layout=_EIGHT_X_LAYOUT,
            protocol=Protocol(),
            checkpoint_dataset="GoPro",
            lister=_list_eight_x,
            default_root="data/Adobe240",
        ),
    )
}


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (a key of :data:`BENCHMARKS`)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def list_samples(benchmark: Benchmark, root: Path, split: str = "test") -> List[Sample]:
    """The benchmark's samples under ``root`` in evaluation order (files are not checked here)."""
    if split not in benchmark.splits:
        raise InputError(f"{benchmark.name} has no split {split!r}; expected one of {', '.join(benchmark.splits)}")
    return benchmark.lister(Path(root), split, benchmark)


def check_samples_exist(benchmark: Benchmark, samples: Sequence[Sample]) -> None:
    """Stop before any inference, rather than hours into a run, if a frame is missing or unreadable
    (its header is opened, not its pixels) or a sample's frames differ in size."""
    for sample in samples:
        sizes = []
        for path in sample.paths:
            if not path.is_file():
                raise benchmark.missing("frame", path)
            sizes.append(image_size(path))
        if len(set(sizes)) > 1:
            shown = ", ".join(f"{path.name} {width}x{height}" for path, (height, width) in zip(sample.paths, sizes))
            raise InputError(f"{sample.name}: the frames of a sample must have one size, got {shown}")
