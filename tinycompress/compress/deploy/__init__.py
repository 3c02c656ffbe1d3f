"""Deployed forms of trained models: the runtime (:mod:`.runtime`, the ops a deployed file runs, plain
NumPy: dense, CSR, low-rank factors, packed bits) apart from the converters that build it
(:mod:`.convert`). ``export(model)`` deploys any model in its family's format; ``load_deployed(path)``
reads any deployed file back; a deployed model is called on an ndarray batch and has ``nbytes``.
"""
from .convert import FORMATS, Residual, export, model_format, pack, to_sparse
from .runtime import CSR, Bits, DeployedModel, load_deployed, pack_signs, unpack_signs, xnor_dot

__all__ = ["Bits", "CSR", "DeployedModel", "FORMATS", "Residual", "export", "load_deployed", "model_format", "pack",
           "pack_signs", "to_sparse", "unpack_signs", "xnor_dot"]
