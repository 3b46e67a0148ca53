"""Video interpolation on top of models.interpolator: reading, timing, scene cuts, streaming, writing.

- ``video.sources``: what frames are read from (video file / frame folder), the ``FrameSource`` protocol.
- ``video.sinks``: what frames are written to (video file / frame folder), the ``FrameSink`` protocol.
- ``video.passthrough``: the input's audio carried into a video output.
- ``video.encoders``: the default encoder, and whether an encoder and --crf can run here.
- ``video.output``: allowed output paths (never the input, writable), --overwrite, atomic output.
- ``video.timing``: output timestamps -> (input pair, timestep).
- ``video.scene``: scene-cut detection.
- ``video.pipeline``: the bounded, threaded decode -> interpolate -> encode stream.
- ``video.convert``: one whole conversion (what ``interpolate_video.py`` runs).
"""
