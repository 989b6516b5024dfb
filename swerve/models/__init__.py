"""Architectures. Each file holds one family and its config dataclass."""

from swerve.models.charcnn import CharCNNConfig, CharCNNDiscriminator, CharCNNEncoder, CharCNNGenerator
from swerve.models.classifier import ClassifierConfig, DomainClassifier
from swerve.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from swerve.models.fastgan import FastGANConfig, FastGANDiscriminator, FastGANGenerator
from swerve.models.mlp import MLPConfig, MLPDiscriminator, MLPGenerator
from swerve.models.vae import ConvEncoder, EncoderConfig

__all__ = [
    "CharCNNConfig",
    "CharCNNDiscriminator",
    "CharCNNEncoder",
    "CharCNNGenerator",
    "ClassifierConfig",
    "ConvEncoder",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DomainClassifier",
    "EncoderConfig",
    "FastGANConfig",
    "FastGANDiscriminator",
    "FastGANGenerator",
    "MLPConfig",
    "MLPDiscriminator",
    "MLPGenerator",
]
