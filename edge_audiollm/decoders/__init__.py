"""Numpy decoders over frame posteriors: CTC (greedy, prefix beam search) and HMM
(forward, Viterbi, forced alignment, grammar decoding)."""
