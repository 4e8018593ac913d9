"""Secure aggregation: pairwise-masked updates whose sum anyone can unmask, none of which alone reveals anything.

After Bonawitz et al. 2017, simplified by the chain (see docs/SECURE_AGGREGATION.md):
- `fixed_point`: a sample-weighted delta as integers mod 2^64, with the bounds that keep the sum from wrapping;
- `keys`: X25519 key pairs and the per-round pairwise seeds derived from them (HKDF), with their commitments;
- `masks`: a seed expanded into a mask with ChaCha20, added or subtracted by address order;
- `masked_file`: a masked update as a safetensors file of uint64 tensors;
- `reveal`: the seeds survivors reveal for dropped participants, as a JSON file checked against commitments;
- `unmask`: the sum of the survivors' masked updates minus the residual masks, divided by the total samples.
"""
