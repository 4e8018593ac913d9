"""Secure aggregation: double-masked updates whose sum anyone can unmask, none of which alone reveals anything.

Bonawitz et al. 2017 with t-of-n recovery, the chain deciding who is in each phase (see
docs/SECURE_AGGREGATION.md):
- `fixed_point`: a sample-weighted delta as integers mod 2^64, with the bounds that keep the sum from wrapping;
- `keys`: X25519 keys, the per-round masking key and self-mask seed derived from them, pairwise seeds (HKDF);
- `shamir`: t-of-n secret sharing over GF(2^521 - 1);
- `shares`: share bundles (shares encrypted to each holder, ChaCha20-Poly1305) and reveals, as JSON files;
- `masks`: a seed expanded into a mask with ChaCha20, added or subtracted by address order;
- `masked_file`: a masked update as a safetensors file of uint64 tensors;
- `participant`: what a client computes (masked update, reveal);
- `unmask`: the sum of the survivors' masked updates minus the rebuilt masks, divided by the total samples.
"""
