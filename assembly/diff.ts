// Change detection: tile diff against a mirror, scroll/move detection — to be written (see the issue 4 brief).
