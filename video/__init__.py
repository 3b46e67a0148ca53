"""Video interpolation on top of models.interpolator: reading, timing, scene cuts, streaming, writing.

- ``video.sources``: what frames are read from (video file / frame folder), the ``FrameSource`` protocol.
- ``video.sinks``: what frames are written to (video file / image folder / GIF), the ``FrameSink`` protocol; the default encoder, and whether an encoder and --crf can run here.
- ``video.passthrough``: the input's audio and subtitle tracks, tags and display matrix carried into a video output.
- ``video.output``: allowed output paths (never the input, writable), --overwrite, atomic output.
- ``video.timing``: output timestamps -> (input pair, timestep).
- ``video.pipeline``: the bounded, threaded decode -> interpolate -> encode stream (and --dedup, --loop, --montage).
- ``video.job``: a conversion's options (the tool's flags), their checks, and the part of the input it converts (--start, --duration).
- ``video.convert``: one whole conversion (what ``interpolate_video.py`` runs); ``video.run_setup``: what its one-piece and segmented runs share.
- ``video.segments`` and ``video.segmented``: a long job in segments that a rerun resumes.
"""
