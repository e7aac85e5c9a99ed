"""Pure scheduling core: stdlib, numpy and suanli.apimachinery only."""
