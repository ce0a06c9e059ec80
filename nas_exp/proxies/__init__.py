"""Zero-cost proxies of a space's networks at initialisation (docs/proxies.md): ``measures`` (the proxies),
``compute`` (settings, batch, one architecture), ``cache`` (resumable build beside the table), ``report``."""
