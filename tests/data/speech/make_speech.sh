#!/usr/bin/env bash
# Renders the speech test fixtures ONCE; the WAVs are committed, tests never run espeak.
# Needs: apt-get update && apt-get install -y espeak-ng sox   (espeak-ng 1.51, SoX 14.4.2)
# Output: 16 kHz, mono, 16-bit PCM WAVs next to this script. -D (no dither) makes reruns byte-identical.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Voice A: espeak-ng en-us, default pitch (~107 Hz). Voice B: en-gb, f5 variant, pitch 99 (~172 Hz).
espeak-ng -v en-us -s 160 -w "$tmp/a1.wav" "The quick brown fox jumps over the lazy dog."
espeak-ng -v en-us -s 160 -w "$tmp/a2.wav" "Please bring the camera to the studio tomorrow."
espeak-ng -v en-gb+f5 -p 99 -s 160 -w "$tmp/b1.wav" "We need more light on the actor before the next take."
# Second language: German.
espeak-ng -v de -s 130 -w "$tmp/d1.wav" "Guten Morgen. Wir brauchen mehr Licht für die nächste Aufnahme."

norm() { sox -D "$1" -r 16000 -c 1 -b 16 "$2" norm -3; }
for f in a1 a2 b1 d1; do norm "$tmp/$f.wav" "$tmp/$f.16k.wav"; done
sil() { sox -D -n -r 16000 -c 1 -b 16 "$2" trim 0 "$1"; }
sil 0.3 "$tmp/lead.wav"
sil 1.0 "$tmp/gap1.wav"
sil 2.0 "$tmp/pause.wav"

# en_two_voices.wav: A "The quick brown fox..." | 1.0 s | A "Please bring the camera..." | 2.0 s pause | B "We need more light..."
sox -D "$tmp/lead.wav" "$tmp/a1.16k.wav" "$tmp/gap1.wav" "$tmp/a2.16k.wav" "$tmp/pause.wav" "$tmp/b1.16k.wav" "$tmp/lead.wav" \
    en_two_voices.wav
# de_one_voice.wav: German, one voice.
sox -D "$tmp/lead.wav" "$tmp/d1.16k.wav" "$tmp/lead.wav" de_one_voice.wav
soxi en_two_voices.wav de_one_voice.wav | grep -E "Input File|Duration|Sample Rate|Channels"
