// SPICE LZ image encoder (spice-wire.md §7) — to be written (see the issue 4 brief).
