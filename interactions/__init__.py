"""interactions: which kinds of information (redundant, unique, synergistic) a multimodal objective keeps."""

__version__ = "0.1.0"
