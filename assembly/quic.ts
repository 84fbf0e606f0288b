// SPICE QUIC image encoder (spice-wire.md §8.1) — to be written (see the issue 4 brief).
