"""Channel-count adaptation for 3-channel (ImageNet) backbones."""
