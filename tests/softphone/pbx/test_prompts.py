"""Prompts are synthesised once (espeak-ng + sox) and stored pre-encoded for G.711."""

from __future__ import annotations

import wave
from pathlib import Path

from softphone.media.g711 import Codec
from softphone.pbx.prompts import Prompts


async def test_a_prompt_is_stored_once_in_pcm_and_in_both_g711_laws(tmp_path: Path) -> None:
    prompts = Prompts(tmp_path)
    pcm = await prompts.get("goodbye", "en")
    assert pcm is not None
    with wave.open(str(pcm)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
    ulaw = await prompts.get("goodbye", "en", Codec.PCMU)
    alaw = await prompts.get("goodbye", "nl", Codec.PCMA)
    assert ulaw is not None and ulaw.name.endswith(".pcmu.wav")
    assert alaw is not None and alaw.name.endswith(".pcma.wav")
    for path, tag in ((ulaw, 7), (alaw, 6)):  # RIFF format tags: µ-law 7, A-law 6
        assert int.from_bytes(path.read_bytes()[20:22], "little") == tag
    before = sorted(p.name for p in tmp_path.iterdir())
    assert await prompts.get("goodbye", "en", Codec.PCMU) == ulaw  # no second synthesis
    assert sorted(p.name for p in tmp_path.iterdir()) == before
