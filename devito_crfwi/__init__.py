"""devito-crfwi: continuous-representation full-waveform inversion on Devito."""
