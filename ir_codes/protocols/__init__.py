"""IR protocols, one module per family; each exports a `Codec` (see ir_codes.registry).

nec (NEC + extended + repeats), samsung (Samsung32), jvc, sony (SIRC 12/15/20), rc5, rc6 (mode 0),
sharp, aeha (AEHA and Panasonic Kaseikyo). A/C frames live in ir_codes.ac.
"""
