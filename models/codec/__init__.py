"""A low-frame-rate neural speech codec: convolutional encoder, residual vector quantiser,
convolutional decoder (issue 9). Training only; the runtime is edge_audiollm/codec.py."""
