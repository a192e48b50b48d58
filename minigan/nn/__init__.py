"""Layers, losses and containers. ``minigan.nn.functional`` has the function forms."""

from minigan.nn import functional, init  # noqa: F401
from minigan.nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from minigan.nn.batchnorm import BatchNorm1d
from minigan.nn.dense import Dense
from minigan.nn.dropout import Dropout
from minigan.nn.minibatch_discrimination import MinibatchDiscrimination
from minigan.nn.module import Module, Parameter, Sequential
from minigan.nn.normalization import InstanceNorm1d, LayerNorm
from minigan.nn.spectral_norm import remove_spectral_norm, spectral_norm
from minigan.nn.sync_batchnorm import SyncBatchNorm1d

__all__ = ["Module", "Parameter", "Sequential", "Dense", "BatchNorm1d", "SyncBatchNorm1d", "LeakyReLU", "ReLU", "Tanh", "Sigmoid",
           "Dropout", "LayerNorm", "InstanceNorm1d", "MinibatchDiscrimination", "spectral_norm", "remove_spectral_norm",
           "functional", "init"]
