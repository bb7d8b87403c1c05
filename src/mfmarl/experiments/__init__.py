"""The paper's three experiments, one package each (environment specifics, presets,
reproduction and report): :mod:`gaussian_squeeze`, :mod:`ising`, :mod:`battle`."""
