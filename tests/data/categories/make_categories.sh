#!/usr/bin/env bash
# Renders the categories test fixtures ONCE; the WAVs are committed, tests never run espeak.
# Needs: apt-get update && apt-get install -y espeak-ng sox
# Output: 16 kHz, mono, 16-bit PCM WAVs next to this script; -D (no dither) makes reruns byte-identical.
# Three topics (cooking, football, a software tutorial), three clips each, different words and voices.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() {  # name voice text
    espeak-ng -v "$2" -s 150 -w "$tmp/$1.wav" "$3"
    sox -D "$tmp/$1.wav" -r 16000 -c 1 -b 16 "$1.wav" norm -3 pad 0.3 0.3
}
say cooking_1 en-us "Today we are making a simple tomato pasta. First chop the onion and the garlic. Fry them in olive oil, then add the tomatoes and a pinch of salt."
say cooking_2 en-gb "Preheat the oven to two hundred degrees. Mix the flour, butter and sugar in a bowl, then bake the cake for forty minutes."
say cooking_3 en-us+f3 "Season the chicken with pepper and lemon. Sear it in a hot pan, add the vegetables, and let the soup simmer for an hour."
say football_1 en-us "What a match tonight. The striker takes the ball past two defenders and shoots. Goal! The home team leads two to one."
say football_2 en-gb "The goalkeeper saves the penalty. The referee shows a yellow card, and the coach makes a substitution in the second half."
say football_3 en-us+f3 "The league title is decided on the last day. The midfielder passes to the winger, who crosses into the box for a header."
say tutorial_1 en-us "In this tutorial I will show you how to install the software. First open the terminal and type the command, then press enter."
say tutorial_2 en-gb "Step one: click on settings and create a new project. Step two: write the first function. Step three: run the program."
say tutorial_3 en-us+f3 "Let me explain how to use the spreadsheet app. Select the column, open the menu, and choose sort. Now save the file."
soxi -D ./*.wav
