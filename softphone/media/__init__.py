"""RTP media for the engine: pure asyncio, no Django, no imports from the rest of the project.

Wire formats and codecs (sans-IO): ``rtp``, ``rtcp``, ``g711``, ``dtmf``, ``tones``, ``wav``.
Sockets and timing: ``transport`` (ports, symmetric RTP, inactivity), ``relay`` (leg-to-leg
forwarding with per-leg stream rewriting), ``player``, ``recorder``.
"""
